"""Reading the website's network pages: Hugo content files (front matter, then markdown).

A page lists its entries as markdown list items::

    * [**Name**](https://example.org): Description text … (Country)

under the headings "Initiatives" and "Petitions" (on a page without headings every entry is an
initiative). The markdown is parsed with markdown-it; each entry becomes an
:class:`~bot.importer.pages.Entry`: the name (the link text without markup), the link, the
description as plain text (bold markup and inline links removed, link text kept) and the
trailing "(Country)" as an ISO 3166 code, looked up in Babel's territory names of the page's
language ("Europe" stays "Europe"; :mod:`bot.importer.countries`). A petition's further links
(``[title](url1) also [here](url2)``) become its further URLs; petitions have no description.
Broken encodings ("VÃ¡monos") are repaired with ftfy. Links are kept as written: site-relative
links (``/about``) stay relative. The front matter and the page's language are read by
:mod:`bot.importer.front_matter`.

Every problem of every page is collected and raised as one :class:`ImportSiteError` naming the
file and line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ftfy
from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.dataset import check_url
from bot.errors import ImportSiteError, Problem
from bot.importer.countries import country_code, fold
from bot.importer.front_matter import PageProblem, page_language, read_front_matter
from bot.importer.pages import Entry, Kind, Page, Source, url_key

_FIX = ftfy.TextFixerConfig(
    unescape_html=False,  # markdown-it already decoded entities
    uncurl_quotes=False,  # typographic quotes and apostrophes are intended
    fix_latin_ligatures=False,
    fix_character_width=False,
)
_COUNTRY_AT_END = re.compile(r"\s*\(([^()]*)\)\s*$")


def read_pages(sources: Sequence[Source]) -> list[Page]:
    """Read every page, sorted by language; raise one :class:`ImportSiteError` listing every
    problem of every page (nothing is imported then)."""
    problems: list[Problem] = []
    pages: list[Page] = []
    seen: dict[Path, Source] = {}
    for source in sources:
        resolved = source.path.resolve()
        if resolved in seen:
            problems.append(Problem(str(source.path), "given twice"))
            continue
        seen[resolved] = source
        reader = _PageReader(source)
        page = reader.read()
        problems.extend(reader.problems)
        if page is not None:
            pages.append(page)
    by_language: dict[str, Page] = {}
    for page in pages:
        if page.language in by_language:
            other = by_language[page.language]
            problems.append(
                Problem(
                    str(page.path),
                    f"a second page in {page.language!r} (the first is {other.path})",
                )
            )
        by_language[page.language] = page
    if problems:
        raise ImportSiteError(problems)
    return sorted(pages, key=lambda p: p.language)


class _Markdown(MarkdownIt):
    """CommonMark that keeps link destinations as written (no percent-encoding, no punycode)."""

    def normalizeLink(self, url: str) -> str:
        return url


@dataclass
class _PageReader:
    source: Source
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.source.path

    def problem(self, line: int | None, message: str) -> None:
        where = f"{self.path}:{line}" if line else str(self.path)
        self.problems.append(Problem(where, message))

    def note(self, line: int, message: str) -> None:
        self.notes.append(Problem(f"{self.path}:{line}", message))

    def read(self) -> Page | None:
        try:
            text = self.path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            self.problem(None, f"not UTF-8 text: {exc}")
            return None
        except OSError as exc:
            self.problem(None, f"cannot read: {exc.strerror or exc}")
            return None
        lines = text.removeprefix("\ufeff").replace("\r\n", "\n").split("\n")
        try:
            front = read_front_matter(lines)
        except PageProblem as exc:
            self.problem(exc.line, exc.message)
            return None
        language: str | None = None
        try:
            language = page_language(self.source, front)
        except PageProblem as exc:
            self.problem(exc.line, exc.message)
        body = "\n".join(lines[front.body_start :])
        entries = self._entries(body, front.body_start, language or "en")
        if language is None:
            return None
        if not entries and not self.problems:
            self.problem(
                None, "no entries: expected a list of '* [Name](link): text (Country)' items"
            )
        return Page(self.path, language, tuple(entries), tuple(self.notes))

    def _entries(self, body: str, offset: int, language: str) -> list[Entry]:
        tokens = _Markdown("commonmark").parse(body)
        kind: Kind | None = "initiative"
        heading = ("", 0)
        reported_headings: set[int] = set()
        entries: list[Entry] = []
        seen: dict[str, int] = {}
        index = 0
        while index < len(tokens):
            token = tokens[index]
            if token.type == "heading_open":
                title = tokens[index + 1].content
                kind = _section_kind(title)
                heading = (title, _line(token, offset))
            elif token.type in ("bullet_list_open", "ordered_list_open") and token.level == 0:
                close = _closing(tokens, index)
                for first, last in _list_items(tokens, index + 1, close):
                    line = _line(tokens[first], offset)
                    if kind is None:
                        if heading[1] not in reported_headings:
                            reported_headings.add(heading[1])
                            self.problem(
                                line,
                                f"entries under the heading {heading[0]!r} (line {heading[1]}):"
                                " a section must be 'Initiatives' or 'Petitions'",
                            )
                        continue
                    entry = self._entry(tokens[first + 1 : last], kind, line, language)
                    if entry is None:
                        continue
                    key = url_key(entry.urls[0])
                    if key in seen:
                        self.problem(
                            line,
                            f"two entries with the link {entry.urls[0]} (lines {seen[key]} and"
                            f" {line}): each initiative or petition is listed once",
                        )
                        continue
                    seen[key] = line
                    entries.append(entry)
                index = close
            index += 1
        return entries

    def _entry(self, inner: list[Token], kind: Kind, line: int, language: str) -> Entry | None:
        if not inner:
            self.problem(line, "an entry without a link: an entry is '[Name](link): text'")
            return None
        if len(inner) != 3 or inner[1].type != "inline":
            self.problem(
                line,
                "an entry with more than one paragraph or a nested list: write each entry as"
                " one list item '[Name](link): text (Country)'",
            )
            return None
        children = inner[1].children or []
        start = 0
        while start < len(children) and children[start].type in ("strong_open", "em_open"):
            start += 1
        if start >= len(children) or children[start].type != "link_open":
            self.problem(
                line,
                "an entry without a link: an entry starts with [Name](link), e.g."
                " '* [**Name**](https://example.org): text (Country)'",
            )
            return None
        end = next(i for i in range(start, len(children)) if children[i].type == "link_close")
        href = str(children[start].attrGet("href") or "")
        name = self._fix(_plain(children[start + 1 : end]), line)
        rest = children[end + 1 :]
        text = self._fix(_plain(rest), line)
        urls = [href]
        if kind == "petition":
            urls += [str(t.attrGet("href")) for t in rest if t.type == "link_open"]
            urls = list(dict.fromkeys(urls))
        ok = True
        if not name:
            self.problem(line, "the entry's link has no text (the name)")
            ok = False
        for url in urls:
            try:
                check_url(url)
            except ValueError as exc:
                self.problem(line, f"bad link: {exc}")
                ok = False
        if not ok:
            return None
        text = re.sub(r"^:\s*", "", text)
        country = None
        match = _COUNTRY_AT_END.search(text)
        if match:
            country = country_code(match[1].strip(), language)
            if country is None:
                what = "kept in the text" if kind == "initiative" else "no country"
                self.note(line, f"'({match[1]})' is not a country name in {language!r}: {what}")
            else:
                text = text[: match.start()].strip()
        description = (text or None) if kind == "initiative" else None
        return Entry(kind, name, tuple(urls), description, country, line)

    def _fix(self, text: str, line: int) -> str:
        fixed = ftfy.fix_text(text, _FIX)
        if fixed != text:
            pairs = [(a, b) for a, b in zip(text.split(), fixed.split(), strict=False) if a != b]
            shown = ", ".join(f"{a!r} → {b!r}" for a, b in pairs[:3]) or "whitespace"
            self.note(line, f"repaired broken text encoding: {shown}")
        return fixed


def _section_kind(title: str) -> Kind | None:
    folded = fold(title)
    if "petition" in folded or "peticion" in folded:
        return "petition"
    if "initiativ" in folded or "iniciativ" in folded:
        return "initiative"
    return None


def _line(token: Token, offset: int) -> int:
    return (token.map[0] if token.map else 0) + offset + 1


def _closing(tokens: list[Token], index: int) -> int:
    """The index of the token closing ``tokens[index]`` (same level, nesting -1)."""
    opening = tokens[index]
    for i in range(index + 1, len(tokens)):
        if tokens[i].level == opening.level and tokens[i].nesting == -1:
            return i
    return len(tokens) - 1


def _list_items(tokens: list[Token], start: int, stop: int) -> list[tuple[int, int]]:
    """``(open, close)`` indices of the list items between ``start`` and ``stop``."""
    items: list[tuple[int, int]] = []
    index = start
    while index < stop:
        if tokens[index].type == "list_item_open":
            close = _closing(tokens, index)
            items.append((index, close))
            index = close
        index += 1
    return items


def _plain(tokens: list[Token]) -> str:
    """Plain text of inline tokens: markup dropped, link and image texts kept."""
    parts: list[str] = []
    for token in tokens:
        if token.type in ("text", "code_inline", "image"):
            parts.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return re.sub(r"\s+", " ", "".join(parts)).strip()
