"""Editing the data files with tomlkit: an item's changed fields are set in place, new keys go
where the data files put them (:data:`~bot.importer.changes.FIELD_ORDER`), and everything else
(ids, other fields, comments, blank lines) stays byte for byte, so a git diff shows only what
changed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, InlineTable, Table
from tomlkit.toml_document import TOMLDocument

from bot.importer.changes import FIELD_ORDER, FieldChange, Flat, Value

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


class DataFile:
    """A data file; parsed with tomlkit (slow on large files) only once it is to be edited."""

    def __init__(self, path: Path, text: str, document: TOMLDocument | None = None) -> None:
        self.path = path
        self.text = text
        self._document = document

    @classmethod
    def new(cls, path: Path, kind: str) -> DataFile:
        """A data file that does not exist yet, with the header for ``kind``."""
        document = tomlkit.document()
        for line in HEADERS[kind].splitlines():
            document.add(tomlkit.comment(line))
        return cls(path, "", document)

    @property
    def document(self) -> TOMLDocument:
        if self._document is None:
            self._document = tomlkit.parse(self.text)
        return self._document

    @property
    def touched(self) -> bool:
        return self._document is not None

    def edit(self, item_id: str, changes: Iterable[FieldChange]) -> None:
        """Apply the field changes to the item's table, in place, keeping everything else."""
        table: Any = self.document[item_id]
        for change in changes:
            key, _, language = change.field.partition(".")
            if language:
                _set_nested(table, key, language, change.new)
            else:
                _set(table, key, change.new, FIELD_ORDER)

    def add(self, item_id: str, fields: Flat) -> None:
        """Append a new item's table."""
        self.document.add(item_id, _new_table(fields))

    def dumps(self) -> str:
        return tomlkit.dumps(self.document)


def _toml_value(value: Value) -> Any:
    if isinstance(value, tuple):
        array = tomlkit.array()
        array.extend(value)
        if len(value) > 1:
            array.multiline(True)
        return array
    return value


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


def _new_table(fields: Flat) -> Table:
    table = tomlkit.table()
    groups: dict[str, dict[str, str]] = {"names": {}, "description": {}}
    for key, value in fields.items():
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
