"""Render an item into a post for one platform and language, within that platform's limits.

The templates come from a :class:`~bot.rendering.templates.TemplateSet`; a post that is too long
gets its description shortened at a word boundary with an ellipsis
(:func:`~bot.rendering.shorten.shorten`); the name, the links and the hashtags are never cut.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta, nodes

from bot.cards import picture_for
from bot.dataset import Item
from bot.errors import RenderError, TemplateError
from bot.post import DEFAULT_LIMITS, LinkCard, Platform, PlatformLimits, RenderedPost
from bot.rendering import bluesky_text, localized
from bot.rendering import text as rt
from bot.rendering.length import excess, size
from bot.rendering.links import link_problem
from bot.rendering.shorten import shorten
from bot.rendering.templates import KINDS, TemplateSet, error_line
from bot.rendering.typography import apply as typography

__all__ = ["KINDS", "Renderer", "TemplateSet"]


@lru_cache(maxsize=4096)
def country_name(territory: str | None, language: str) -> str | None:
    if territory is None:
        return None
    return localized.country_name(territory, language)


def _departure(item: Item, language: str, today: dt.date) -> dict[str, Any] | None:
    if item.departure is None:
        return None
    date, platforms = _departure_words(
        item.departure.date, tuple(item.departure.platforms), language
    )
    return {"date": date, "platforms": platforms, "past": item.departure.date <= today}


@lru_cache(maxsize=1024)
def _departure_words(date: dt.date, platforms: tuple[str, ...], language: str) -> tuple[str, str]:
    """The localized long date and list of platforms."""
    names = {"mastodon": "Mastodon", "bluesky": "Bluesky"}
    return (
        localized.long_date(date, language),
        localized.word_list(tuple(names[p] for p in platforms), language),
    )


_BLANK_LINES = re.compile(r"\n{3,}")
_FIRST_WORD = re.compile(r"[^\W\d_]+(?=[\s,;!?]|:(?!//)|$)")


def _capitalized(description: str | None) -> str | None:
    """The description with a lower-case first word upper-cased ("bye bye Elon" → "Bye bye
    Elon"); a first word with capitals, digits or a dot ("eBay", "leavex.eu") stays."""
    if not description:
        return description
    word = _FIRST_WORD.match(description)
    if word is None or not word.group().islower() or len(word.group()[0].title()) != 1:
        return description
    return description[0].title() + description[1:]


_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)


def tidy(raw: str) -> str:
    """A template's output without trailing spaces on its lines, without more than one blank
    line in a row, stripped (each rule runs only on text it can change)."""
    if " \n" in raw or "\t\n" in raw or raw.endswith((" ", "\t")):
        raw = _TRAILING_SPACE.sub("", raw)
    if "\n\n\n" in raw:
        raw = _BLANK_LINES.sub("\n\n", raw)
    return raw.strip()


class Renderer:
    """Turns an item into a :class:`RenderedPost` for a platform and language."""

    def __init__(
        self,
        templates: TemplateSet,
        *,
        site_base_url: str | None = None,
        today: dt.date | None = None,
    ) -> None:
        self.templates = templates
        self.site_base_url = site_base_url.rstrip("/") if site_base_url else None
        self.today = today
        self._free: dict[str, bool] = {}
        self._shared: dict[tuple[Any, ...], list[rt.Segment]] = {}

    def absolute(self, url: str) -> str | None:
        """``url`` with a site-relative path resolved; ``None`` if that needs SITE_BASE_URL."""
        if not url.startswith("/"):
            return url
        return f"{self.site_base_url}{url}" if self.site_base_url else None

    def unresolved_links(self, item: Item) -> list[str]:
        return [url for url in item.urls if self.absolute(url) is None]

    def render(
        self,
        item: Item,
        language: str,
        platform: Platform,
        limits: PlatformLimits | None = None,
    ) -> RenderedPost:
        limits = limits or DEFAULT_LIMITS[platform]
        today = self.today or dt.datetime.now(dt.UTC).date()
        urls = [self.absolute(url) for url in item.urls]
        if None in urls:
            raise RenderError(
                f"item {item.id!r}: the site-relative link {item.urls[urls.index(None)]!r}"
                " needs SITE_BASE_URL"
            )
        for index, url in enumerate(urls):
            problem = link_problem(url)
            if problem:
                raise RenderError(
                    f"item {item.id!r}, field 'urls.{index}': {url!r} would not be one whole"
                    f" link: {problem}"
                )
        if item.description and language not in item.description:
            raise RenderError(f"item {item.id!r} has no {language!r} text")
        template = self.templates.get(language, item.kind, platform)
        description = _capitalized(item.description.get(language))
        context: dict[str, Any] = {
            "item_id": item.id,
            "kind": item.kind,
            "platform": platform,
            "language": language,
            "name": item.name_in(language),
            "aliases": item.aliases,
            "country": country_name(item.territory, language),
            "url": urls[0],
            "urls": urls,
            "departure": _departure(item, language, today),
        }

        departure = context["departure"]
        same = (  # what the template's text depends on, but the description
            template.name,
            language,
            item.id,
            context["kind"],
            context["name"],
            tuple(context["aliases"]),
            context["country"],
            tuple(context["urls"]),
            tuple(item.hashtags),
            tuple(sorted(departure.items())) if departure else None,
        )

        def attempt(desc: str | None) -> list[rt.Segment]:
            return self._finish(template, item, context, desc, platform, same)

        segments = attempt(description)
        if not segments:
            raise RenderError(
                f"item {item.id!r} ({language}, {platform}): {template.filename or template.name}"
                " writes nothing for it (an empty post)"
            )
        length, fits = size(limits, segments)
        truncated = False
        if not fits and description:
            truncated = True
            segments = shorten(attempt, description, language, limits)
            length, fits = size(limits, segments)
        text = rt.join(segments)
        if not fits:
            why = excess(limits, text, length)
            raise RenderError(
                f"item {item.id!r} ({language}, {platform}) does not fit even without its"
                f" description (its name, links and hashtags are never cut): {why}"
            )
        picture = picture_for(item, language, today, urls[0])
        card = LinkCard(
            urls[0] or "",
            item.name_in(language),
            description or "",
            thumb=picture.file if picture else None,
            thumb_alt=picture.alt if picture else None,
        )
        return RenderedPost(
            item_id=item.id,
            kind=item.kind,
            platform=platform,
            language=language,
            text=text,
            facets=tuple(rt.facets(segments, platform)),
            length=length,
            limit=limits.max_graphemes,
            truncated=truncated,
            card=card if platform == "bluesky" else None,
            template=str(template.filename or template.name),
            picture=picture,
        )

    def _finish(
        self,
        template: jinja2.Template,
        item: Item,
        context: dict[str, Any],
        description: str | None,
        platform: Platform,
        same: tuple[Any, ...],
    ) -> list[rt.Segment]:
        # Both platforms of one item usually render the same template text: reuse it.
        key = (*same, description)
        shared = self._shared.get(key) if self._platform_free(template) else None
        if shared is None:
            shared = self._text_segments(template, item, context, description, context["language"])
            if len(self._shared) > 64:
                self._shared.clear()
            self._shared[key] = shared
        if platform == "bluesky":
            return list(rt.shorten_links(shared))
        return shared

    def _platform_free(self, template: jinja2.Template) -> bool:
        """Whether the template's text cannot depend on the platform (it never reads
        ``platform`` and includes nothing)."""
        name = str(template.name)
        if name not in self._free:
            env = template.environment
            assert env.loader is not None
            tree = env.parse(env.loader.get_source(env, name)[0])
            composed = any(
                tree.find_all((nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport))
            )
            self._free[name] = not composed and "platform" not in meta.find_undeclared_variables(
                tree
            )
        return self._free[name]

    def _text_segments(
        self,
        template: jinja2.Template,
        item: Item,
        context: dict[str, Any],
        description: str | None,
        language: str,
    ) -> list[rt.Segment]:
        shown = typography(language, " ".join(filter(None, [context["name"], description])))
        present = {tag.value.casefold() for tag in bluesky_text.tags(shown)}
        hashtags = [f"#{tag}" for tag in item.hashtags if tag.casefold() not in present]
        try:
            raw = template.render(context, description=description, hashtags=hashtags)
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"{template.filename}: item {item.id!r}: {exc.message}") from None
        except Exception as exc:  # a template can raise anything (format, math)
            line = error_line(exc)
            where = f"{template.filename}{f', line {line}' if line else ''}"
            raise TemplateError(f"{where}: item {item.id!r}: {exc}") from None
        segments = rt.segment(tidy(raw))
        for index, seg in enumerate(segments):
            if seg.kind == "text" and (typeset := typography(language, seg.text)) != seg.text:
                segments[index] = rt.Segment("text", typeset)
        return segments
