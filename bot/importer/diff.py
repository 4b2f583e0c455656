"""The plan as a readable diff: per item, each field and language before and after; long texts
get a word diff (git --word-diff style)."""

from __future__ import annotations

import difflib
from pathlib import Path

from bot.importer.changes import ItemChange, Value

#: Values up to this length are shown on one line (``country: DE → FR``).
SHORT = 60


def render_item(change: ItemChange, data_dir: Path) -> str:
    """One item's change, or ``""`` if there is nothing to say about it."""
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
                lines.append(f"      ~ {word_diff(fc.old, fc.new)}")
    lines += [f"    note: {note}" for note in change.notes]
    return "\n".join(lines)


def word_diff(old: str, new: str, context: int = 4) -> str:
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


def _show(value: Value | None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return " ".join(value)
    return "" if value is None else value
