"""The import's inputs as plain data: the page files to read (:class:`Source`), a page's entries
(:class:`Page`, :class:`Entry`), and the form of a link that entries are matched by
(:func:`url_key`). Imports nothing but the standard library and :mod:`bot.errors`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.errors import ImportSiteError, Problem

Kind = Literal["initiative", "petition"]

#: Page files of a Hugo content folder: ``index.md``, ``index.de.md``, ``_index.fr.md`` …
PAGE_FILE = re.compile(r"^_?index(?:\.[^.]+)?\.(?:md|markdown)$")


@dataclass(frozen=True)
class Source:
    """A page file to read, with its language if the operator gave it (``--lang``)."""

    path: Path
    language: str | None = None


@dataclass(frozen=True)
class Entry:
    """One list entry of a page, as plain data."""

    kind: Kind
    name: str
    urls: tuple[str, ...]
    text: str | None
    country: str | None
    line: int


@dataclass(frozen=True)
class Page:
    """A network page in one language."""

    path: Path
    language: str
    entries: tuple[Entry, ...]
    notes: tuple[Problem, ...] = ()

    def where(self, entry: Entry) -> str:
        return f"{self.path}:{entry.line}"


def url_key(url: str) -> str:
    """The form of a link used to match entries: scheme and host lower-case, no trailing '/'."""
    match = re.match(r"^(https?)://([^/?#]+)(.*)$", url, re.IGNORECASE)
    if match:
        url = f"{match[1].lower()}://{match[2].lower()}{match[3]}"
    return url.rstrip("/") or "/"


def find_sources(paths: Sequence[Path], explicit: Sequence[tuple[str, Path]] = ()) -> list[Source]:
    """The page files of ``paths`` (folders are searched for ``index.<language>.md``) and the
    files given with a language; raise :class:`ImportSiteError` if there is none."""
    problems: list[Problem] = []
    sources: list[Source] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and PAGE_FILE.match(p.name))
            if not found:
                problems.append(
                    Problem(str(path), "no page files (index.<language>.md) in this folder")
                )
            sources.extend(Source(p) for p in found)
        elif path.is_file():
            sources.append(Source(path))
        else:
            problems.append(Problem(str(path), "no such file or folder"))
    for language, path in explicit:
        if path.is_file():
            sources.append(Source(path, language))
        else:
            problems.append(Problem(str(path), "no such file"))
    if not sources and not problems:
        problems.append(Problem("", "no page given: pass a content folder or page files"))
    if problems:
        raise ImportSiteError(problems)
    return sources
