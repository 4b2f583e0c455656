"""A Hugo page's front matter and its language.

The front matter is the block between a first line ``---`` (YAML, parsed with PyYAML) or
``+++`` (TOML, parsed with tomllib) and the same fence again. Only the keys that give the page's
language are used (``lang``, ``language``); the rest is checked to parse and otherwise ignored.
A problem is raised as :class:`PageProblem` with the line of the file it is on.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.importer.pages import Source

#: The language in a page file's name: ``<anything>.<language>.md``.
NAME_LANGUAGE = re.compile(r"^.+\.(?P<lang>[^.]+)\.(?:md|markdown)$")
#: Front-matter keys that give a page's language.
LANGUAGE_KEYS = ("lang", "language")
#: The file line of the front matter's first line (the fence is line 1).
_FIRST_LINE = 2


class PageProblem(Exception):
    """A problem of a page at a line of its file (``None``: the page as a whole)."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class FrontMatter:
    """The language keys of a page's front matter (value, file line), and where its body starts
    (the index of the first body line, i.e. the number of lines before it)."""

    languages: Mapping[str, tuple[str, int]]
    body_start: int


def read_front_matter(lines: list[str]) -> FrontMatter:
    """The front matter of a page given as its lines; raise :class:`PageProblem`."""
    fence = lines[0].rstrip()
    if fence not in ("---", "+++"):
        raise PageProblem(
            1, "no front matter: a Hugo page starts with '---' (YAML) or '+++' (TOML)"
        )
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == fence), None)
    if end is None:
        raise PageProblem(1, f"the front matter opened with {fence!r} is never closed")
    block = lines[1:end]
    values = _toml_languages(block) if fence == "+++" else _yaml_languages(block)
    return FrontMatter(values, end + 1)


def _yaml_languages(block: list[str]) -> dict[str, tuple[str, int]]:
    """The language keys of a YAML front matter; PyYAML's marks give the lines. The document is
    only composed (a node tree), never constructed: no tags are resolved."""
    import yaml

    try:
        root = yaml.compose("\n".join(block), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = _FIRST_LINE + mark.line if mark is not None else 1
        what = exc.problem or "unreadable"
        if exc.context:
            started = exc.context_mark
            if started is not None and _FIRST_LINE + started.line != line:
                what = f"{exc.context} (line {_FIRST_LINE + started.line}): {what}"
            else:
                what = f"{exc.context}: {what}"
        raise PageProblem(line, f"the front matter is not valid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise PageProblem(1, f"the front matter is not valid YAML: {exc}") from None
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        line = _FIRST_LINE + root.start_mark.line
        raise PageProblem(line, "the front matter is not a mapping of keys to values")
    values: dict[str, tuple[str, int]] = {}
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value in LANGUAGE_KEYS:
            line = _FIRST_LINE + value.start_mark.line
            if not isinstance(value, yaml.ScalarNode):
                raise PageProblem(line, f"{key.value!r} must be a language code such as 'de'")
            values[key.value] = (str(value.value), line)
    return values


def _toml_languages(block: list[str]) -> dict[str, tuple[str, int]]:
    """The language keys of a TOML front matter; tomllib gives no positions, so a key's line is
    the first line that assigns it."""
    try:
        data = tomllib.loads("\n".join(block))
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        at = re.search(r"\s*\(at (?:line (\d+), column \d+|end of document)\)$", message)
        if at is None:
            line = 1
        else:
            line = _FIRST_LINE + (int(at[1]) if at[1] else len(block)) - 1
            message = message[: at.start()]
        raise PageProblem(line, f"the front matter is not valid TOML: {message}") from None
    values: dict[str, tuple[str, int]] = {}
    for key in LANGUAGE_KEYS:
        if key in data:
            assigns = re.compile(rf"\s*{key}\s*=")
            line = next((n for n, t in enumerate(block, _FIRST_LINE) if assigns.match(t)), 1)
            values[key] = (str(data[key]), line)
    return values


def known_language(code: str) -> str | None:
    """The ISO 639-1 code of ``code`` (``de``, ``fr-CH`` → ``fr``) if Babel knows it."""
    from babel import Locale, UnknownLocaleError

    base = code.strip().replace("_", "-").split("-")[0].lower()
    if not re.fullmatch(r"[a-z]{2}", base):
        return None
    try:
        Locale.parse(base)
    except (UnknownLocaleError, ValueError):
        return None
    return base


def page_language(source: Source, front: FrontMatter) -> str:
    """The page's language from ``--lang``, the file name or the front matter; they must agree.
    Raise :class:`PageProblem`."""
    claims: list[tuple[str, str, int | None]] = []  # (code, how it was given, line)
    if source.language is not None:
        claims.append((source.language, "--lang", None))
    match = NAME_LANGUAGE.match(Path(source.path).name)
    if match:
        claims.append((match["lang"], "the file name", None))
    for key in LANGUAGE_KEYS:
        if key in front.languages:
            value, line = front.languages[key]
            claims.append((value, f"the front matter's {key!r}", line))
    if not claims:
        raise PageProblem(
            1,
            "cannot tell the page's language: name the file index.<language>.md, set"
            " 'lang' in its front matter, or pass --lang LANGUAGE=FILE",
        )
    found: dict[str, str] = {}
    for code, how, claim_line in claims:
        language = known_language(code)
        if language is None:
            raise PageProblem(
                claim_line, f"unknown language {code!r} (from {how}): expected an ISO 639-1 code"
            )
        found.setdefault(language, how)
    if len(found) > 1:
        described = " but ".join(f"{code!r} from {how}" for code, how in found.items())
        raise PageProblem(1, f"conflicting languages: {described}")
    return next(iter(found))
