"""Matching: the pages' entries across languages, and the site's items with the dataset's, by
their link (the first of ``urls``; scheme and host case and a trailing ``/`` do not matter)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.dataset import Item
from bot.errors import ImportSiteError, Problem
from bot.importer.pages import Kind, Page, url_key


@dataclass
class SiteItem:
    """One initiative or petition of the site, merged across the languages' pages."""

    kind: Kind
    urls: list[str]
    names: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    country: str | None = None
    where: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.urls[0]

    @property
    def first_seen(self) -> str:
        return next(iter(self.where.values()))


def collect(pages: Sequence[Page]) -> list[SiteItem]:
    """The site's items, matched across pages by link, in page order (an entry missing from an
    earlier page is placed after its predecessor on the page that lists it)."""
    problems: list[Problem] = []
    items: dict[str, SiteItem] = {}
    order: list[str] = []
    for page in pages:
        previous: str | None = None
        for entry in page.entries:
            key = url_key(entry.urls[0])
            where = page.where(entry)
            item = items.get(key)
            if item is None:
                item = items[key] = SiteItem(entry.kind, list(entry.urls), country=entry.country)
                order.insert(order.index(previous) + 1 if previous is not None else 0, key)
            else:
                if item.kind != entry.kind:
                    problems.append(
                        Problem(
                            where,
                            f"listed as a {entry.kind} here but as a {item.kind} at"
                            f" {item.first_seen}",
                        )
                    )
                if entry.country and item.country and entry.country != item.country:
                    problems.append(
                        Problem(
                            where,
                            f"country {entry.country!r} here but {item.country!r} at"
                            f" {item.first_seen}",
                        )
                    )
                item.country = item.country or entry.country
                known = {url_key(u) for u in item.urls}
                item.urls += [u for u in entry.urls if url_key(u) not in known]
            item.names[page.language] = entry.name
            if entry.text:
                item.texts[page.language] = entry.text
            item.where[page.language] = where
            previous = key
    if problems:
        raise ImportSiteError(problems)
    return [items[key] for key in order]


def match(
    site: Sequence[SiteItem], items: Sequence[Item]
) -> tuple[dict[str, SiteItem], list[SiteItem]]:
    """The site's items that are in the dataset (by item id), and the new ones."""
    by_key: dict[str, list[Item]] = {}
    for item in items:
        by_key.setdefault(url_key(item.url), []).append(item)
    problems: list[Problem] = []
    matched: dict[str, SiteItem] = {}
    new: list[SiteItem] = []
    for site_item in site:
        candidates = by_key.get(url_key(site_item.url), [])
        if len(candidates) > 1:
            ids = ", ".join(repr(item.id) for item in candidates)
            problems.append(
                Problem(
                    site_item.first_seen,
                    f"the data items {ids} share the link {site_item.url}: cannot tell which"
                    " one this entry is; give each item its own first link",
                )
            )
        elif candidates:
            matched[candidates[0].id] = site_item
        else:
            new.append(site_item)
    if problems:
        raise ImportSiteError(problems)
    return matched, new
