"""``leavex-bot stats`` against the Mastodon test server: the counts other accounts make (and
only those), summed by item, language, platform and account, as a table and as JSON; deleted
and retracted posts recorded as such; stored counts with --no-refresh; the requests it makes;
and no refresh while another process holds the claim."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from mastodon import Mastodon

from bot.cli import cli
from bot.clock import utcnow
from bot.state import Store
from tests.helpers import SITE
from tests.support.mastodon_server import MastodonTestServer

TOKEN = "token-bot"
FANS = ["token-fan-a", "token-fan-b"]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> Iterator[MastodonTestServer]:
    with MastodonTestServer() as srv:
        srv.add_account(TOKEN, "bot")
        for n, token in enumerate(FANS):
            srv.add_account(token, f"fan{n}")
        for key, value in {
            "MASTODON_API_BASE_URL": srv.base_url,
            "MASTODON_ACCESS_TOKEN": TOKEN,
            "SITE_BASE_URL": SITE,
            "DATABASE_URL": sqlite_url,
            "POST_LANGUAGES": "de,en",
            "LANGUAGE_MODE": "all",
        }.items():
            monkeypatch.setenv(key, value)
        yield srv
    assert srv.internal_errors == []


def fan(server: MastodonTestServer, n: int) -> Mastodon:
    return Mastodon(
        access_token=FANS[n],
        api_base_url=server.base_url,
        ratelimit_method="throw",
        version_check_mode="none",
    )


def run(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def stats_json(*args: str) -> dict[str, Any]:
    return dict(json.loads(run("stats", "--json", *args).stdout))


def post_slot(days_ago: int) -> list[Any]:
    slot = (utcnow() - dt.timedelta(days=days_ago)).replace(minute=0, second=0, microsecond=0)
    run("post", "--slot", slot.isoformat())
    return slot  # type: ignore[return-value]


def test_stats_shows_exactly_what_others_did(server: MastodonTestServer, sqlite_url: str) -> None:
    post_slot(2)  # two posts: de and en
    with Store(sqlite_url) as store:
        de, en = sorted(store.history(limit=10), key=lambda p: p.language)
    fan(server, 0).status_favourite(de.remote_id)
    fan(server, 1).status_favourite(de.remote_id)
    fan(server, 0).status_reblog(de.remote_id)
    fan(server, 1).status_post("Great!", in_reply_to_id=en.remote_id)

    before = len(server.requests)
    data = stats_json("--by", "language")
    # Both posts in one request (the multi-id lookup), nothing else.
    made = server.requests[before:]
    assert [(r.method, r.path) for r in made] == [("GET", "/api/v1/statuses")]
    by_language = {p["language"]: p for p in data["posts"]}
    assert {k: by_language["de"][k] for k in ("likes", "reposts", "replies", "quotes")} == {
        "likes": 2,
        "reposts": 1,
        "replies": 0,
        "quotes": 0,
    }
    assert (by_language["en"]["replies"], by_language["en"]["total"]) == (1, 1)
    assert by_language["de"]["state"] == "live"
    groups = {g["key"]: g for g in data["groups"]}
    assert (groups["de"]["total"], groups["en"]["total"]) == (3, 1)
    assert data["totals"] == {
        "key": "all",
        "posts": 2,
        "likes": 2,
        "reposts": 1,
        "replies": 1,
        "quotes": 0,
        "total": 4,
    }
    assert data["refreshed_at"] is not None

    by_platform = stats_json("--by", "platform", "--no-refresh")
    assert by_platform["groups"] == [
        {
            "key": "mastodon",
            "posts": 2,
            "likes": 2,
            "reposts": 1,
            "replies": 1,
            "quotes": 0,
            "total": 4,
        }
    ]
    by_item = stats_json("--by", "item", "--no-refresh")
    assert {g["key"] for g in by_item["groups"]} == {de.item_id, en.item_id}
    assert stats_json("--by", "account", "--no-refresh")["groups"][0]["key"] == "mastodon"

    table = run("stats", "--by", "language", "--no-refresh").stdout
    assert "By language" in table
    lines = [line for line in table.splitlines() if "│ de " in line or "│ de" in line]
    assert lines, table
    assert [int(n) for n in lines[-1].replace("│", " ").split()[1:]] == [1, 2, 1, 0, 0, 3]


def test_deleted_and_retracted_posts_are_recorded_as_such(
    server: MastodonTestServer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POST_LANGUAGES", "en")  # one post per slot, each another item
    post_slot(3)
    post_slot(2)
    with Store(sqlite_url) as store:
        gone, retracted = sorted(store.history(limit=10), key=lambda p: p.slot_at)
    assert gone.item_id != retracted.item_id
    fan(server, 0).status_favourite(gone.remote_id)
    assert stats_json()["totals"]["likes"] == 1
    Mastodon(
        access_token=TOKEN, api_base_url=server.base_url, version_check_mode="none"
    ).status_delete(gone.remote_id)  # deleted by hand, on the platform
    run("retract", retracted.item_id)
    time.sleep(1.1)  # readings are stamped to the second: the next one is a new moment
    data = stats_json()
    states = {p["item"]: p["state"] for p in data["posts"]}
    assert states == {gone.item_id: "deleted", retracted.item_id: "retracted"}
    assert data["totals"]["total"] == 0
    with Store(sqlite_url) as store:  # recorded: the history keeps the like, then the deletion
        history = store.snapshot_history([gone.id])
    assert [(s.state, s.likes) for s in history] == [("live", 1), ("deleted", 0)]
    before = len(server.requests)
    assert stats_json()["totals"]["posts"] == 2
    assert server.requests[before:] == []  # both gone for good: nothing is asked again
    output = run("stats", "--no-refresh").stdout
    assert "deleted" in output and "retracted" in output


def test_posts_outside_the_period_are_left_out(server: MastodonTestServer) -> None:
    post_slot(40)
    post_slot(1)
    assert len(stats_json()["posts"]) == 2
    assert len(stats_json("--since", "60")["posts"]) == 4


def test_no_refresh_while_another_process_refreshes(
    server: MastodonTestServer, sqlite_url: str
) -> None:
    post_slot(1)
    now = utcnow()
    with Store(sqlite_url) as store:
        assert store.claim_refresh("engagement", now, "another", now + dt.timedelta(minutes=5), now)
    before = len(server.requests)
    output = run("stats").output
    assert "another process is refreshing" in output
    assert len(server.requests) == before


def test_nothing_published(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SITE_BASE_URL", SITE)
    run("run", "--once")  # dry runs
    output = run("stats").output
    assert "no published post" in output
    assert "dry runs have no counts" in output
    assert stats_json()["posts"] == []


def test_a_rate_limit_ends_that_accounts_refresh_without_an_error(
    server: MastodonTestServer,
) -> None:
    post_slot(1)
    server.inject("rate_limit", method="GET", path="/api/v1/statuses")
    result = run("stats")  # exit 0: nothing failed, the counts are just not read this time
    assert "rate limited" in result.stdout
    data = stats_json("--no-refresh")
    assert {p["state"] for p in data["posts"]} == {"not read yet"}
    assert stats_json()["posts"][0]["state"] == "live"  # the next refresh reads them
