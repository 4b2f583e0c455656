"""The dataset: initiatives and petitions of the LeaveX network, read from ``DATA_DIR/*.toml``.

Each top-level table of a data file is one item, keyed by its stable id. The format is documented
in ``data/README.md``. Loading validates every item and reports every problem at once, naming the
file, the item id and the field.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal

import regex
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from bot.errors import DatasetError, Problem

ID_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
#: Mastodon's Tag::HASHTAG_RE for a whole tag: word characters (letters with their combining
#: marks, digits, "_", and the separators "·", "・", ZWNJ inside), with a letter somewhere.
_SEPARATORS = "_\u00b7\u30fb\u200c"
HASHTAG_RE = regex.compile(
    rf"\w[\w{_SEPARATORS}]*[\p{{Alphabetic}}{_SEPARATORS}][\w{_SEPARATORS}]*\w|\w*\p{{Alphabetic}}\w*"
)
#: Bluesky's hashtag rule (atproto's TAG_REGEX, a JavaScript regex): no white space (JavaScript's
#: \s) or invisible characters, not only ASCII digits, not ending in punctuation, and the
#: lexicon's limits for a tag facet: 64 graphemes, 640 UTF-8 bytes.
_JS_SPACE = "\t\n\x0b\x0c\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_BLUESKY_TAG = regex.compile(
    rf"(?!\ufe0f)[^{_JS_SPACE}\u00ad\u2060\u200b\u200c\u200d\u20e2]*"
    rf"[^0-9{_JS_SPACE}\p{{P}}\u00ad\u2060\u200b\u200c\u200d\u20e2]"
    rf"[^{_JS_SPACE}\u00ad\u2060\u200b\u200c\u200d\u20e2]*"
)
EUROPE = "Europe"
#: UN M.49 code for Europe, which Babel localizes like any ISO 3166 territory.
EUROPE_TERRITORY = "150"
#: Two-letter codes Babel knows that are not ISO 3166-1 countries (reserved or user-assigned).
NOT_ISO = frozenset(
    {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"}
)


def _language(code: str) -> str:
    if not re.fullmatch(r"[a-z]{2}", code) or code not in iso_languages():
        raise ValueError(
            f"{code!r} is not an ISO 639-1 language code (two lower-case letters, e.g. 'da'"
            " for Danish)"
        )
    return code


def hashtag_problem(tag: str) -> str | None:
    """Why ``tag`` (without '#') would not be one whole hashtag on both Mastodon and Bluesky,
    or ``None`` if it would be."""
    import unicode_segmentation_rs

    if not HASHTAG_RE.fullmatch(tag):
        return "Mastodon takes letters (with their accents), digits and _ in a tag, not only digits"
    if not _BLUESKY_TAG.fullmatch(tag) or regex.search(r"\p{P}$", tag):
        return "Bluesky ends a tag at punctuation and needs a character that is not a digit"
    if len(unicode_segmentation_rs.graphemes(tag, True)) > 64 or len(tag.encode()) > 640:
        return "Bluesky takes at most 64 characters and 640 UTF-8 bytes in a tag"
    return None


#: Characters no text of the dataset may carry: control characters (a line break only where a
#: text may have several lines), the explicit direction embeddings, overrides and isolates
#: (they make a post display otherwise than it reads: "Trojan Source"), and noncharacters.
_UNSEEN = regex.compile(r"[\p{Cc}\u202a-\u202e\u2066-\u2069\p{Noncharacter_Code_Point}]")


def _unseen_problem(value: str, *, lines: bool) -> str | None:
    for match in _UNSEEN.finditer(value):
        char = match.group()
        if lines and char == "\n":
            continue
        what = "a line break" if char in "\r\n" else f"the character U+{ord(char):04X}"
        where = "" if lines else " (this text is one line)"
        return f"contains {what} at position {match.start() + 1}{where}; remove it"
    return None


def _clean_text(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    problem = _unseen_problem(value, lines=False)
    if problem:
        raise ValueError(problem)
    return value


def _clean_translation(value: str) -> str:
    if not value.strip():
        raise ValueError(
            "must not be empty: leave a missing translation out instead of writing an empty string"
        )
    problem = _unseen_problem(value, lines=True)
    if problem:
        raise ValueError(problem)
    return value.strip()


def _one_line_translation(value: str) -> str:
    problem = _unseen_problem(value, lines=False)
    if problem:
        raise ValueError(problem)
    return value


def _picture_file(value: str) -> str:
    """A picture is a file inside the data folder, named relative to it."""
    path = PurePosixPath(value)
    if "\\" in value or path.is_absolute() or re.match(r"[A-Za-z]:", value):
        raise ValueError(
            f"{value!r}: name the picture relative to the data folder (e.g. 'img/card.png')"
        )
    if ".." in path.parts:
        raise ValueError(f"{value!r}: the picture must be inside the data folder (no '..')")
    return value


Language = Annotated[str, AfterValidator(_language)]
Text = Annotated[str, AfterValidator(_clean_text)]
Translation = Annotated[str, AfterValidator(_clean_translation)]
Name = Annotated[str, AfterValidator(_clean_translation), AfterValidator(_one_line_translation)]
HttpUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def check_url(url: str) -> str:
    if _UNSEEN.search(url):
        raise ValueError(f"{url!r} contains a control or invisible character; remove it")
    if url.startswith("/"):
        if url.startswith("//"):
            raise ValueError(f"{url!r}: protocol-relative links are not allowed; write https://")
        if not re.fullmatch(r"/\S*", url):
            raise ValueError(f"{url!r}: a link cannot contain spaces (write %20)")
        return url  # site-relative: resolved against SITE_BASE_URL when rendering
    if not re.fullmatch(r"https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?", url):
        raise ValueError(f"{url!r} is neither an http(s) URL with a host nor a site-relative /path")
    return url


class Departure(BaseModel):
    """When and where an organisation or coalition left X (facts from news reports)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: dt.date
    platforms: list[Literal["mastodon", "bluesky"]] = Field(min_length=1)
    organisations: int | None = Field(default=None, ge=1)


class Image(BaseModel):
    """An image file in the data folder, used as a link-card thumbnail, with alt texts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: Annotated[Text, AfterValidator(_picture_file)]
    alt: dict[Language, Translation] = Field(default_factory=dict)


class Item(BaseModel):
    """One initiative or petition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(pattern=ID_PATTERN)]
    kind: Literal["initiative", "petition"]
    name: Text
    names: dict[Language, Name] = Field(default_factory=dict)
    aliases: list[Text] = Field(default_factory=list)
    urls: list[Annotated[HttpUrl, AfterValidator(check_url)]] = Field(min_length=1)
    country: str | None = None
    hashtags: list[str] = Field(default_factory=list)
    description: dict[Language, Translation] = Field(default_factory=dict)
    starts: dt.date | None = None
    ends: dt.date | None = None
    active: StrictBool = True
    departure: Departure | None = None
    image: Image | None = None
    #: Where the item comes from. "site": ``import-site`` keeps it in step with the website and
    #: marks it inactive when it vanishes from there; "manual": ``import-site`` never changes it.
    #: Unset: ``import-site`` adopts it (sets "site") once its link is on the site, and otherwise
    #: leaves it alone.
    source: Literal["site", "manual"] | None = None

    @field_validator("hashtags")
    @classmethod
    def _hashtags(cls, tags: list[str]) -> list[str]:
        seen: set[str] = set()
        for tag in tags:
            if tag.startswith("#"):
                raise ValueError(f"{tag!r}: write hashtags without the leading '#'")
            problem = hashtag_problem(tag)
            if problem:
                raise ValueError(f"{tag!r} is not a hashtag on both platforms: {problem}")
            if tag.casefold() in seen:
                raise ValueError(f"{tag!r} is listed twice")
            seen.add(tag.casefold())
        return tags

    @field_validator("country")
    @classmethod
    def _country(cls, code: str | None) -> str | None:
        if code is None or code == EUROPE:
            return code
        if not re.fullmatch(r"[A-Z]{2}", code) or code not in iso_countries():
            raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code (or {EUROPE!r})")
        return code

    @field_validator("ends")
    @classmethod
    def _dates(cls, ends: dt.date | None, info: ValidationInfo) -> dt.date | None:
        starts = info.data.get("starts")
        if ends and starts and ends < starts:
            raise ValueError(f"ends ({ends}) is before starts ({starts})")
        return ends

    @property
    def url(self) -> str:
        """The primary link."""
        return self.urls[0]

    @property
    def territory(self) -> str | None:
        """The Babel territory code of :attr:`country` (Europe is UN M.49 ``150``)."""
        return EUROPE_TERRITORY if self.country == EUROPE else self.country

    def name_in(self, language: str) -> str:
        return self.names.get(language, self.name)

    def languages(self) -> frozenset[str] | None:
        """Languages this item has a text in; ``None`` if it needs none (a bare petition link)."""
        return frozenset(self.description) if self.description else None

    def is_open(self, today: dt.date) -> bool:
        """Active, started and not yet ended on ``today``."""
        if not self.active:
            return False
        if self.starts and today < self.starts:
            return False
        return not (self.ends and today > self.ends)


@functools.cache
def iso_languages() -> frozenset[str]:
    """ISO 639-1 codes (the two-letter language codes Babel names), remembered between runs."""
    from bot.cache import remembered

    def compute() -> str:
        from babel import Locale

        codes = [str(code) for code in Locale("en").languages]
        return ",".join(sorted(c for c in codes if len(c) == 2 and c.isalpha() and c.islower()))

    return frozenset(remembered("iso-639-1", compute).split(","))


@functools.cache
def iso_countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes, from Babel's global territory data (no locale is loaded)."""
    from bot.cache import remembered

    def compute() -> str:
        from babel.core import get_global

        known = get_global("territory_languages")
        return ",".join(sorted(c for c in known if len(c) == 2 and c.isalpha()))

    return frozenset(remembered("iso-countries", compute).split(",")) - NOT_ISO


@dataclass(frozen=True, eq=False)
class Dataset:
    """The validated items in file order, with the file each came from. Compared and hashed
    by identity: derived values (selection's eligibility) are remembered per dataset object."""

    items: tuple[Item, ...]
    sources: Mapping[str, Path]

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @cached_property
    def by_id(self) -> dict[str, Item]:
        return {item.id: item for item in self.items}

    @cached_property
    def fingerprint(self) -> str:
        """Changes whenever the set or order of item ids changes."""
        return hashlib.sha256("\n".join(i.id for i in self.items).encode()).hexdigest()[:16]


def load_dataset(data_dir: Path) -> Dataset:
    """Load and validate every ``*.toml`` file in ``data_dir``; raise :class:`DatasetError`."""
    if not data_dir.is_dir():
        raise DatasetError([Problem(str(data_dir), "data folder does not exist")])
    files = sorted(data_dir.glob("*.toml"))
    if not files:
        raise DatasetError([Problem(str(data_dir), "no *.toml data files found")])
    problems: list[Problem] = []
    items: list[Item] = []
    sources: dict[str, Path] = {}
    for path in files:
        raw_bytes = path.read_bytes()
        try:  # a byte order mark (some Windows editors write one) is not part of the text
            text = raw_bytes.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw_bytes[: exc.start].count(b"\n") + 1
            problems.append(
                Problem(
                    str(path),
                    f"not UTF-8 text: byte 0x{raw_bytes[exc.start]:02x} on line {line}"
                    " (save the file as UTF-8)",
                )
            )
            continue
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            problems.append(Problem(str(path), f"not valid TOML: {exc}"))
            continue
        for item_id, raw in document.items():
            where = f"{path}: item {item_id!r}"
            if not isinstance(raw, dict):
                problems.append(Problem(where, "must be a table ([id] with fields below it)"))
                continue
            if item_id in sources:
                problems.append(Problem(where, f"id already used in {sources[item_id]}"))
                continue
            if "id" in raw:
                problems.append(
                    Problem(
                        f"{where}, field 'id'",
                        f"the id is the table's name ([{item_id}]); remove this field",
                    )
                )
                continue
            try:
                item = Item.model_validate({"id": item_id, **raw})
            except ValidationError as exc:
                problems.extend(_problems(where, exc))
                continue
            items.append(item)
            sources[item_id] = path
    if problems:
        raise DatasetError(problems)
    return Dataset(tuple(items), sources)


def _problems(where: str, exc: ValidationError) -> Iterator[Problem]:
    for error in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in error["loc"] if part != "[key]") or "(item)"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field (see data/README.md for the fields an item may have)"
        if error["type"] == "missing":
            message = "required field is missing"
        yield Problem(f"{where}, field {loc!r}", message)
