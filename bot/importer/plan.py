"""The import as a plan: every item's change and the new text of every data file that changes,
computed and verified before anything is written.

Rules (documented for operators in ``data/README.md``):

* Entries are matched across languages, and with the dataset, by their link
  (:mod:`bot.importer.matching`). A matched item keeps its id, file and position, and
  everything the site does not say (:mod:`bot.importer.changes`).
* ``source = "site"`` marks the items the site owns. An item without a source is adopted once
  its link is on the site; ``source = "manual"`` items are never changed.
* A ``source = "site"`` item on none of the pages has vanished: it is reported and marked
  ``active = false`` (never deleted, so history keeps its meaning), but only if the pages of all
  languages the site's items have texts in were imported; otherwise it is only reported.
* New items get an id made from their name and go to the end of ``initiatives.toml`` or
  ``petitions.toml`` (configurable), in the order of the pages.

The files are edited with tomlkit (:mod:`bot.importer.editing`), so untouched items keep their
exact text; the diff shown to the operator is rendered by :mod:`bot.importer.diff`.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.dataset import Item, load_dataset
from bot.errors import BotError, DatasetError, ImportSiteError, Problem
from bot.importer.changes import (
    Action,
    FieldChange,
    ItemChange,
    added,
    flat,
    new_id,
    updated,
    vanished,
)
from bot.importer.diff import render_item
from bot.importer.editing import DataFile
from bot.importer.matching import SiteItem, collect, match
from bot.importer.pages import Page


class ImportBugError(BotError):
    """The rewritten files would not hold what the import computed (a bug; nothing written)."""


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
        blocks = [render_item(change, self.data_dir) for change in self.items]
        return "\n".join(b for b in blocks if b)

    def write(self) -> list[Path]:
        """Write the changed files (each replaced atomically); return their paths."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for path, text in self.contents.items():
            temporary = path.with_name(f".{path.name}.import-site.tmp")
            temporary.write_text(text, encoding="utf-8", newline="")
            os.replace(temporary, path)
        return list(self.contents)


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
    matched, new = match(site, [item for item, _ in current])
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
            change = updated(item, found, data_file.path, imported)
        else:
            change = vanished(item, data_file.path, imported, missing)
        if change.changes:
            data_file.edit(item.id, change.changes)
        changes.append(change)
    taken = {item.id for item, _ in current}
    for site_item in new:
        path = data_dir / targets[site_item.kind]
        if path not in files:
            files[path] = DataFile.new(path, site_item.kind)
        changes.append(_add(site_item, files[path], taken))
    contents: dict[Path, str] = {}
    for path, data_file in files.items():
        if not data_file.touched:
            continue  # nothing changed in it: never parsed, never rewritten
        text = data_file.dumps()
        if text != data_file.text:
            contents[path] = text
    plan = Plan(data_dir, changes, contents, imported)
    _verify(plan)
    return plan


def _read_data(data_dir: Path) -> tuple[dict[Path, DataFile], list[tuple[Item, DataFile]]]:
    """The data files (parsed by tomlkit only when edited) and the validated items with their
    file."""
    if not data_dir.is_dir() or not any(data_dir.glob("*.toml")):
        return {}, []
    dataset = load_dataset(data_dir)  # an invalid dataset is reported as it is (exit code 2)
    files: dict[Path, DataFile] = {}
    for path in sorted(data_dir.glob("*.toml")):
        files[path] = DataFile(path, path.read_text(encoding="utf-8-sig"))
    return files, [(item, files[dataset.sources[item.id]]) for item in dataset]


def _add(site_item: SiteItem, data_file: DataFile, taken: set[str]) -> ItemChange:
    """Append a new item to ``data_file``; its id is made from its name."""
    item_id = new_id(site_item, taken)
    taken.add(item_id)
    fields = added(site_item)
    data_file.add(item_id, fields)
    return ItemChange(
        item_id,
        data_file.path,
        site_item.kind,
        "added",
        [FieldChange(key, None, value) for key, value in fields.items()],
        [f"from {', '.join(map(_short, site_item.where.values()))}"],
        expected=fields,
    )


def _short(where: str) -> str:
    """``path/to/index.de.md:13`` → ``index.de.md:13``."""
    path, _, line = where.rpartition(":")
    return f"{Path(path).name}:{line}"


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
                text = path.read_text(encoding="utf-8-sig")
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
            if loaded is None or flat(loaded) != change.expected:
                raise ImportBugError(
                    f"import-site: the rewritten {change.path.name} does not hold the expected"
                    f" [{change.item_id}]; nothing written (please report this)"
                )
        for text in plan.contents.values():
            tomllib.loads(text)  # every written file parses on its own
