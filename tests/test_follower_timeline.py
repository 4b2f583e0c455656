"""What a follower sees, read through the real Bluesky AppView: after `leavex-bot post`, the
follower's timeline has the post with its text, language, every link and tag facet, the link
card with a thumbnail URL that serves an image, and the reply and quote rules."""

from __future__ import annotations

import datetime as dt
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.state import Store
from tests.helpers import SITE, bundled_dataset, renderer
from tests.support.appview import AppView, User, appview_server

pytestmark = pytest.mark.slow
SLOT = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def appview() -> Iterator[AppView]:
    yield from appview_server()


def _in_timeline(appview: AppView, reader: User, uri: str) -> dict[str, Any] | None:
    feed = appview.call("app.bsky.feed.getTimeline", params={"limit": 50}, token=reader.token)
    return next((f["post"] for f in feed["feed"] if f["post"]["uri"] == uri), None)


def _post_as(appview: AppView, reader: User, uri: str) -> dict[str, Any]:
    [post] = appview.call("app.bsky.feed.getPosts", params={"uris": [uri]}, token=reader.token)[
        "posts"
    ]
    return dict(post)


def test_a_follower_sees_the_post_with_card_picture_and_reply_rules(
    appview: AppView, monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    """A follower follows the bot; after `leavex-bot post` (REPLY_POLICY=followers,
    QUOTE_POLICY=nobody) the follower's getTimeline shows the post as rendered, with langs,
    facets, the external card and a thumbnail URL serving an image; the follower may reply,
    a non-follower sees replies disabled, and nobody may quote it."""
    bot = appview.create_account()
    follower = appview.create_account()
    stranger = appview.create_account()
    appview.follow(follower, bot)
    for key, value in {
        "BLUESKY_SERVICE_URL": appview.pds_url,
        "BLUESKY_HANDLE": bot.handle,
        "BLUESKY_APP_PASSWORD": bot.password,
        "SITE_BASE_URL": SITE,
        "DATABASE_URL": sqlite_url,
        "POST_LANGUAGES": "fr",
        "REPLY_POLICY": "followers",
        "QUOTE_POLICY": "nobody",
    }.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["post", "--slot", SLOT.isoformat()], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with Store(sqlite_url) as store:
        [row] = store.history(limit=5)
    uri = f"at://{bot.did}/app.bsky.feed.post/{row.remote_id}"
    appview.process_all()

    post = _in_timeline(appview, follower, uri)
    assert post is not None, "the post is not in the follower's timeline"
    record = post["record"]
    assert record["text"] == row.text
    assert record["langs"] == ["fr"]
    item = bundled_dataset().by_id[row.item_id]
    rendered = renderer().render(item, "fr", "bluesky")
    expected = sorted((f.start, f.end, f.value) for f in rendered.facets)
    seen = sorted(
        (
            f["index"]["byteStart"],
            f["index"]["byteEnd"],
            f["features"][0].get("uri") or f["features"][0].get("tag"),
        )
        for f in record["facets"]
    )
    assert seen == expected
    assert {f["features"][0]["$type"] for f in record["facets"]} >= {"app.bsky.richtext.facet#link"}

    embed = post["embed"]
    assert embed["$type"] == "app.bsky.embed.external#view"
    external = embed["external"]
    assert rendered.card is not None
    assert (external["uri"], external["title"], external["description"]) == (
        rendered.card.uri,
        rendered.card.title,
        rendered.card.description,
    )
    thumb = external["thumb"]
    assert thumb.startswith(appview.appview_url)
    with urllib.request.urlopen(thumb, timeout=30) as response:
        body = response.read()
        assert response.status == 200
        assert response.headers["content-type"].startswith("image/")
        assert len(body) > 1000

    assert post["threadgate"]["record"]["allow"] == [
        {"$type": "app.bsky.feed.threadgate#followerRule"}
    ]
    assert not post["viewer"].get("replyDisabled")
    as_stranger = _post_as(appview, stranger, uri)
    assert as_stranger["viewer"]["replyDisabled"] is True
    assert as_stranger["viewer"]["embeddingDisabled"] is True
    assert _in_timeline(appview, stranger, uri) is None  # not following: not in the timeline


def test_the_stack_listens_on_loopback_only(appview: AppView) -> None:
    """Every service the stack reports is on 127.0.0.1, and the indexing wait is bounded."""
    from urllib.parse import urlsplit

    for key in ("plcUrl", "pdsUrl", "appviewUrl", "controlUrl"):
        assert urlsplit(appview.info[key]).hostname == "127.0.0.1", key
    assert appview.process_all() < 10_000


def test_stop_is_idempotent_without_start() -> None:
    """stop() on a stack that never started, or twice, does nothing."""
    stack = AppView()
    stack.stop()
    stack.stop()
    assert not stack.running
