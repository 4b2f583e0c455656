"""Engagement end to end with real software: the bot posts to a local Bluesky (PLC, PDS and the
real ``bsky`` AppView) and to the Mastodon test server; on Bluesky a follower likes, reposts and
replies to the post, on Mastodon another account favourites and boosts it; ``leavex-bot stats``
then shows exactly those counts, and so does the status page's engagement page. Also the Bluesky
reader on its own: 25 posts per getPosts through the PDS, a deleted post recorded as deleted."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from mastodon import Mastodon
from pydantic import SecretStr
from starlette.testclient import TestClient

from bot.app import App
from bot.cli import cli
from bot.publishing.bluesky import BlueskyPublisher
from bot.publishing.bluesky_engagement import BlueskyEngagement
from bot.publishing.engagement import Counts, Reading, engagement_reader
from bot.state import Store, StoreVault
from bot.web.app import create_app
from tests.helpers import SITE, account
from tests.support.appview import AppView, User, appview_server
from tests.support.mastodon_server import MastodonTestServer

pytestmark = pytest.mark.slow
TOKEN = "token-bot"
FAN = "token-fan"


@pytest.fixture(scope="module")
def appview() -> Iterator[AppView]:
    yield from appview_server()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def _create(appview: AppView, user: User, collection: str, record: dict[str, Any]) -> None:
    appview.call(
        "com.atproto.repo.createRecord",
        body={"repo": user.did, "collection": collection, "record": record},
        token=user.token,
    )


def _publisher(appview: AppView, bot: User, sqlite_url: str) -> BlueskyPublisher:
    """The bot's publisher for ``bot`` on the stack's PDS, its session kept in the state."""
    acct = account(
        name="b",
        platform="bluesky",
        service_url=appview.pds_url,
        handle=bot.handle,
        app_password=SecretStr(bot.password),
    )
    Store(sqlite_url).close()  # the schema, for the session vault
    return BlueskyPublisher(acct, StoreVault(sqlite_url))


def _view(appview: AppView, reader: User, uri: str) -> dict[str, Any]:
    [post] = appview.call("app.bsky.feed.getPosts", params={"uris": [uri]}, token=reader.token)[
        "posts"
    ]
    return dict(post)


def test_stats_shows_what_followers_did_on_both_networks(
    appview: AppView, monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    bot = appview.create_account()
    follower = appview.create_account()
    appview.follow(follower, bot)
    with MastodonTestServer() as mastodon:
        mastodon.add_account(TOKEN, "bot")
        mastodon.add_account(FAN, "fan")
        for key, value in {
            "BLUESKY_SERVICE_URL": appview.pds_url,
            "BLUESKY_HANDLE": bot.handle,
            "BLUESKY_APP_PASSWORD": bot.password,
            "MASTODON_API_BASE_URL": mastodon.base_url,
            "MASTODON_ACCESS_TOKEN": TOKEN,
            "SITE_BASE_URL": SITE,
            "DATABASE_URL": sqlite_url,
            "POST_LANGUAGES": "fr",
        }.items():
            monkeypatch.setenv(key, value)
        slot = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
        posted = CliRunner().invoke(cli, ["post", "--slot", slot.isoformat()])
        assert posted.exit_code == 0, posted.output
        with Store(sqlite_url) as store:
            rows = {r.platform: r for r in store.history(limit=5)}
        assert set(rows) == {"mastodon", "bluesky"}

        # Bluesky: the follower likes, reposts and replies.
        uri = f"at://{bot.did}/app.bsky.feed.post/{rows['bluesky'].remote_id}"
        appview.process_all()
        subject = {"uri": uri, "cid": _view(appview, follower, uri)["cid"]}
        _create(appview, follower, "app.bsky.feed.like", {"subject": subject, "createdAt": _now()})
        _create(
            appview, follower, "app.bsky.feed.repost", {"subject": subject, "createdAt": _now()}
        )
        _create(
            appview,
            follower,
            "app.bsky.feed.post",
            {
                "text": "Bravo !",
                "createdAt": _now(),
                "reply": {"root": subject, "parent": subject},
            },
        )
        appview.process_all()
        # Mastodon: another account favourites and boosts.
        fan = Mastodon(access_token=FAN, api_base_url=mastodon.base_url)
        fan.status_favourite(rows["mastodon"].remote_id)
        fan.status_reblog(rows["mastodon"].remote_id)

        result = CliRunner().invoke(cli, ["stats", "--json", "--by", "platform"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        table = CliRunner().invoke(cli, ["stats", "--by", "platform", "--no-refresh"]).stdout
        page = TestClient(create_app(App.load()), base_url="http://127.0.0.1")
        platforms = page.get("/engagement").text.split('id="platform"')[1].split("</table>")[0]
        chart = page.get("/engagement/chart/platform.png")
        assert mastodon.internal_errors == []
    counts = {
        g["key"]: (g["posts"], g["likes"], g["reposts"], g["replies"], g["quotes"])
        for g in data["groups"]
    }
    assert counts == {"bluesky": (1, 1, 1, 1, 0), "mastodon": (1, 1, 1, 0, 0)}
    assert {p["platform"]: p["state"] for p in data["posts"]} == {
        "bluesky": "live",
        "mastodon": "live",
    }
    assert data["totals"]["total"] == 5
    by_platform = {
        line.split("│")[1].strip(): [int(n) for n in line.split("│")[2:8]]
        for line in table.splitlines()
        if line.startswith("│ bluesky") or line.startswith("│ mastodon")
    }
    assert by_platform == {"bluesky": [1, 1, 1, 1, 0, 3], "mastodon": [1, 1, 1, 0, 0, 2]}
    # The status page's engagement page shows the same counts, under its chart.
    cells = re.findall(r"<td>([^<]*)</td>", platforms)
    assert [cells[:7], cells[7:14]] == [
        ["bluesky", "1", "1", "1", "1", "0", "3"],
        ["mastodon", "1", "1", "1", "0", "0", "2"],
    ]
    assert (chart.status_code, chart.headers["content-type"]) == (200, "image/png")


def test_the_bluesky_reader_asks_25_posts_at_a_time(appview: AppView, sqlite_url: str) -> None:
    bot = appview.create_account()
    follower = appview.create_account()
    rkeys = []
    for n in range(30):
        created = appview.call(
            "com.atproto.repo.createRecord",
            body={
                "repo": bot.did,
                "collection": "app.bsky.feed.post",
                "record": {"text": f"post {n}", "createdAt": _now()},
            },
            token=bot.token,
        )
        rkeys.append(str(created["uri"]).rsplit("/", 1)[-1])
    publisher = _publisher(appview, bot, sqlite_url)
    try:
        publisher.delete(rkeys[7])
        appview.process_all()
        uri = f"at://{bot.did}/app.bsky.feed.post/{rkeys[0]}"
        subject = {"uri": uri, "cid": _view(appview, follower, uri)["cid"]}
        _create(appview, follower, "app.bsky.feed.like", {"subject": subject, "createdAt": _now()})
        appview.process_all()
        reader = engagement_reader(publisher)
        assert isinstance(reader, BlueskyEngagement)
        batches = list(reader.read(rkeys))
    finally:
        publisher.close()
    assert [len(b) for b in batches] == [25, 5]
    readings = {k: v for b in batches for k, v in b.items()}
    assert readings[rkeys[0]] == Reading("live", Counts(likes=1))
    assert readings[rkeys[7]] == Reading("deleted")
    assert readings[rkeys[29]] == Reading("live", Counts())
    # Two getPosts, and one getRecord to tell the missing post's fate.
    assert reader.requests == 3


def _takedown(appview: AppView, uri: str, cid: str, applied: bool) -> None:
    """A moderator takes the post down on the AppView (or lifts it): admin role, Basic auth."""
    token = base64.b64encode(
        f"{appview.info['adminUser']}:{appview.info['adminPassword']}".encode()
    ).decode()
    body = {
        "subject": {"$type": "com.atproto.repo.strongRef", "uri": uri, "cid": cid},
        "takedown": {"applied": applied, "ref": "engagement-test"},
    }
    request = urllib.request.Request(
        f"{appview.appview_url}/xrpc/com.atproto.admin.updateSubjectStatus",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def test_a_post_the_appview_does_not_show_is_unavailable_not_deleted(
    appview: AppView, sqlite_url: str
) -> None:
    """A post still in the account's repository that the AppView leaves out of getPosts (here
    taken down by a moderator; a post not indexed yet looks the same) is read as
    ``unavailable``, not ``deleted``, and as ``live`` with its counts once it is shown again."""
    bot = appview.create_account()
    follower = appview.create_account()
    created = appview.call(
        "com.atproto.repo.createRecord",
        body={
            "repo": bot.did,
            "collection": "app.bsky.feed.post",
            "record": {"text": "taken down, then back", "createdAt": _now()},
        },
        token=bot.token,
    )
    uri, cid = str(created["uri"]), str(created["cid"])
    rkey = uri.rsplit("/", 1)[-1]
    appview.process_all()
    _create(
        appview,
        follower,
        "app.bsky.feed.like",
        {"subject": {"uri": uri, "cid": cid}, "createdAt": _now()},
    )
    appview.process_all()
    publisher = _publisher(appview, bot, sqlite_url)
    try:
        reader = engagement_reader(publisher)
        assert isinstance(reader, BlueskyEngagement)
        _takedown(appview, uri, cid, applied=True)
        [hidden] = list(reader.read([rkey]))
        _takedown(appview, uri, cid, applied=False)
        [shown] = list(reader.read([rkey]))
    finally:
        publisher.close()
    assert hidden == {rkey: Reading("unavailable")}
    assert shown == {rkey: Reading("live", Counts(likes=1))}


def test_app_wiring_gives_each_live_account_a_reader(
    appview: AppView, monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    """A dry-run account's publisher cannot read counts; a live Bluesky account's can."""
    bot = appview.create_account()
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SITE_BASE_URL", SITE)
    dry = App.load()
    assert all(engagement_reader(dry.publisher(a)) is None for a in dry.accounts)
    monkeypatch.setenv("BLUESKY_SERVICE_URL", appview.pds_url)
    monkeypatch.setenv("BLUESKY_HANDLE", bot.handle)
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", bot.password)
    live = App.load()
    [bluesky] = live.accounts
    assert isinstance(engagement_reader(live.publisher(bluesky)), BlueskyEngagement)
    live.close()
