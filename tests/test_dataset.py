"""The bundled dataset against the website's pages, and the loader's errors."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from babel import Locale

from bot.dataset import load_dataset
from bot.errors import DatasetError
from tests.conftest import SHARED
from tests.helpers import bundled_dataset, write_item

SEEDS = SHARED / "seeds"
PAGES = {
    "de": "000_cf4af984b4ed1a1f.txt",
    "en": "001_cf790a396e5f1930.txt",
    "fr": "002_9eea11c575111773.txt",
}
BULLET = re.compile(r"^\* \[(?P<name>.+?)\]\((?P<url>\S+?)\)\s*:?\s*(?P<rest>.*)$")


def _page_entries(language: str) -> list[dict[str, object]]:
    """Entries of a network page, parsed independently of the bot's own code."""
    path = SEEDS / PAGES[language]
    if not path.exists():
        pytest.skip("../shared/seeds is not available")
    section = "initiative"
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("### "):
            section = "petition" if "Petition" in line else "initiative"
        match = BULLET.match(line)
        if not match:
            continue
        rest = match["rest"]
        urls = [match["url"], *re.findall(r"\[[^\]]+\]\((\S+?)\)", rest)]
        plain = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", rest).replace("**", "")
        plain = plain.replace("VÃ¡", "Vá")  # the English page's mojibake, repaired
        country = re.search(r"\s*\(([^()]+)\)$", plain)
        if country:
            plain = plain[: country.start()]
        entries.append(
            {
                "kind": section,
                "name": match["name"].replace("**", ""),
                "url": match["url"],
                "urls": urls,
                "text": plain.strip(),
                "country": country[1] if country else None,
            }
        )
    return entries


@pytest.mark.parametrize("language", ["de", "en", "fr"])
def test_every_entry_of_each_page_is_in_the_dataset(language: str) -> None:
    """Every initiative and petition of a page is an item with that page's name, link,
    country and text, word for word."""
    dataset = bundled_dataset()
    by_url = {item.url: item for item in dataset}
    entries = _page_entries(language)
    assert entries
    for entry in entries:
        item = by_url[str(entry["url"])]
        assert item.kind == entry["kind"]
        assert item.name_in(language) == entry["name"]
        if entry["kind"] == "petition":
            assert item.urls == list(entry["urls"])  # type: ignore[union-attr]
            assert not item.description
        else:
            assert item.description[language] == entry["text"]
        if entry["country"]:
            assert item.territory is not None
            assert Locale.parse(language).territories[item.territory] == entry["country"]
        else:
            assert item.country is None


def test_pages_without_an_entry_have_no_text_in_that_language() -> None:
    """An initiative missing from a page has no text in that language (not an empty one)."""
    dataset = bundled_dataset()
    for language in ("de", "en", "fr"):
        urls = {str(e["url"]) for e in _page_entries(language)}
        for item in dataset:
            if item.kind == "initiative" and item.id != "11-11-11":
                assert (item.url in urls) == (language in item.description), (item.id, language)


def test_news_departures_are_in_the_dataset() -> None:
    """11.11.11's move to Bluesky and HelloQuitteX's departure of 20 January 2025 are recorded."""
    dataset = bundled_dataset()
    eleven = dataset.by_id["11-11-11"]
    assert eleven.country == "BE"
    assert eleven.departure is not None
    assert eleven.departure.platforms == ["bluesky"]
    assert str(eleven.departure.date) == "2025-01-20"
    hello = dataset.by_id["helloquitx"]
    assert "HelloQuitteX" in hello.aliases
    assert hello.departure is not None
    assert str(hello.departure.date) == "2025-01-20"
    assert hello.departure.platforms == ["mastodon", "bluesky"]
    assert set(eleven.description) == {"de", "en", "fr"}


def test_leavex_link_stays_site_relative() -> None:
    """LeaveX's own link is kept relative; SITE_BASE_URL resolves it at render time."""
    assert bundled_dataset().by_id["leavex"].urls == ["/about"]


BAD_DATASETS = [
    (
        "[a]\nkind = 'initiative'\nname = 'A'\nurls = ['https://a.example']\n"
        "description = { en = '' }\n",
        "'a'",
        "description.en",
        "must not be empty",
    ),
    (
        "[b]\nkind = 'campaign'\nname = 'B'\nurls = ['https://b.example']\n",
        "'b'",
        "kind",
        "initiative",
    ),
    ("[c]\nkind = 'petition'\nname = 'C'\nurls = []\n", "'c'", "urls", "at least 1"),
    ("[d]\nkind = 'petition'\nname = 'D'\nurls = ['ftp://d.example']\n", "'d'", "urls.0", "http"),
    (
        "[e]\nkind = 'petition'\nname = 'E'\nurls = ['https://e.example']\ncountry = 'XX'\n",
        "'e'",
        "country",
        "ISO 3166",
    ),
    (
        "[f]\nkind = 'petition'\nname = 'F'\nurls = ['https://f.example']\nhashtags = ['#F']\n",
        "'f'",
        "hashtags",
        "without the leading",
    ),
    ("[g]\nkind = 'petition'\nurls = ['https://g.example']\n", "'g'", "name", "required"),
    (
        "[h]\nkind = 'petition'\nname = 'H'\nurls = ['https://h.example']\ncolour = 'red'\n",
        "'h'",
        "colour",
        "unknown field",
    ),
    (
        "[i]\nkind = 'petition'\nname = 'I'\nurls = ['https://i.example']\n"
        "starts = 2025-02-01\nends = 2025-01-01\n",
        "'i'",
        "ends",
        "before starts",
    ),
    (
        "[j]\nkind = 'petition'\nname = 'J'\nurls = ['https://j.example']\n"
        "description = { EN = 'x' }\n",
        "'j'",
        "description.EN",
        "ISO 639-1",
    ),
    (
        "[l]\nkind = 'petition'\nname = 'L'\nurls = ['https://l.example']\n"
        "description = { dk = 'x' }\n",
        "'l'",
        "description.dk",
        "ISO 639-1",
    ),
    (
        "[m]\nkind = 'petition'\nname = 'M'\nurls = ['https://m.example']\nhashtags = ['tag_']\n",
        "'m'",
        "hashtags",
        "punctuation",
    ),
    (
        '[n]\nkind = "petition"\nname = "N\\u0000ul"\nurls = ["https://n.example"]\n',
        "'n'",
        "name",
        "U+0000",
    ),
    (
        '[o]\nkind = "petition"\nname = "Two\\nlines"\nurls = ["https://o.example"]\n',
        "'o'",
        "name",
        "line break",
    ),
    (
        '[p]\nkind = "petition"\nname = "P"\nurls = ["https://p.example"]\n'
        'names = { fr = "P\\nQ" }\n',
        "'p'",
        "names.fr",
        "line break",
    ),
    (
        '[q]\nkind = "petition"\nname = "Q"\nurls = ["https://q.example"]\n'
        'description = { en = "Sign \\u202eereh" }\n',
        "'q'",
        "description.en",
        "U+202E",
    ),
    (
        '[r]\nkind = "petition"\nname = "R"\nurls = ["https://r.example/a\\u0007b"]\n',
        "'r'",
        "urls.0",
        "control",
    ),
    (
        "[s]\nkind = 'petition'\nname = 'S'\nurls = ['https://s.example']\n"
        "image = { file = '/etc/passwd', alt = { en = 'x' } }\n",
        "'s'",
        "image.file",
        "relative to the data folder",
    ),
    (
        "[t]\nkind = 'petition'\nname = 'T'\nurls = ['https://t.example']\n"
        "image = { file = 'img/../../secret.png', alt = { en = 'x' } }\n",
        "'t'",
        "image.file",
        "inside the data folder",
    ),
    (
        "[u]\nkind = 'petition'\nname = 'U'\nurls = ['https://u.example']\n"
        'image = { file = "img/u.png", alt = { en = "a\\u0000b" } }\n',
        "'u'",
        "image.alt.en",
        "U+0000",
    ),
    (
        "[Bad_Id]\nkind = 'petition'\nname = 'K'\nurls = ['https://k.example']\n",
        "'Bad_Id'",
        "id",
        "pattern",
    ),
]


@pytest.mark.parametrize(("toml", "item", "field", "message"), BAD_DATASETS)
def test_bad_item_names_file_item_and_field(
    tmp_path: Path, toml: str, item: str, field: str, message: str
) -> None:
    """A malformed item is reported with its file, item id, field and a reason."""
    path = write_item(tmp_path / "data", toml)
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path / "data")
    text = str(info.value)
    assert str(path) in text
    assert f"item {item}" in text
    assert f"field {field!r}" in text
    assert message in text
    assert info.value.exit_code == 2


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Two bad items in two files give one error listing both."""
    write_item(
        tmp_path / "data", "[a]\nkind = 'x'\nname = 'A'\nurls = ['https://a.example']\n", "a.toml"
    )
    write_item(
        tmp_path / "data", "[b]\nkind = 'petition'\nurls = ['https://b.example']\n", "b.toml"
    )
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path / "data")
    assert len(info.value.problems) == 2


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    """Broken TOML is reported with the file and the line."""
    path = write_item(tmp_path / "data", "[a]\nkind = 'petition\nname = 'x'\n")
    with pytest.raises(DatasetError, match=rf"{re.escape(str(path))}: not valid TOML: .*line 2"):
        load_dataset(tmp_path / "data")


def test_a_byte_order_mark_is_read_and_other_encodings_are_named(tmp_path: Path) -> None:
    """A UTF-8 file with a byte order mark and Windows line ends loads; a Latin-1 file is
    reported with its line, not as a decoding traceback."""
    body = "[a]\r\nkind = 'petition'\r\nname = 'Café'\r\nurls = ['https://a.example.org']\r\n"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "items.toml").write_bytes(b"\xef\xbb\xbf" + body.encode())
    assert load_dataset(tmp_path / "data").by_id["a"].name == "Café"
    (tmp_path / "data" / "items.toml").write_bytes(body.encode("latin-1"))
    with pytest.raises(DatasetError, match=r"items\.toml: not UTF-8 text: byte 0xe9 on line 3"):
        load_dataset(tmp_path / "data")


def test_duplicate_id_across_files_is_an_error(tmp_path: Path) -> None:
    """The same id in two files is reported with both files."""
    body = "[a]\nkind = 'petition'\nname = 'A'\nurls = ['https://a.example']\n"
    first = write_item(tmp_path / "data", body, "1.toml")
    write_item(tmp_path / "data", body, "2.toml")
    with pytest.raises(DatasetError, match=rf"id already used in {re.escape(str(first))}"):
        load_dataset(tmp_path / "data")


def test_missing_or_empty_data_folder(tmp_path: Path) -> None:
    """A data folder that is missing or has no data files is a clear error."""
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"no \*\.toml"):
        load_dataset(tmp_path / "empty")


@pytest.mark.parametrize(
    "tag",
    [
        "हिन्दी",
        unicodedata.normalize("NFD", "Café"),
        "ça_va",
        "日本語",
        "Ελλάδα",
        "x·y",
        "A0",
        "2025x",
    ],
)
def test_hashtags_with_combining_marks_are_accepted(tmp_path: Path, tag: str) -> None:
    """A hashtag that both platforms take whole (Devanagari with its vowel signs and virama, a
    decomposed "Café", CJK, a middle dot) is accepted."""
    write_item(
        tmp_path / "data",
        f"[a]\nkind = 'petition'\nname = 'A'\nurls = ['https://a.example']\nhashtags = ['{tag}']\n",
    )
    assert load_dataset(tmp_path / "data").by_id["a"].hashtags == [tag]


def test_a_description_may_have_several_lines(tmp_path: Path) -> None:
    """Line breaks are refused in names but kept in descriptions and alt texts."""
    write_item(
        tmp_path / "data",
        '[a]\nkind = "petition"\nname = "A"\nurls = ["https://a.example"]\n'
        'description = { en = "One.\\nTwo." }\n'
        'image = { file = "img/a.png", alt = { en = "A\\nB" } }\n',
    )
    item = load_dataset(tmp_path / "data").by_id["a"]
    assert item.description["en"] == "One.\nTwo."
    assert item.image is not None and item.image.alt["en"] == "A\nB"
