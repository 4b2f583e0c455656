"""The platforms' own rules, ported into bot/rendering, against their sources: the TLD lists,
atproto's detection and ICU's grapheme clusters (RichText run in Node), Mastodon's count (the
Mastodon test server), and shortening to whole sentences."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.dataset import Item
from bot.errors import RenderError
from bot.post import PLATFORMS, PlatformLimits
from bot.rendering import bluesky_text, mastodon_text, tlds
from bot.rendering import graphemes as gr
from bot.rendering.shorten import sentence_ends
from tests.helpers import bundled_dataset, renderer
from tests.support import pds
from tests.support.mastodon.tlds import TLDS as TWITTER_TEXT_TLDS
from tests.support.mastodon_server import count_status_length
from tests.support.richtext import RichText, richtext_process

LANGUAGES = ("de", "en", "fr")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))


def test_mastodon_tlds_are_twitter_texts() -> None:
    """The bot's Mastodon TLDs are twitter-text 3.1.0's (the list the Mastodon test server was
    built from), no more, no less."""
    assert tlds.MASTODON == TWITTER_TEXT_TLDS


def test_bluesky_tlds_are_the_apps() -> None:
    """The bot's Bluesky TLDs are the ASCII entries of the ``tlds`` package @atproto/api
    bundles in the test PDS install."""
    index = pds.install_dir() / "node_modules" / "tlds" / "index.json"
    if not index.exists():
        pytest.skip("the test PDS is not installed")
    bundled = {tld for tld in json.loads(index.read_text(encoding="utf-8")) if tld.isascii()}
    assert bundled == tlds.BLUESKY


@pytest.fixture(scope="module")
def richtext() -> Iterator[RichText]:
    """atproto's own RichText in one Node process for the module."""
    yield from richtext_process()


PIECES = [
    " ",
    "\n",
    "\u202f",
    "(",
    ")",
    "«",
    "»",
    "„",
    "“",
    "*",
    ".",
    ",",
    "!",
    "?",
    "#",
    "$",
    "@",
    "https://",
    "http://",
    "HTTPS://",
    "www.",
    "leavex",
    ".eu",
    ".com",
    ".example",
    ".org/",
    "/aufruf-2025-",
    "日本語",
    "مرحبا",
    "TSLA",
    "LeaveX",
    "ça_va",
    "हिन्दी",
    "कि्या",
    "१२३",
    "2025",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\ufe0f",
    "\u0301",
    "👩‍👩‍👧‍👦",
    "🇪🇺",
    "0\u1aec",
    "[eure-instanz]",
    "josé",
]
TEXTS = st.lists(st.sampled_from(PIECES) | st.text(max_size=4), max_size=25).map("".join)


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(text="Visit leavex.eu, (www.a.org/b) and «\u202f#LeaveX\u202f» $TSLA!")
@example(text="HTTPS://a.org httpbin.org https://a.org/x.) #tag_ #१२३ #a\u200db")
@given(text=TEXTS)
def test_detection_and_graphemes_are_richtexts(richtext: RichText, text: str) -> None:
    """On any text, the port of atproto's detection finds exactly RichText's links and tags
    (with the lexicon's limits applied, and a scheme-less link's URI written with https://),
    and the bot, the Mastodon test server and RichText count the same grapheme clusters."""
    [seen] = richtext.detect([text])
    raw = text.encode("utf-8")

    def at(index: int) -> int:
        return len(text[:index].encode("utf-8"))

    ours = {(at(f.start), at(f.end), f.kind) for f in bluesky_text.detect(text)}
    theirs = {
        (f.start, f.end, f.kind)
        for f in seen.facets
        if f.kind in ("link", "tag")
        and (f.kind != "tag" or len(f.value.encode()) <= bluesky_text.MAX_TAG_BYTES)
        and (f.kind != "link" or bluesky_text.is_uri(f.value) or "://" not in f.value)
    }
    assert ours == theirs, raw
    assert gr.graphemes(text) == seen.graphemes
    if "@" not in text and ":" not in text:
        assert count_status_length(text) == mastodon_text.length(text)


def test_bundled_shortened_posts_end_at_a_sentence() -> None:
    """Every shortened post of the bundled dataset keeps whole sentences of its description;
    only where not even the first sentence fits does it end with a word and an ellipsis (and
    never with ".…")."""
    seen = 0
    for item in bundled_dataset():
        for language in LANGUAGES:
            if item.languages() is not None and language not in (item.languages() or ()):
                continue
            description = item.description.get(language, "")
            ends = sentence_ends(description, language)
            for platform in PLATFORMS:
                post = renderer().render(item, language, platform)
                if not post.truncated:
                    continue
                seen += 1
                kept = [p for p in post.text.split("\n\n") if description[:20] in p[:40]]
                assert kept, post.text
                body = kept[0]
                if body.endswith("…"):
                    assert not body.endswith(".…")
                    first = description[: ends[0]] if ends else description
                    longer = Item.model_validate(
                        {**item.model_dump(), "description": {language: first}}
                    )
                    assert renderer().render(longer, language, platform).truncated, body
                else:
                    assert len(body) in ends, body
    assert seen >= 10


@pytest.mark.parametrize(
    ("language", "text", "sentences"),
    [
        ("de", "Etwa z. B. Vereine, u. a. Gewerkschaften. Dr. Müller sagt es. Ende.", 3),
        ("en", "It started on Jan. 20, e.g. with unions. Mr. Smith agreed. The end.", 3),
        ("fr", "Lancé p. ex. par la LDH. Elle a grandi vite ! Fin.", 3),
        ("fr", "Mme. Durand et Dr. Martin signent le 1er janv. 2025. Fin.", 2),
        ("de", "Laut Hrn. Müller verließen sie X. Wir folgen am 20. Jan. 2025. Ende.", 3),
        ("en", "They left X. Mr. Smith followed on Jan. 20. The end.", 3),
        ("fr", "Ils quittent X. « Assez ! » disent-ils.", 2),
    ],
)
def test_sentences_know_abbreviations(language: str, text: str, sentences: int) -> None:
    """The sentence segmenter knows German, English and French abbreviations: "z. B.",
    "u. a.", "Dr.", "Jan.", "e.g.", "Mr.", "p. ex." end no sentence."""
    assert len(sentence_ends(text, language)) + 1 == sentences


def test_a_lower_case_description_starts_upper_case() -> None:
    """The English page's Bye Bye Elon text starts with "as a protest": the post says "As a
    protest"; a first word with a capital or a dot stays as written."""
    post = renderer().render(bundled_dataset().by_id["bye-bye-elon"], "en", "mastodon")
    assert "\n\nAs a protest against" in post.text
    for description, start in [("eBay and X", "eBay"), ("leavex.eu explains", "leavex.eu")]:
        item = Item.model_validate(
            {
                "id": "x",
                "kind": "initiative",
                "name": "X",
                "urls": ["https://x.example.org"],
                "description": {"en": description},
            }
        )
        assert f"\n\n{start}" in renderer().render(item, "en", "mastodon").text


def test_a_name_that_cannot_fit_is_refused_with_its_reason() -> None:
    """A name longer than the limit is never cut: the item is refused, in characters."""
    item = Item.model_validate(
        {"id": "x", "kind": "initiative", "name": "N" * 400, "urls": ["https://x.example.org"]}
    )
    with pytest.raises(RenderError, match=r"\d+ characters; the limit is 300$"):
        renderer().render(item, "en", "bluesky", PlatformLimits(300, max_bytes=3000))


TAG_TEXT = st.text(
    st.characters(categories=["L", "M", "Nd", "No", "Pc", "Pd", "Po", "Sk", "So", "Cf"]),
    min_size=1,
    max_size=12,
)


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(tag="हिन्दी")
@example(tag="Cafe\u0301")
@example(tag="A0")
@example(tag="tag_")
@example(tag="१२३")
@given(tag=TAG_TEXT)
def test_hashtag_validation_is_both_platforms(richtext: RichText, tag: str) -> None:
    """The dataset accepts a hashtag exactly when RichText detects "#tag" as that whole tag
    (within the lexicon's 640 bytes) and the Mastodon test server links it whole: validation
    refuses nothing both platforms take and accepts nothing either cuts."""
    from bot.dataset import hashtag_problem
    from tests.support.mastodon.text import _extract_hashtags

    [seen] = richtext.detect([f"#{tag}"])
    bluesky = [f.value for f in seen.facets if f.kind == "tag"] == [tag]
    mastodon = [e.value for e in _extract_hashtags(f"#{tag}")] == [tag]
    whole = bluesky and mastodon and len(tag.encode()) <= bluesky_text.MAX_TAG_BYTES
    assert (hashtag_problem(tag) is None) == whole, (bluesky, mastodon)


WHOLE_OR_NOT = [
    "https://example.org/",
    "https://de.wikipedia.org/wiki/X_(Plattform)",
    "https://exämple.de/über?q=ü#teil",
    "https://例え.jp/パス",
    "https://example.org/a?b=c&d=e",
    "https://example.org/<b>",
    "https://example.org/page.",
    "https://example.org/a)",
    'https://example.org/"quoted"',
    "https://example.org/x!",
    "https://例え.テスト/",
]


def test_links_cut_at_their_end_are_refused() -> None:
    """The first five links are whole on both platforms, the others lose their end (or, with
    a TLD twitter-text does not know, are no link on Mastodon)."""
    from bot.rendering.links import link_problem

    assert [link_problem(url) is None for url in WHOLE_OR_NOT] == [True] * 5 + [False] * 6


@pytest.mark.slow
@pytest.mark.parametrize("url", WHOLE_OR_NOT)
def test_a_link_is_accepted_when_both_platforms_link_it_whole(richtext: RichText, url: str) -> None:
    """The renderer refuses a dataset link exactly when Mastodon's extractor (the test
    server's) or atproto's RichText would link less than the whole of it."""
    from bot.rendering.links import link_problem
    from tests.support.mastodon.text import extract_urls

    line = f"→ {url}\n"
    [seen] = richtext.detect([line])
    whole_on_bluesky = list(seen.of_kind("link").values()) == [url]
    whole_on_mastodon = [e.value for e in extract_urls(line)] == [url]
    assert (link_problem(url) is None) == (whole_on_bluesky and whole_on_mastodon)


def test_a_post_shortened_after_leaving_x_ends_at_that_sentence() -> None:
    """A French description whose first sentence ends with "X." is shortened there (whole
    sentence, no ellipsis), not cut mid-sentence; "Mme." ends no sentence."""
    first = "Mme. Durand et 86 organisations ont quitté X."
    item = Item.model_validate(
        {
            "id": "x-quitters",
            "kind": "initiative",
            "name": "Quitter X",
            "urls": ["https://example.org/quitter"],
            "description": {"fr": f"{first} Elles rejoignent {'Mastodon et Bluesky, ' * 20}."},
        }
    )
    post = renderer().render(item, "fr", "bluesky")
    assert post.truncated
    assert f"\n{first}\n" in f"\n{post.text}\n", post.text


URL_TAILS = st.text(st.sampled_from(list("abZ09-._~/?#&=%+()<>\"'!,;:*@ü")), max_size=12)


@settings(max_examples=EXAMPLES, deadline=None)
@example(host="example", tld="org", tail="/page.")
@example(host="a-b", tld="de", tail="/x?q=1&r=2#f")
@example(host="x", tld="example", tail="")
@given(
    host=st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True),
    tld=st.sampled_from(["org", "de", "com", "eu", "social", "example", "local", "zz"]),
    tail=URL_TAILS.map(lambda t: "/" + t if t else ""),
)
def test_the_plain_link_shortcut_agrees_with_the_full_rules(host: str, tld: str, tail: str) -> None:
    """Whatever the renderer's shortcut takes as a whole link, the platforms' full rules
    take too (the shortcut spares `check` on 10,000 items their cost)."""
    from bot.rendering.links import full_check, link_problem

    url = f"https://{host}.{tld}{tail}"
    if link_problem(url) is None:
        assert full_check(url) is None, url
    else:
        assert link_problem(url) == full_check(url)
