"""Render an item into a post for one platform and language, within that platform's limits.

Templates live in ``TEMPLATES_DIR/<language>/<kind>.j2``, with an optional platform variant
``<kind>.<platform>.j2`` where the text must differ. A post that is too long gets its description
shortened at a word boundary with an ellipsis; the name, the links and the hashtags are never cut.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta, nodes

from bot.dataset import Item
from bot.errors import RenderError, TemplateError
from bot.post import (
    DEFAULT_LIMITS,
    PLATFORMS,
    LinkCard,
    Platform,
    PlatformLimits,
    RenderedPost,
)
from bot.rendering import localized
from bot.rendering import text as rt
from bot.rendering.length import size
from bot.rendering.typography import apply as typography

KINDS = ("initiative", "petition")
ELLIPSIS = "…"


class TemplateSet:
    """The Jinja2 templates of one folder, loaded with ``StrictUndefined``."""

    def __init__(self, folder: Path, cache_dir: Path | None = None) -> None:
        self.folder = folder
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(folder)),
            bytecode_cache=_bytecode_cache(cache_dir),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # noqa: S701 -- plain text, not HTML: the platforms escape it
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,
        )
        self._chosen: dict[tuple[str, str, str], jinja2.Template] = {}

    def languages(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir() if p.is_dir() and len(p.name) == 2)

    def get(self, language: str, kind: str, platform: str) -> jinja2.Template:
        """The template for a post (the platform variant if there is one); looked up once."""
        key = (language, kind, platform)
        if key not in self._chosen:
            self._chosen[key] = self._find(language, kind, platform)
        return self._chosen[key]

    def _find(self, language: str, kind: str, platform: str) -> jinja2.Template:
        names = [f"{language}/{kind}.{platform}.j2", f"{language}/{kind}.j2"]
        for name in names:
            try:
                return self.env.get_template(name)
            except jinja2.TemplateNotFound:
                continue
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateError(
                    f"{self.folder / (exc.name or name)}, line {exc.lineno}: {exc.message}"
                ) from None
            except UnicodeDecodeError as exc:
                raise TemplateError(
                    f"{self.folder / name}: not UTF-8 text (byte {exc.start})"
                ) from None
        raise TemplateError(
            f"no template for language {language!r}, kind {kind!r}: create {self.folder / names[1]}"
        )

    def check_all(self, languages: list[str]) -> None:
        """Compile every template the given languages need and render each with a sample
        context (every optional value present, then every one absent), so a misspelt variable
        or attribute is refused at start, not when some item happens to need that branch."""
        for language in languages:
            for kind in KINDS:
                for platform in PLATFORMS:
                    template = self.get(language, kind, platform)
                    for context in _sample_contexts(language, kind, platform):
                        try:
                            template.render(context)
                        except Exception as exc:  # any failure here is the template's
                            line = _error_line(exc)
                            where = f"{template.filename}{f', line {line}' if line else ''}"
                            message = getattr(exc, "message", None) or str(exc)
                            raise TemplateError(f"{where}: {message}") from None


def _sample_contexts(language: str, kind: str, platform: str) -> list[dict[str, Any]]:
    full = {
        "item_id": "sample",
        "kind": kind,
        "platform": platform,
        "language": language,
        "name": "Sample",
        "aliases": ["Other name"],
        "country": "Country",
        "url": "https://example.org/a",
        "urls": ["https://example.org/a", "https://example.org/b"],
        "departure": {"date": "1 January 2025", "platforms": "Mastodon, Bluesky", "past": True},
        "description": "Sample text.",
        "hashtags": ["#Sample"],
    }
    bare = {
        **full,
        "aliases": [],
        "country": None,
        "urls": ["https://example.org/a"],
        "departure": None,
        "description": None,
        "hashtags": [],
    }
    return [full, bare]


def _error_line(exc: BaseException) -> int | None:
    """The template line of a render-time error, from the traceback Jinja2 rewrites."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(".j2"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _bytecode_cache(folder: Path | None) -> jinja2.BytecodeCache | None:
    """Compiled templates kept between runs (keyed by the source's checksum, so an edited
    template is recompiled): saves compiling every template on every start."""
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only home: compile every time
    return jinja2.FileSystemBytecodeCache(str(folder))


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
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_CUT_PUNCTUATION = ",;:—–-(«\"'“„ "


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
        if item.description and language not in item.description:
            raise RenderError(f"item {item.id!r} has no {language!r} text")
        template = self.templates.get(language, item.kind, platform)
        description = item.description.get(language)
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

        def attempt(desc: str | None) -> list[rt.Segment]:
            return self._finish(template, item, context, desc, language, platform)

        segments = attempt(description)
        length, fits = size(limits, segments)
        truncated = False
        if not fits and description:
            truncated = True
            segments = _shorten(attempt, description, limits, length)
            length, fits = size(limits, segments)
        if not fits:
            raise RenderError(
                f"item {item.id!r} ({language}, {platform}) is {length} characters"
                f" long without its description; the limit is {limits.max_graphemes}"
            )
        text = rt.join(segments)
        card = LinkCard(
            urls[0] or "",
            item.name_in(language),
            description or "",
            thumb=item.image.file if item.image else None,
        )
        return RenderedPost(
            item_id=item.id,
            kind=item.kind,
            platform=platform,
            language=language,
            text=text,
            facets=tuple(rt.facets(segments)),
            length=length,
            limit=limits.max_graphemes,
            truncated=truncated,
            card=card if platform == "bluesky" else None,
            template=str(template.filename or template.name),
        )

    def _finish(
        self,
        template: jinja2.Template,
        item: Item,
        context: dict[str, Any],
        description: str | None,
        language: str,
        platform: Platform,
    ) -> list[rt.Segment]:
        # Both platforms of one item usually render the same template text: reuse it.
        departure = context["departure"]
        key = (
            template.name,
            language,
            description,
            item.id,
            context["kind"],
            context["name"],
            tuple(context["aliases"]),
            context["country"],
            tuple(context["urls"]),
            tuple(item.hashtags),
            tuple(sorted(departure.items())) if departure else None,
        )
        shared = self._shared.get(key) if self._platform_free(template) else None
        if shared is None:
            shared = self._text_segments(template, item, context, description, language)
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
        shown = " ".join(filter(None, [context["name"], description]))
        present = {seg.target.casefold() for seg in rt.segment(shown) if seg.kind == "tag"}
        hashtags = [f"#{tag}" for tag in item.hashtags if tag.casefold() not in present]
        try:
            raw = template.render(context, description=description, hashtags=hashtags)
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"{template.filename}: item {item.id!r}: {exc.message}") from None
        except Exception as exc:  # a template can raise anything (format, math)
            line = _error_line(exc)
            where = f"{template.filename}{f', line {line}' if line else ''}"
            raise TemplateError(f"{where}: item {item.id!r}: {exc}") from None
        raw = _BLANK_LINES.sub("\n\n", _TRAILING_SPACE.sub("", raw)).strip()
        return [
            rt.Segment("text", typography(language, s.text)) if s.kind == "text" else s
            for s in rt.segment(raw)
        ]


def _shorten(
    attempt: Callable[[str | None], list[rt.Segment]],
    description: str,
    limits: PlatformLimits,
    full_length: int,
) -> list[rt.Segment]:
    """The post with the most words of ``description`` (cut at a word, with an ellipsis) that
    still fits. The cut is first estimated from how far the full post is over the limit and
    checked with one render each side; a binary search handles what the estimate misses."""
    words = description.split(" ")

    def cut(count: int) -> list[rt.Segment]:
        kept = " ".join(words[:count]).rstrip(_CUT_PUNCTUATION)
        # After a link the ellipsis gets a space of its own, or it would extend the URL.
        gap = " " if rt.URL.search(kept.rsplit(" ", 1)[-1]) else ""
        return attempt(kept + gap + ELLIPSIS)

    def search(low: int, high: int, best: list[rt.Segment]) -> list[rt.Segment]:
        while low <= high:
            middle = (low + high) // 2
            segments = cut(middle)
            if size(limits, segments)[1]:
                best, low = segments, middle + 1
            else:
                high = middle - 1
        return best

    over = full_length - limits.max_graphemes + 1  # +1 for the ellipsis
    count, removed = len(words), 0
    while count > 1 and removed < over:
        count -= 1
        removed += rt.graphemes(words[count]) + 1
    guess = cut(count)
    if not size(limits, guess)[1]:
        return search(1, count - 1, attempt(None))
    if count + 1 >= len(words):
        return guess
    longer = cut(count + 1)
    if not size(limits, longer)[1]:
        return guess
    return search(count + 2, len(words) - 1, longer)
