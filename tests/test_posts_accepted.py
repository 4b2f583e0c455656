"""Every post the bot calls postable is accepted by the servers themselves: a real PDS (which
validates the record against the lexicon: 300 graphemes, 3,000 bytes, tag facets of at most 640
bytes, link URIs) and the Mastodon test server (which counts like Mastodon)."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from atproto import Client
from mastodon import Mastodon

from bot.dataset import Item
from bot.errors import RenderError
from bot.post import PLATFORMS, RenderedPost
from tests.helpers import bundled_dataset, renderer
from tests.support.mastodon_server import MastodonTestServer
from tests.support.pds import PDS

pytestmark = pytest.mark.slow

LANGUAGES = ("de", "en", "fr")
TOKEN = "accepted-token"
FAMILY = "👨‍👩‍👧‍👦"  # one grapheme, 25 UTF-8 bytes

#: The kinds of text issue 11 found refused (or miscounted) by the servers, one item each.
HOSTILE: dict[str, dict[str, Any]] = {
    "non-public-tld": {"description": "Aufruf: https://petition.example/aufruf-2025- " * 12},
    "cjk-path": {"description": "Siehe https://example.org/日本語/パス/" + "長い" * 40 + " " * 2},
    "mentions": {"description": "Fragt @josé@mastodon.social und @ana@mastodon.social. " * 9},
    "indic": {"description": "कि्या क्षत्रिय हिन्दी। " * 30, "hashtags": ["हिन्दी"]},
    "emoji-name": {"name": FAMILY * 125, "description": "Ein Name aus 125 Emoji."},
    "emoji-text": {"description": (FAMILY + " ") * 150},
    # 40 graphemes, 840 bytes: a tag for atproto's detection, too big for the lexicon
    "long-tag": {"description": "#" + ("a" + "\u0301" * 10) * 40 + " und #" + "é" * 64 + "."},
    "bom-url": {"description": "Hier https://a.org/x\ufeffy und https://b.org/\u2028z."},
    "glued": {
        "description": "„https://leavex.eu/zitat“ und **https://leavex.eu/x** und (a.org/b)."
    },
    "scheme-less": {"description": "Mehr unter leavex.eu und www.helloquitx.com/fr/appel heute."},
    "french-tag": {"description": "Suivez «#LeaveX» et $TSLA ! " * 8},
    "ip-literal": {"description": "Fragt http://[eure-instanz]/about oder http://[::1]/x."},
    "decomposed": {"description": "Ein Café.", "hashtags": [unicodedata.normalize("NFD", "Café")]},
    "lower-case": {"description": "bye bye, X. " * 40},
}


def _items() -> list[Item]:
    items = list(bundled_dataset())
    for name, fields in HOSTILE.items():
        description = fields.get("description")
        raw = {
            "id": name,
            "kind": "initiative",
            "name": fields.get("name", name),
            "urls": ["https://leavex.example.org/" + name],
            "hashtags": fields.get("hashtags", []),
            "description": dict.fromkeys(LANGUAGES, description) if description else {},
        }
        items.append(Item.model_validate(raw))
    return items


def _postable() -> Iterator[RenderedPost]:
    """What `check` calls postable: every item × language × platform that renders."""
    r = renderer(today=dt.date(2026, 3, 1))
    for item in _items():
        for language in LANGUAGES:
            if item.languages() is not None and language not in (item.languages() or ()):
                continue
            for platform in PLATFORMS:
                try:
                    yield r.render(item, language, platform)
                except RenderError:
                    continue


def _facet(start: int, end: int, kind: str, value: str) -> dict[str, Any]:
    feature = (
        {"$type": "app.bsky.richtext.facet#link", "uri": value}
        if kind == "link"
        else {"$type": "app.bsky.richtext.facet#tag", "tag": value}
    )
    return {"index": {"byteStart": start, "byteEnd": end}, "features": [feature]}


def test_every_postable_post_is_accepted(pds: PDS, mastodon: MastodonTestServer) -> None:
    """Every post of the bundled dataset and of an item per hostile kind that renders is
    created by the real PDS (text, langs and facets as the bot made them) and by the Mastodon
    test server; the hostile items that cannot fit (a name of 125 emoji, 3,125 bytes) are
    refused by the renderer with the reason, not by the server."""
    user = pds.create_account()
    client = Client(base_url=pds.url)
    client.login(user.handle, user.password)
    mastodon.add_account(TOKEN, "accepted")
    api = Mastodon(api_base_url=mastodon.base_url, access_token=TOKEN, request_timeout=10)
    counts = {"mastodon": 0, "bluesky": 0}
    for post in _postable():
        if post.platform == "mastodon":
            status = api.status_post(post.text, language=post.language)
            assert status["id"], post.text
        else:
            record: dict[str, Any] = {
                "$type": "app.bsky.feed.post",
                "text": post.text,
                "createdAt": "2026-03-01T10:00:00.000Z",
                "langs": [post.language],
            }
            if post.facets:
                record["facets"] = [_facet(f.start, f.end, f.kind, f.value) for f in post.facets]
            created = client.com.atproto.repo.create_record(
                {"repo": user.did, "collection": "app.bsky.feed.post", "record": record}
            )
            assert created.uri, post.text
        counts[post.platform] += 1
    assert counts["mastodon"] >= 60 and counts["bluesky"] >= 60, counts


def test_a_name_too_big_is_refused_with_its_bytes() -> None:
    """A name of 125 emoji (125 characters, 3,125 UTF-8 bytes) cannot fit Bluesky's 3,000
    bytes: the item is refused for Bluesky, saying bytes (not characters)."""
    item = next(i for i in _items() if i.id == "emoji-name")
    with pytest.raises(RenderError, match=r"UTF-8 bytes; the limit is 3,000 bytes") as info:
        renderer().render(item, "de", "bluesky")
    assert "characters" not in str(info.value).split(":")[-1]
    assert renderer().render(item, "de", "mastodon").length <= 500
