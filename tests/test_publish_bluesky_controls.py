"""Bluesky against a real PDS: reply and quote controls written with the post in one commit
(exactly once, also across lost answers and a crash), the share card as the link card's
thumbnail, and the profile's bot self-label."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from bot.cli import cli
from bot.poster import Poster, RetryPolicy
from bot.publishing.bluesky import BlueskyPublisher
from bot.state import Store, StoreVault
from tests.helpers import SITE, account, bundled_dataset, renderer
from tests.support.fault_proxy import FaultProxy
from tests.support.pds import PDS

pytestmark = pytest.mark.slow
START = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
COLLECTIONS = ("app.bsky.feed.post", "app.bsky.feed.threadgate", "app.bsky.feed.postgate")


@pytest.fixture
def proxy(pds: PDS) -> Iterator[FaultProxy]:
    with FaultProxy(pds.url) as p:
        yield p


def _records(pds: PDS, did: str, collection: str) -> dict[str, dict[str, Any]]:
    url = (
        f"{pds.url}/xrpc/com.atproto.repo.listRecords?repo={did}&collection={collection}&limit=100"
    )
    with urllib.request.urlopen(url, timeout=30) as response:
        page = json.loads(response.read())
    return {r["uri"].rsplit("/", 1)[1]: r["value"] for r in page["records"]}


def _account(service_url: str, user: Any, **overrides: Any) -> Any:
    return account(
        name="sky",
        platform="bluesky",
        service_url=service_url,
        handle=user.handle,
        app_password=SecretStr(user.password),
        languages=("en",),
        **overrides,
    )


def test_post_writes_threadgate_and_postgate_at_its_own_key(
    monkeypatch: pytest.MonkeyPatch, pds: PDS, sqlite_url: str
) -> None:
    """`leavex-bot post` with REPLY_POLICY=followers and QUOTE_POLICY=nobody writes the post,
    a threadgate allowing followers and a postgate disabling quotes, all at the post's key;
    the link card's thumbnail is the share card (a PNG blob)."""
    user = pds.create_account()
    for key, value in {
        "BLUESKY_SERVICE_URL": pds.url,
        "BLUESKY_HANDLE": user.handle,
        "BLUESKY_APP_PASSWORD": user.password,
        "SITE_BASE_URL": SITE,
        "DATABASE_URL": sqlite_url,
        "REPLY_POLICY": "followers",
        "QUOTE_POLICY": "nobody",
    }.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["post", "--slot", START.isoformat()], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    posts, threadgates, postgates = (_records(pds, user.did, c) for c in COLLECTIONS)
    [(rkey, post)] = posts.items()
    uri = f"at://{user.did}/app.bsky.feed.post/{rkey}"
    assert threadgates[rkey]["post"] == uri
    assert threadgates[rkey]["allow"] == [{"$type": "app.bsky.feed.threadgate#followerRule"}]
    assert postgates[rkey]["post"] == uri
    assert postgates[rkey]["embeddingRules"] == [{"$type": "app.bsky.feed.postgate#disableRule"}]
    thumb = post["embed"]["external"]["thumb"]
    assert (thumb["mimeType"], thumb["size"] <= 1_000_000) == ("image/png", True)


@pytest.mark.parametrize(
    ("reply", "quote", "allow", "postgate"),
    [
        ("everyone", "everyone", None, False),
        ("nobody", "followers", [], True),  # quotes by followers only: Bluesky cannot; nobody
        ("mentioned", "everyone", [{"$type": "app.bsky.feed.threadgate#mentionRule"}], False),
        ("following", "everyone", [{"$type": "app.bsky.feed.threadgate#followingRule"}], False),
    ],
)
def test_each_policy_becomes_its_rule(
    pds: PDS, sqlite_url: str, reply: str, quote: str, allow: Any, postgate: bool
) -> None:
    """Each REPLY_POLICY maps to its threadgate rule (none for everyone); QUOTE_POLICY
    followers takes the nearest stricter rule, no quotes."""
    user = pds.create_account()
    acct = _account(pds.url, user, reply_policy=reply, quote_policy=quote)
    with Store(sqlite_url) as store:
        poster = Poster(store, bundled_dataset(), renderer(), today=START.date)
        publisher = BlueskyPublisher(acct, StoreVault(sqlite_url))
        assert poster.run_slot(acct, publisher, START)[0].status == "posted"
    [rkey] = _records(pds, user.did, COLLECTIONS[0])
    threadgates = _records(pds, user.did, COLLECTIONS[1])
    assert (threadgates[rkey]["allow"] if threadgates else None) == allow
    assert bool(_records(pds, user.did, COLLECTIONS[2])) is postgate


@pytest.mark.parametrize("fault", ["lost_response", "lost_response_502", "error_500", "drop"])
def test_faults_on_apply_writes_leave_one_post_with_its_gates(
    pds: PDS, proxy: FaultProxy, sqlite_url: str, fault: str
) -> None:
    """A fault on the applyWrites call (the commit may or may not have happened) is retried
    with the same key: one post, one threadgate, one postgate."""
    user = pds.create_account()
    acct = _account(proxy.url, user, reply_policy="followers", quote_policy="nobody")
    proxy.inject(fault, path="/xrpc/com.atproto.repo.applyWrites")  # type: ignore[arg-type]
    with Store(sqlite_url) as store:
        poster = Poster(store, bundled_dataset(), renderer(), today=START.date)
        publisher = BlueskyPublisher(acct, StoreVault(sqlite_url), request_timeout=10)
        assert poster.run_slot(acct, publisher, START)[0].status == "posted"
    assert [len(_records(pds, user.did, c)) for c in COLLECTIONS] == [1, 1, 1]


@pytest.mark.parametrize(("fault", "thumb"), [("error_502", True), ("rate_limit", False)])
def test_a_failed_thumbnail_upload(
    pds: PDS, proxy: FaultProxy, sqlite_url: str, fault: str, thumb: bool
) -> None:
    """A 5xx on uploadBlob retries the post, picture included; a rate-limited upload lets the
    post go out on time with its card but no picture."""
    user = pds.create_account()
    acct = _account(proxy.url, user)
    proxy.inject(fault, path="/xrpc/com.atproto.repo.uploadBlob")  # type: ignore[arg-type]
    with Store(sqlite_url) as store:
        poster = Poster(store, bundled_dataset(), renderer(), today=START.date)
        publisher = BlueskyPublisher(acct, StoreVault(sqlite_url), request_timeout=10)
        assert poster.run_slot(acct, publisher, START)[0].status == "posted"
    [post] = _records(pds, user.did, COLLECTIONS[0]).values()
    assert ("thumb" in post["embed"]["external"]) is thumb


def test_crash_after_the_commit_is_reconciled_at_the_posts_key(
    pds: PDS, proxy: FaultProxy, sqlite_url: str
) -> None:
    """The first process's commit went through but its answer was lost, and so was its
    question whether the post exists: it gives up (unknown). The next process finds the post
    at its key and records it posted, writing nothing again."""
    user = pds.create_account()
    acct = _account(proxy.url, user, reply_policy="nobody", quote_policy="nobody")
    proxy.inject("lost_response", path="/xrpc/com.atproto.repo.applyWrites")
    proxy.inject("drop", path="/xrpc/com.atproto.repo.getRecord")
    with Store(sqlite_url) as store:
        first = Poster(store, bundled_dataset(), renderer(), retry=RetryPolicy(attempts=1))
        publisher = BlueskyPublisher(acct, StoreVault(sqlite_url), request_timeout=10)
        assert first.run_slot(acct, publisher, START)[0].status == "unknown"
    with Store(sqlite_url) as store:
        again = Poster(store, bundled_dataset(), renderer())
        publisher = BlueskyPublisher(acct, StoreVault(sqlite_url), request_timeout=10)
        outcome = again.run_slot(acct, publisher, START)[0]
        [row] = store.history(limit=5)
    assert outcome.status == "posted"
    assert [len(_records(pds, user.did, c)) for c in COLLECTIONS] == [1, 1, 1]
    assert row.remote_id in _records(pds, user.did, COLLECTIONS[1])


def test_retract_deletes_the_gates_too(pds: PDS, sqlite_url: str) -> None:
    """Deleting a post deletes its threadgate and postgate."""
    user = pds.create_account()
    acct = _account(pds.url, user, reply_policy="followers", quote_policy="nobody")
    with Store(sqlite_url) as store:
        poster = Poster(store, bundled_dataset(), renderer(), today=START.date)
        publisher = BlueskyPublisher(acct, StoreVault(sqlite_url))
        poster.run_slot(acct, publisher, START)
        [row] = store.history(limit=5)
    assert publisher.delete(row.remote_id or "") is True
    assert [len(_records(pds, user.did, c)) for c in COLLECTIONS] == [0, 0, 0]


def test_bot_self_label_keeps_the_profile(pds: PDS, sqlite_url: str) -> None:
    """mark_bot adds the `bot` self-label to the profile record, keeping its other fields and
    labels; a second call changes nothing; an account without profile gets one."""
    user = pds.create_account()
    acct = _account(pds.url, user)
    publisher = BlueskyPublisher(acct, StoreVault(sqlite_url))
    assert publisher.bot_mark() == (f"@{user.handle}", False)
    assert publisher.mark_bot() is True  # no profile record yet: created with the label
    profile = _records(pds, user.did, "app.bsky.actor.profile")["self"]
    assert profile["labels"]["values"] == [{"val": "bot"}]

    other = pds.create_account()
    publisher = BlueskyPublisher(_account(pds.url, other), StoreVault(sqlite_url))
    existing = {
        "$type": "app.bsky.actor.profile",
        "displayName": "LeaveX Bot",
        "description": "Posts the network's initiatives.",
        "labels": {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "nudity"}]},
    }
    publisher._write(  # seed a profile as another app would have written it
        "putRecord",
        {
            "repo": other.did,
            "collection": "app.bsky.actor.profile",
            "rkey": "self",
            "record": existing,
        },
    )
    assert publisher.bot_mark()[1] is False
    assert publisher.mark_bot() is True
    assert publisher.mark_bot() is False
    profile = _records(pds, other.did, "app.bsky.actor.profile")["self"]
    assert profile["displayName"] == "LeaveX Bot"
    assert profile["description"] == "Posts the network's initiatives."
    assert profile["labels"]["values"] == [{"val": "nudity"}, {"val": "bot"}]
    assert publisher.bot_mark()[1] is True
