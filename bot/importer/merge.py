"""Merging the website's entries into the dataset: the change per item and language, and the
rewritten data files.

Rules (documented for operators in ``data/README.md``):

* Entries of the pages are matched across languages, and with the dataset, by their link (the
  first of ``urls``; scheme and host case and a trailing ``/`` do not matter). A matched item
  keeps its id, file and position, and everything the site does not say: hashtags, aliases,
  dates, departure, image, comments, and texts in languages whose page does not give one.
* From the site come: ``kind`` (the section), ``name`` and ``names`` (the link text per
  language; ``name`` is kept while some page still uses it), ``urls`` (a petition's links; an
  initiative's link, followed by any further links the operator added), ``country`` (when a
  page gives one) and ``description`` per language.
* ``source = "site"`` marks the items the site owns. An item without a source is adopted once
  its link is on the site; ``source = "manual"`` items are never changed.
* A ``source = "site"`` item on none of the pages has vanished: it is reported and marked
  ``active = false`` (never deleted, so history keeps its meaning), but only if the pages of all
  languages the site's items have texts in were imported; otherwise it is only reported.
* New items get an id made from their name and go to the end of ``initiatives.toml`` or
  ``petitions.toml`` (configurable), in the order of the pages.

Untouched items keep their exact text: the files are edited with tomlkit, so a git diff shows
only what changed.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import tomlkit
from tomlkit.items import AoT, InlineTable, Table
from tomlkit.toml_document import TOMLDocument

from bot.dataset import ID_PATTERN, Item, load_dataset
from bot.errors import BotError, DatasetError, ImportSiteError, Problem
from bot.importer.pages import Kind, Page, url_key

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
HEADERS = {
    "initiative": (
        "Initiatives of the LeaveX network, imported from the website's network page with\n"
        "`leavex-bot import-site`. The format is described in README.md in this folder."
    ),
    "petition": (
        "Petitions of the LeaveX network, imported from the website's network page with\n"
        "`leavex-bot import-site`. The format is described in README.md in this folder."
    ),
}


class ImportBugError(BotError):
    """The rewritten files would not hold what the import computed (a bug; nothing written)."""


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


# -- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    """One field of an item (``description.fr``, ``names.de``, ``urls`` …), before and after."""

    field: str
    old: Value | None
    new: Value | None


@dataclass
class ItemChange:
    """What the import does to one item."""

    item_id: str
    path: Path
    kind: str
    action: Action
    changes: list[FieldChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    expected: Flat | None = None


@dataclass
class Plan:
    """Every item's change and the new text of every data file that changes."""

    data_dir: Path
    items: list[ItemChange]
    contents: dict[Path, str]
    languages: tuple[str, ...]

    def count(self, action: Action) -> int:
        return sum(1 for i in self.items if i.action == action)

    @property
    def changed(self) -> bool:
        return bool(self.contents)

    def summary(self) -> str:
        parts = [
            f"{self.count('added')} added",
            f"{self.count('updated')} changed",
            f"{self.count('deactivated')} deactivated",
            f"{self.count('unchanged')} unchanged",
        ]
        if self.count("untouched"):
            parts.append(f"{self.count('untouched')} not from the site (left as they are)")
        return ", ".join(parts)

    def render(self) -> str:
        """The change as a readable diff: per item, each field and language before and after."""
        blocks = [_render_item(change, self.data_dir) for change in self.items]
        return "\n".join(b for b in blocks if b)

    def write(self) -> list[Path]:
        """Write the changed files (each replaced atomically); return their paths."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for path, text in self.contents.items():
            temporary = path.with_name(f".{path.name}.import-site.tmp")
            temporary.write_text(text, encoding="utf-8", newline="")
            os.replace(temporary, path)
        return list(self.contents)


class _DataFile:
    """A data file; parsed with tomlkit (slow on large files) only once it is to be edited."""

    def __init__(self, path: Path, text: str, document: TOMLDocument | None = None) -> None:
        self.path = path
        self.text = text
        self._document = document

    @property
    def document(self) -> TOMLDocument:
        if self._document is None:
            self._document = tomlkit.parse(self.text)
        return self._document

    @property
    def touched(self) -> bool:
        return self._document is not None


def plan_import(
    pages: Sequence[Page],
    data_dir: Path,
    targets: Mapping[str, str] | None = None,
) -> Plan:
    """Compute the import of ``pages`` into ``data_dir`` (nothing is written)."""
    targets = {"initiative": "initiatives.toml", "petition": "petitions.toml", **(targets or {})}
    site = collect(pages)
    imported = tuple(page.language for page in pages)
    files, current = _read_data(data_dir)
    matched, new = _match(site, current)
    site_languages = {
        language
        for item, _ in current
        if item.source == "site"
        for language in (*item.description, *item.names)
    }
    missing = sorted(site_languages - set(imported))
    changes: list[ItemChange] = []
    for item, data_file in current:
        found = matched.get(item.id)
        if found is not None:
            change = _update(item, found, data_file.path, imported)
        else:
            change = _vanished(item, data_file.path, imported, missing)
        if change.changes:
            _apply(_table(data_file.document, item.id), change.changes)
        changes.append(change)
    taken = {item.id for item, _ in current}
    for site_item in new:
        path = data_dir / targets[site_item.kind]
        if path not in files:
            files[path] = _new_file(path, site_item.kind)
        changes.append(_add(site_item, files[path], taken))
    contents: dict[Path, str] = {}
    for path, data_file in files.items():
        if not data_file.touched:
            continue  # nothing changed in it: never parsed, never rewritten
        text = tomlkit.dumps(data_file.document)
        if text != data_file.text:
            contents[path] = text
    plan = Plan(data_dir, changes, contents, imported)
    _verify(plan)
    return plan


def _match(
    site: Sequence[SiteItem], current: Sequence[tuple[Item, _DataFile]]
) -> tuple[dict[str, SiteItem], list[SiteItem]]:
    """The site's items that are in the dataset (by item id), and the new ones."""
    by_key: dict[str, list[Item]] = {}
    for item, _ in current:
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


def _add(site_item: SiteItem, data_file: _DataFile, taken: set[str]) -> ItemChange:
    """Append a new item to ``data_file``; its id is made from its name."""
    item_id = _new_id(site_item, taken)
    taken.add(item_id)
    flat = _new_flat(site_item)
    data_file.document.add(item_id, _new_table(flat))
    return ItemChange(
        item_id,
        data_file.path,
        site_item.kind,
        "added",
        [FieldChange(key, None, value) for key, value in flat.items()],
        [f"from {', '.join(map(_short, site_item.where.values()))}"],
        expected=flat,
    )


def _read_data(data_dir: Path) -> tuple[dict[Path, _DataFile], list[tuple[Item, _DataFile]]]:
    """The data files (as tomlkit documents) and the validated items with their file."""
    if not data_dir.is_dir() or not any(data_dir.glob("*.toml")):
        return {}, []
    dataset = load_dataset(data_dir)  # an invalid dataset is reported as it is (exit code 2)
    files: dict[Path, _DataFile] = {}
    for path in sorted(data_dir.glob("*.toml")):
        text = path.read_text(encoding="utf-8")
        files[path] = _DataFile(path, text)
    return files, [(item, files[dataset.sources[item.id]]) for item in dataset]


def _new_file(path: Path, kind: str) -> _DataFile:
    document = tomlkit.document()
    for line in HEADERS[kind].splitlines():
        document.add(tomlkit.comment(line))
    return _DataFile(path, "", document)


# -- per item -----------------------------------------------------------------------------------


def _flat(item: Item) -> Flat:
    """The fields the import manages, flattened per language (``description.fr``)."""
    flat: Flat = {"kind": item.kind, "name": item.name}
    flat.update({f"names.{lang}": name for lang, name in sorted(item.names.items())})
    flat["urls"] = tuple(item.urls)
    if item.country is not None:
        flat["country"] = item.country
    if not item.active:
        flat["active"] = False
    if item.source is not None:
        flat["source"] = item.source
    flat.update({f"description.{lang}": t for lang, t in sorted(item.description.items())})
    return flat


def _diff(old: Flat, new: Flat) -> list[FieldChange]:
    keys = list(old) + [k for k in new if k not in old]
    keys.sort(key=lambda k: FIELD_ORDER.index(k.split(".")[0]))
    return [FieldChange(k, old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k)]


def _update(item: Item, site: SiteItem, path: Path, imported: Sequence[str]) -> ItemChange:
    if item.source == "manual":
        note = f'on the site ({site.first_seen}) but source = "manual": left as it is'
        return ItemChange(item.id, path, item.kind, "untouched", notes=[note])
    old = _flat(item)
    name, names = _names(item.name, item.names, site.names)
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
    changes = _diff(old, new)
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


def _vanished(
    item: Item, path: Path, imported: Sequence[str], missing: Sequence[str]
) -> ItemChange:
    if item.source != "site":
        return ItemChange(item.id, path, item.kind, "untouched")
    if not item.active:
        return ItemChange(item.id, path, item.kind, "unchanged")
    where = f"not on the {', '.join(imported)} page{'s' if len(imported) > 1 else ''}"
    if missing:
        pages = ", ".join(missing)
        note = f"{where}; left active because the {pages} page was not imported"
        return ItemChange(item.id, path, item.kind, "unchanged", notes=[note])
    expected = {**_flat(item), "active": False}
    return ItemChange(
        item.id,
        path,
        item.kind,
        "deactivated",
        [FieldChange("active", True, False)],
        [f"vanished from the site ({where}): marked inactive, kept for its history"],
        expected,
    )


def _names(
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


def _new_flat(site: SiteItem) -> Flat:
    name, names = _names("", {}, site.names)
    flat: Flat = {"kind": site.kind, "name": name}
    flat.update({f"names.{lang}": n for lang, n in names.items()})
    flat["urls"] = tuple(site.urls)
    if site.country is not None:
        flat["country"] = site.country
    flat["source"] = "site"
    flat.update({f"description.{lang}": t for lang, t in sorted(site.texts.items())})
    return flat


#: New ids are cut at a word boundary to this length (ids are shown in tables and histories).
SLUG_LENGTH = 32


def slug(text: str) -> str:
    """An id made of ``text``: ASCII lower-case letters and digits, other runs become ``-``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    value = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(value) > SLUG_LENGTH:
        cut = value[: SLUG_LENGTH + 1]
        value = cut.rsplit("-", 1)[0] if "-" in cut else value[:SLUG_LENGTH]
    return value.strip("-")


def _short(where: str) -> str:
    """``path/to/index.de.md:13`` → ``index.de.md:13``."""
    path, _, line = where.rpartition(":")
    return f"{Path(path).name}:{line}"


def _new_id(site: SiteItem, taken: set[str]) -> str:
    name = site.names.get("en") or next(iter(site.names.values()))
    base = slug(name) or slug(re.sub(r"^https?://(www\.)?", "", site.url)) or "item"
    candidate, number = base, 2
    while candidate in taken or not re.fullmatch(ID_PATTERN, candidate):
        candidate = f"{base[:60].rstrip('-')}-{number}"
        number += 1
    return candidate


# -- editing the TOML documents -----------------------------------------------------------------


def _table(document: TOMLDocument, item_id: str) -> Any:
    return document[item_id]


def _toml_value(value: Value) -> Any:
    if isinstance(value, tuple):
        array = tomlkit.array()
        array.extend(value)
        if len(value) > 1:
            array.multiline(True)
        return array
    return value


def _apply(table: Any, changes: Iterable[FieldChange]) -> None:
    """Apply the field changes to an item's table, in place, keeping everything else."""
    for change in changes:
        key, _, language = change.field.partition(".")
        if language:
            _set_nested(table, key, language, change.new)
        else:
            _set(table, key, change.new, FIELD_ORDER)


def _set(table: Any, key: str, value: Value | None, order: Sequence[str]) -> None:
    if value is None:
        if key in table:
            del table[key]
        return
    item = _toml_value(value)
    if key in table or not isinstance(table, Table):
        table[key] = item
        return
    _insert(table, key, item, order)


def _insert(table: Table, key: str, item: Any, order: Sequence[str]) -> None:
    """Insert a new key after the last plain key that comes before it in ``order`` (or before
    the first), so comments that belong to the next table stay above it."""
    container = table.value
    plain = [
        (index, k.key)
        for index, (k, v) in enumerate(container.body)
        if k is not None and not isinstance(v, Table | AoT)
    ]
    rank = order.index(key) if key in order else len(order)
    before = [k for _, k in plain if (order.index(k) if k in order else len(order)) <= rank]
    if before:
        container._insert_after(before[-1], key, item)
    elif plain:
        container._insert_at(plain[0][0], key, item)
    else:
        table.append(key, item)
        return
    dict.__setitem__(table, key, container[key])


def _set_nested(table: Any, key: str, language: str, value: Value | None) -> None:
    """Set or remove one language of ``names`` or ``description``."""
    sub = table.get(key) if key in table else None
    if sub is None or isinstance(sub, InlineTable):
        _set_inline(table, key, sub, language, value)
    elif value is None:
        if language in sub:
            del sub[language]
        if not sub:
            del table[key]
    elif language in sub:
        sub[language] = value
    elif isinstance(sub, Table):
        _insert(sub, language, tomlkit.item(value), sorted({*sub.keys(), language}))
    else:
        sub[language] = value


def _set_inline(
    table: Any, key: str, sub: InlineTable | None, language: str, value: Value | None
) -> None:
    """Set a language in an inline (or missing) ``names``/``description``: rebuild it sorted;
    a missing ``description`` becomes a ``[id.description]`` table."""
    values = {k: str(v) for k, v in (sub or {}).items() if k != language}
    if value is not None:
        values[language] = str(value)
    if not values:
        if sub is not None:
            del table[key]
    elif sub is not None:
        table[key] = _inline(values)
    elif key == "description":
        table[key] = _description(values)
    elif isinstance(table, Table):
        _insert(table, key, _inline(values), FIELD_ORDER)
    else:
        table[key] = _inline(values)


def _inline(values: Mapping[str, str]) -> InlineTable:
    """``{ de = "…", fr = "…" }`` in language order, spaced as the data files write it."""
    body = ", ".join(f"{k} = {tomlkit.string(v).as_string()}" for k, v in sorted(values.items()))
    inline = tomlkit.parse(f"x = {{ {body} }}\n")["x"]
    assert isinstance(inline, InlineTable)
    return inline


def _description(values: Mapping[str, str]) -> Table:
    description = tomlkit.table()
    for language, text in sorted(values.items()):
        description.add(language, text)
    return description


def _new_table(flat: Flat) -> Table:
    table = tomlkit.table()
    groups: dict[str, dict[str, str]] = {"names": {}, "description": {}}
    for key, value in flat.items():
        group, _, language = key.partition(".")
        if language:
            groups[group][language] = str(value)
        else:
            table.add(key, _toml_value(value))
    if groups["names"]:
        _insert(table, "names", _inline(groups["names"]), FIELD_ORDER)
    if groups["description"]:
        table.add("description", _description(groups["description"]))
    return table


# -- verification -------------------------------------------------------------------------------


def _verify(plan: Plan) -> None:
    """Load the rewritten files as the bot would; refuse if they are invalid or do not hold
    exactly what the plan says."""
    if not plan.contents:
        return
    with tempfile.TemporaryDirectory(prefix="import-site-") as tmp:
        folder = Path(tmp)
        sources = sorted(plan.data_dir.glob("*.toml")) if plan.data_dir.is_dir() else []
        for path in {*sources, *plan.contents}:
            text = plan.contents.get(path)
            if text is None:
                text = path.read_text(encoding="utf-8")
            (folder / path.name).write_text(text, encoding="utf-8")
        try:
            dataset = load_dataset(folder)
        except DatasetError as exc:
            problems = [
                Problem(p.where.replace(str(folder), str(plan.data_dir)), p.message)
                for p in exc.problems
            ]
            raise ImportSiteError(
                [Problem("", "the imported data would be invalid; nothing written"), *problems]
            ) from None
        for change in plan.items:
            if change.expected is None:
                continue
            loaded = dataset.by_id.get(change.item_id)
            if loaded is None or _flat(loaded) != change.expected:
                raise ImportBugError(
                    f"import-site: the rewritten {change.path.name} does not hold the expected"
                    f" [{change.item_id}]; nothing written (please report this)"
                )
        for text in plan.contents.values():
            tomllib.loads(text)  # every written file parses on its own


# -- the diff -----------------------------------------------------------------------------------


#: Values up to this length are shown on one line (``country: DE → FR``).
SHORT = 60


def _show(value: Value | None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return " ".join(value)
    return "" if value is None else value


def _word_diff(old: str, new: str, context: int = 4) -> str:
    """The changed words of a text, git --word-diff style, with a few words around them."""
    a, b = old.split(), new.split()
    pieces: list[str] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    opcodes = matcher.get_opcodes()
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            words = a[i1:i2]
            if len(words) > 2 * context:
                head = words[:context] if index else []
                tail = words[-context:] if index < len(opcodes) - 1 else []
                words = [*head, "…", *tail]
            pieces.extend(words)
            continue
        removed = f"[-{' '.join(a[i1:i2])}-]" if i2 > i1 else ""
        added = f"{{+{' '.join(b[j1:j2])}+}}" if j2 > j1 else ""
        pieces.append(removed + added)
    return " ".join(pieces)


def _render_item(change: ItemChange, data_dir: Path) -> str:
    if not change.changes and not change.notes:
        return ""
    file = (
        change.path.relative_to(data_dir) if change.path.is_relative_to(data_dir) else change.path
    )
    heads = {
        "added": f"+ [{change.item_id}]  new {change.kind} in {file}",
        "updated": f"~ [{change.item_id}]  {file}",
        "deactivated": f"- [{change.item_id}]  {file}: deactivated",
        "unchanged": f"= [{change.item_id}]  {file}",
        "untouched": f"= [{change.item_id}]  {file}",
    }
    lines = [heads[change.action]]
    for fc in change.changes:
        old, new = _show(fc.old), _show(fc.new)
        if change.action == "added":
            lines.append(f"    {fc.field}: {new}")
        elif max(len(old), len(new)) <= SHORT:
            if fc.old is None:
                lines.append(f"    {fc.field}: + {new}")
            elif fc.new is None:
                lines.append(f"    {fc.field}: - {old}")
            else:
                lines.append(f"    {fc.field}: {old} → {new}")
        else:
            lines.append(f"    {fc.field}:")
            if fc.old is not None:
                lines.append(f"      - {old}")
            if fc.new is not None:
                lines.append(f"      + {new}")
            if isinstance(fc.old, str) and isinstance(fc.new, str):
                lines.append(f"      ~ {_word_diff(fc.old, fc.new)}")
    lines += [f"    note: {note}" for note in change.notes]
    return "\n".join(lines)
