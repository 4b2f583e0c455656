"""What the import does to each item: the fields it manages, flattened per language
(``description.fr``), before and after, and the ids of new items.

From the site come ``kind`` (the section), ``name`` and ``names`` (the link text per language;
``name`` is kept while some page still uses it), ``urls`` (a petition's links; an initiative's
link, followed by any further links the operator added), ``country`` (when a page gives one)
and ``description`` per language. Everything else stays as the operator wrote it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bot.dataset import ID_PATTERN, Item
from bot.importer.matching import SiteItem
from bot.importer.pages import url_key

Value = str | bool | tuple[str, ...]
Flat = dict[str, Value]
Action = Literal["added", "updated", "deactivated", "unchanged", "untouched"]

#: The order of an item's fields in the data files (data/README.md); new keys are put in place.
FIELD_ORDER = (
    "kind",
    "name",
    "names",
    "aliases",
    "urls",
    "country",
    "hashtags",
    "starts",
    "ends",
    "active",
    "departure",
    "image",
    "source",
    "description",
)
#: New ids are cut at a word boundary to this length (ids are shown in tables and histories).
SLUG_LENGTH = 32


@dataclass(frozen=True)
class FieldChange:
    """One field of an item (``description.fr``, ``names.de``, ``urls`` …), before and after."""

    field: str
    old: Value | None
    new: Value | None


@dataclass
class ItemChange:
    """What the import does to one item; ``expected`` is what the item must load as after."""

    item_id: str
    path: Path
    kind: str
    action: Action
    changes: list[FieldChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    expected: Flat | None = None


def flat(item: Item) -> Flat:
    """The fields the import manages, flattened per language (``description.fr``)."""
    result: Flat = {"kind": item.kind, "name": item.name}
    result.update({f"names.{lang}": name for lang, name in sorted(item.names.items())})
    result["urls"] = tuple(item.urls)
    if item.country is not None:
        result["country"] = item.country
    if not item.active:
        result["active"] = False
    if item.source is not None:
        result["source"] = item.source
    result.update({f"description.{lang}": t for lang, t in sorted(item.description.items())})
    return result


def field_changes(old: Flat, new: Flat) -> list[FieldChange]:
    """The fields that differ, in the data files' order."""
    keys = list(old) + [k for k in new if k not in old]
    keys.sort(key=lambda k: FIELD_ORDER.index(k.split(".")[0]))
    return [FieldChange(k, old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k)]


def updated(item: Item, site: SiteItem, path: Path, imported: Sequence[str]) -> ItemChange:
    """The change to an item that is on the site."""
    if item.source == "manual":
        note = f'on the site ({site.first_seen}) but source = "manual": left as it is'
        return ItemChange(item.id, path, item.kind, "untouched", notes=[note])
    old = flat(item)
    name, names = merged_names(item.name, item.names, site.names)
    urls = list(site.urls)
    if site.kind == "initiative":
        known = {url_key(u) for u in urls}
        urls += [u for u in item.urls[1:] if url_key(u) not in known]
    new: Flat = {"kind": site.kind, "name": name}
    new.update({f"names.{lang}": n for lang, n in sorted(names.items())})
    new["urls"] = tuple(urls)
    country = site.country or item.country
    if country is not None:
        new["country"] = country
    if not item.active:
        new["active"] = False
    new["source"] = "site"
    texts = {**item.description, **site.texts}
    new.update({f"description.{lang}": t for lang, t in sorted(texts.items())})
    changes = field_changes(old, new)
    change = ItemChange(
        item.id, path, site.kind, "updated" if changes else "unchanged", changes, expected=new
    )
    if not item.active:
        change.notes.append("on the site again but inactive: set active = true to post it again")
    for language in imported:
        if language in item.description and language not in site.texts:
            listed = "gives no text" if language in site.names else "does not list it"
            change.notes.append(f"the {language} page {listed}: its {language} text is kept")
    return change


def vanished(item: Item, path: Path, imported: Sequence[str], missing: Sequence[str]) -> ItemChange:
    """The change to an item that is on none of the pages: a site item is deactivated, unless
    the pages of some of its languages (``missing``) were not imported."""
    if item.source != "site":
        return ItemChange(item.id, path, item.kind, "untouched")
    if not item.active:
        return ItemChange(item.id, path, item.kind, "unchanged")
    where = f"not on the {', '.join(imported)} page{'s' if len(imported) > 1 else ''}"
    if missing:
        pages = ", ".join(missing)
        note = f"{where}; left active because the {pages} page was not imported"
        return ItemChange(item.id, path, item.kind, "unchanged", notes=[note])
    expected = {**flat(item), "active": False}
    return ItemChange(
        item.id,
        path,
        item.kind,
        "deactivated",
        [FieldChange("active", True, False)],
        [f"vanished from the site ({where}): marked inactive, kept for its history"],
        expected,
    )


def added(site: SiteItem) -> Flat:
    """The fields of a new item."""
    name, names = merged_names("", {}, site.names)
    result: Flat = {"kind": site.kind, "name": name}
    result.update({f"names.{lang}": n for lang, n in names.items()})
    result["urls"] = tuple(site.urls)
    if site.country is not None:
        result["country"] = site.country
    result["source"] = "site"
    result.update({f"description.{lang}": t for lang, t in sorted(site.texts.items())})
    return result


def merged_names(
    name: str, names: Mapping[str, str], site: Mapping[str, str]
) -> tuple[str, dict[str, str]]:
    """The item's ``name`` and per-language ``names`` after the pages' link texts.

    ``name`` stays while some page still uses it; otherwise it becomes the most used link text
    (ties: the English one, then the first language's). ``names`` holds the languages that
    differ from it; overrides for languages not imported are kept.
    """
    if all(names.get(lang, name) == text for lang, text in site.items()):
        return name, dict(names)
    canonical = name if name in site.values() else _canonical(site)
    merged = {lang: text for lang, text in names.items() if lang not in site}
    merged.update(site)
    return canonical, {lang: t for lang, t in sorted(merged.items()) if t != canonical}


def _canonical(site: Mapping[str, str]) -> str:
    counts = Counter(site.values())
    best = max(counts.values())
    if counts.get(site.get("en", ""), 0) == best:
        return site["en"]
    return next(site[lang] for lang in sorted(site) if counts[site[lang]] == best)


def slug(text: str) -> str:
    """An id made of ``text`` (python-slugify): transliterated to ASCII lower-case letters and
    digits, other runs become ``-``, cut at a word boundary to :data:`SLUG_LENGTH` (keeping
    the words' order: without ``save_order`` a short later word would fill the gap)."""
    from slugify import slugify

    return slugify(text, max_length=SLUG_LENGTH, word_boundary=True, save_order=True)


def new_id(site: SiteItem, taken: set[str]) -> str:
    """An id for a new item, from its (English) name, else its link; not one of ``taken``."""
    name = site.names.get("en") or next(iter(site.names.values()))
    base = slug(name) or slug(re.sub(r"^https?://(www\.)?", "", site.url)) or "item"
    candidate, number = base, 2
    while candidate in taken or not re.fullmatch(ID_PATTERN, candidate):
        candidate = f"{base[:60].rstrip('-')}-{number}"
        number += 1
    return candidate
