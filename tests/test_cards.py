"""Share cards: drawn with Pillow for every item × language, within Bluesky's thumbnail limit,
cached by content, with alt text in the post's language; `leavex-bot cards` writes them."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.cards import card_file, card_texts, ensure, picture_for
from bot.cards.draw import BOLD, MAX_BYTES, MIN_NAME_SIZE, NAME_BOX, _font, draw_card, fit_name
from bot.cards.words import CardTexts, alt_text
from bot.cli import cli
from bot.post import RenderedPost, decode_extras, encode_extras
from tests.helpers import bundled_dataset, renderer

TODAY = dt.date(2026, 3, 1)
LANGUAGES = ("de", "en", "fr")


def _pairs() -> list[tuple[str, str]]:
    return [
        (item.id, lang)
        for item in bundled_dataset()
        for lang in LANGUAGES
        if item.languages() is None or lang in (item.languages() or ())
    ]


@pytest.mark.parametrize(("item_id", "language"), _pairs())
def test_every_bundled_card_fits_bluesky_and_mastodon(item_id: str, language: str) -> None:
    """Each card is a 1200×630 PNG under 1,000,000 bytes, with alt text naming the item."""
    item = bundled_dataset().by_id[item_id]
    picture = picture_for(item, language, TODAY)
    assert picture is not None
    data = ensure(picture).read_bytes()
    assert len(data) < MAX_BYTES
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.size) == ("PNG", (1200, 630))
    assert item.name_in(language) in picture.alt


def test_card_texts_say_what_the_item_is_in_the_posts_language() -> None:
    """Kind, country, call to action and departure date are in the post's language."""
    items = bundled_dataset().by_id
    petition = card_texts(items["musk-stoppen"], "fr", TODAY)
    assert petition is not None
    assert (petition.kind, petition.country, petition.line) == (
        "Pétition",
        "Allemagne",
        "Signez la pétition",
    )
    left = card_texts(items["helloquitx"], "de", TODAY)
    assert left is not None
    assert left.line == "Hat X am 20. Januar 2025 verlassen – für Mastodon und Bluesky"
    assert left.network == "Netzwerk LeaveX"
    assert left.site == "helloquitx.com"
    leaving = card_texts(items["helloquitx"], "en", dt.date(2025, 1, 1))
    assert leaving is not None
    assert leaving.line.startswith("Leaves X on January 20, 2025")


def test_alt_text_per_language() -> None:
    """The alt text is a sentence in the card's language saying what the card shows."""
    item = bundled_dataset().by_id["leavex-open-letter"]
    alts = {}
    for lang in LANGUAGES:
        texts = card_texts(item, lang, TODAY)
        assert texts is not None
        alts[lang] = alt_text(texts)
    assert alts["en"].startswith("Share card of the LeaveX network: petition “An Open Letter")
    assert "Sign the petition." in alts["en"]
    assert alts["de"].startswith("Karte des Netzwerks LeaveX: Petition „An Open Letter")
    assert "Jetzt unterschreiben." in alts["de"]
    assert alts["fr"].startswith("Carte du réseau LeaveX\u202f: pétition «\u202fAn Open Letter")
    assert "Signez la pétition." in alts["fr"]


NAMES = [
    "X",
    "HelloQuitX",
    "#MakeSocialsSocialAgain",
    "An Open Letter to All European Politicians and Leaders to Abandon X/Twitter",
    "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft",
    " ".join(["Sehr lange Namen"] * 30),
    "W" * 400,
]


@pytest.mark.parametrize("name", NAMES)
def test_long_names_wrap_or_shrink_and_never_overflow(name: str) -> None:
    """Every line of the name fits the card's width and all lines fit its height; a short
    name keeps the largest size, and text is never lost except behind a final ellipsis."""
    size, lines = fit_name(name)
    assert size >= MIN_NAME_SIZE
    font = _font(BOLD, size)
    assert all(font.getlength(line) <= NAME_BOX[0] for line in lines)
    assert len(lines) * int(size * 1.18) <= NAME_BOX[1]
    joined = "".join(lines).replace(" ", "")
    if not lines[-1].endswith("…"):
        assert joined == name.replace(" ", "")
    if name == "HelloQuitX":
        assert (size, lines) == (92, ["HelloQuitX"])


@settings(max_examples=60, deadline=None)
@given(
    st.text(
        alphabet=st.characters(categories=("L", "N", "P", "Zs"), exclude_characters="\u00a0"),
        min_size=1,
        max_size=250,
    ).filter(str.strip)
)
def test_any_name_fits_the_card(name: str) -> None:
    """Whatever the name (letters of any script, digits, punctuation, long words), its lines
    fit the name box in width and together in height."""
    size, lines = fit_name(name)
    font = _font(BOLD, size)
    assert lines
    assert all(font.getlength(line) <= NAME_BOX[0] for line in lines)
    assert len(lines) * int(size * 1.18) <= NAME_BOX[1]


def test_cards_are_cached_by_content(tmp_path: Path) -> None:
    """The same texts reuse the cached file; another name, or a deleted cache, draws anew."""
    item = bundled_dataset().by_id["bye-bye-elon"]
    picture = picture_for(item, "en", TODAY)
    assert picture is not None
    path = ensure(picture)
    stamp = path.stat().st_mtime_ns
    assert ensure(picture) == path
    assert path.stat().st_mtime_ns == stamp
    renamed = picture_for(item.model_copy(update={"name": "Bye Bye"}), "en", TODAY)
    assert renamed is not None
    assert renamed.file != picture.file
    path.unlink()
    assert ensure(picture).read_bytes() == draw_card(CardTexts.from_pairs(picture.card))


def test_card_file_depends_on_every_text() -> None:
    """Changing any text of the card changes its file name."""
    base = CardTexts("en", "Name", "Petition", "Germany", "Sign", "LeaveX network", "a.example")
    names = {card_file(base)}
    for field in ("name", "kind", "country", "line", "network", "site"):
        changed = dict(base.pairs())
        changed[field] += "!"
        names.add(card_file(CardTexts.from_pairs(tuple(changed.items()))))
    assert len(names) == 7


def test_card_file_changes_with_pillows_version() -> None:
    """A card drawn by another Pillow (its text layout and PNG encoder change) is not reused:
    the version is part of the file name."""
    import importlib.metadata

    import bot.cards

    texts = CardTexts("en", "Name", "Petition", "Germany", "Sign", "LeaveX network", "a.example")
    before = card_file(texts)
    real = importlib.metadata.version
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            importlib.metadata,
            "version",
            lambda name: "0.0-other" if name.lower() == "pillow" else real(name),
        )
        bot.cards._layout_tag.cache_clear()
        try:
            assert card_file(texts) != before
        finally:
            bot.cards._layout_tag.cache_clear()
    assert card_file(texts) == before


def test_rendered_posts_carry_the_picture_and_keep_it_through_the_plan() -> None:
    """Both platforms' posts carry the picture; Bluesky's link card has it as thumbnail; a
    post rebuilt from the stored plan keeps file, alt text, focus and card texts."""
    item = bundled_dataset().by_id["helloquitx"]
    posts: list[RenderedPost] = [
        renderer(today=TODAY).render(item, "fr", platform) for platform in ("mastodon", "bluesky")
    ]
    mastodon, bluesky = posts
    assert mastodon.picture is not None
    assert mastodon.picture == bluesky.picture
    assert bluesky.card is not None
    assert (bluesky.card.thumb, bluesky.card.thumb_alt) == (
        mastodon.picture.file,
        mastodon.picture.alt,
    )
    assert decode_extras(encode_extras(mastodon))["picture"] == mastodon.picture
    assert decode_extras(encode_extras(bluesky))["card"] == bluesky.card


def test_an_items_own_picture_is_preferred_with_its_alt_text() -> None:
    """An item with an image uses it, with the dataset's alt text for the language."""
    from bot.dataset import Image as ItemImage

    item = bundled_dataset().by_id["juntas"]
    own = item.model_copy(
        update={"image": ItemImage(file="img/juntas.png", alt={"en": "The Juntas logo"})}
    )
    picture = picture_for(own, "en", TODAY)
    assert picture is not None
    assert (picture.file, picture.alt, picture.card) == ("img/juntas.png", "The Juntas logo", ())
    french = picture_for(own, "fr", TODAY)
    assert french is not None
    assert french.alt == ""


def test_cards_command_writes_pngs(tmp_path: Path) -> None:
    """`leavex-bot cards --item X --language L --out DIR` writes ITEM.LANG.png and its alt."""
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["cards", "--out", str(out), "--item", "musk-stoppen", "--language", "de"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    written = out / "musk-stoppen.de.png"
    assert Image.open(written).size == (1200, 630)
    assert "alt: Karte des Netzwerks LeaveX: Petition „Musk stoppen" in result.output
    assert "1 picture in" in result.output
    bad = CliRunner().invoke(cli, ["cards", "--item", "nope"])
    assert bad.exit_code == 2
    assert "no item 'nope'" in bad.output


def _check_item(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, image: str) -> str:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "items.toml").write_text(
        "[own]\nkind = 'initiative'\nname = 'Own Picture'\nurls = ['https://own.example.org']\n"
        f"image = {image}\n"
        "[own.description]\nde = 'Text.'\nen = 'Text.'\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DATA_DIR", str(data))
    result = CliRunner().invoke(cli, ["check"], catch_exceptions=False)
    return f"{result.exit_code}\n{result.output}"


def test_check_refuses_a_picture_without_alt_text_in_a_posted_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An item's own picture needs alt text in every language it is posted in."""
    (tmp_path / "data").mkdir()
    Image.new("RGB", (40, 20), "white").save(tmp_path / "data" / "own.png")
    out = _check_item(tmp_path, monkeypatch, "{ file = 'own.png', alt = { de = 'Ein Logo' } }")
    assert out.startswith("1\n"), out
    assert "has no alt text in 'en' (image.alt.en)" in out
    fine = _check_item(
        tmp_path, monkeypatch, "{ file = 'own.png', alt = { de = 'Ein Logo', en = 'A logo' } }"
    )
    assert fine.startswith("0\n"), fine


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not an image", "is not an image Pillow can read"),
        (b"\x89PNG" + b"\0" * 1_000_000, "a Bluesky link-card thumbnail must be under 1,000,000"),
    ],
)
def test_check_refuses_a_picture_the_platforms_cannot_take(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, message: str
) -> None:
    """A file that is no image, or too large for a Bluesky card thumbnail, is an error."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "own.png").write_bytes(content)
    out = _check_item(
        tmp_path, monkeypatch, "{ file = 'own.png', alt = { de = 'Logo', en = 'Logo' } }"
    )
    assert out.startswith("1\n"), out
    assert message in out


def test_preview_shows_the_pictures_alt_text() -> None:
    """`preview` shows each post's picture with its alt text, in the post's language."""
    result = CliRunner().invoke(cli, ["preview", "-n", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "│ [picture, alt text: " in result.output


def test_posting_draws_cards_without_loading_pillow(tmp_path: Path) -> None:
    """The poster's prepare() draws a missing card in a child process: the card appears, the
    same as drawn in-process, and the posting process never imports Pillow."""
    import subprocess
    import sys

    from tests.helpers import ROOT

    code = (
        "import datetime as dt, sys\n"
        "from bot.cards import picture_for, prepare\n"
        "from bot.dataset import load_dataset\n"
        f"item = load_dataset(__import__('pathlib').Path({str(ROOT / 'data')!r})).by_id['juntas']\n"
        "picture = picture_for(item, 'fr', dt.date(2026, 3, 1))\n"
        "prepare(picture)\n"
        "print(picture.file)\n"
        "print('PIL' in sys.modules)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    file, pillow = done.stdout.split()
    assert pillow == "False"
    texts = card_texts(bundled_dataset().by_id["juntas"], "fr", TODAY)
    assert texts is not None
    assert Path(file).read_bytes() == draw_card(texts)


def test_a_picture_follows_the_cache_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same item asked again after the cache folder moved gets a card in the new one."""
    item = bundled_dataset().by_id["juntas"]
    first = picture_for(item, "en", TODAY)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "elsewhere"))
    second = picture_for(item, "en", TODAY)
    assert first is not None and second is not None
    assert second.file.startswith(str(tmp_path / "elsewhere"))
    assert Path(first.file).name == Path(second.file).name


def test_cards_command_reports_a_missing_own_picture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An item whose own picture file is missing is reported (exit 1), the others written."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "items.toml").write_text(
        "[own]\nkind = 'initiative'\nname = 'Own'\nurls = ['https://own.example.org']\n"
        "image = { file = 'gone.png', alt = { en = 'Logo' } }\n"
        "[card]\nkind = 'petition'\nname = 'Card'\nurls = ['https://card.example.org']\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DATA_DIR", str(data))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["cards", "--out", str(out), "--language", "en"], catch_exceptions=False
    )
    assert result.exit_code == 1
    assert "own.en: cannot read" in result.output
    assert (out / "card.en.png").is_file()


def test_threads_needing_the_same_new_card_draw_it_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """16 lane threads post the same item at once: every one gets the whole card, none fails
    on another's half-written file, and it is drawn once."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import bot.cards.draw as drawing

    item = bundled_dataset().by_id["bye-bye-elon"]
    picture = picture_for(item, "de", TODAY)
    assert picture is not None
    Path(picture.file).unlink(missing_ok=True)
    drawn = []
    original = drawing.draw_card
    start = threading.Barrier(16)

    def counting(texts: CardTexts) -> bytes:
        drawn.append(texts)
        return original(texts)

    monkeypatch.setattr(drawing, "draw_card", counting)

    def one(_: int) -> bytes:
        start.wait(timeout=30)
        return ensure(picture).read_bytes()

    with ThreadPoolExecutor(16) as pool:
        cards = list(pool.map(one, range(16)))
    assert len(drawn) == 1
    assert all(card == cards[0] for card in cards)
    assert Image.open(io.BytesIO(cards[0])).size == (1200, 630)
