"""Exactly once under faults, crashes and several workers, against the real PDS, the Mastodon
test server, SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from atproto import Client
from pydantic import SecretStr

from bot.clock import iso
from bot.poster import Poster, RetryPolicy
from bot.publishing.bluesky import BlueskyPublisher
from bot.publishing.mastodon import MastodonPublisher
from bot.state import Store, StoreVault
from tests.helpers import ROOT, SITE, account, bundled_dataset, renderer
from tests.support.fault_proxy import FaultProxy
from tests.support.mastodon_server import MastodonTestServer
from tests.support.pds import PDS

TOKEN = "exactly-once-token-1234"
START = dt.datetime(2026, 6, 1, 10, tzinfo=dt.UTC)
FAULTS = [
    "rate_limit",
    "error_500",
    "error_502",
    "error_503",
    "drop",
    "lost_response",
    "lost_response_502",
]
pytestmark = pytest.mark.slow


def _slots(n: int) -> list[dt.datetime]:
    return [START + dt.timedelta(hours=i) for i in range(n)]


def _pds_records(pds_url: str, user: Any) -> list[Any]:
    client = Client(base_url=pds_url)
    client.login(user.handle, user.password, fetch_bsky_profile=False)
    out: list[Any] = []
    cursor = None
    for _ in range(50):
        page = client.com.atproto.repo.list_records(
            {"repo": user.did, "collection": "app.bsky.feed.post", "limit": 100, "cursor": cursor}
        )
        out.extend(page.records)
        cursor = page.cursor
        if not cursor:
            break
    return out


@pytest.fixture
def proxy(pds: PDS) -> Iterator[FaultProxy]:
    with FaultProxy(pds.url) as p:
        yield p


def _poster(store: Store) -> Poster:
    return Poster(
        store,
        bundled_dataset(),
        renderer(),
        today=START.date,
        retry=RetryPolicy(attempts=6, budget=600),
    )


def test_mastodon_faults_post_each_slot_once(mastodon: MastodonTestServer, sqlite_url: str) -> None:
    """429s, 5xx, dropped connections and lost responses on every slot: each slot still ends
    posted exactly once."""
    mastodon.add_account(TOKEN, "leavex")
    rng = random.Random(4)
    acct = account(name="m", api_base_url=mastodon.base_url, access_token=SecretStr(TOKEN))
    publisher = MastodonPublisher(acct, request_timeout=5)
    with Store(sqlite_url) as store:
        poster = _poster(store)
        for slot in _slots(21):
            for fault in rng.sample(FAULTS, k=rng.randint(1, 3)):
                mastodon.inject(fault, reset_in=1)  # type: ignore[arg-type]
            assert [o.status for o in poster.run_slot(acct, publisher, slot)] == ["posted"]
            mastodon.clear_faults()
        rows = store.history(limit=100)
    statuses = mastodon.statuses("leavex")
    assert len(statuses) == 21
    assert sorted(r.remote_id or "" for r in rows) == sorted(str(s["id"]) for s in statuses)


def test_mastodon_lost_response_found_after_key_expired(
    mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """A post whose every answer was lost is unknown; re-run after the Idempotency-Key expired,
    it is found among the account's statuses instead of being posted again."""
    mastodon.add_account(TOKEN, "leavex")
    acct = account(name="m", api_base_url=mastodon.base_url, access_token=SecretStr(TOKEN))
    publisher = MastodonPublisher(acct, request_timeout=5)
    with Store(sqlite_url) as store:
        poster = Poster(
            store,
            bundled_dataset(),
            renderer(),
            today=START.date,
            retry=RetryPolicy(attempts=3),
        )
        mastodon.inject("lost_response", times=3)
        assert poster.run_slot(acct, publisher, START)[0].status == "unknown"
        assert len(mastodon.statuses("leavex")) == 1
        mastodon.advance(2 * 3600)  # the server forgets the key...
        old = iso(dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
        store.execute("UPDATE posts SET last_attempt_at = ?", (old,))  # ...and so do we
        outcome = poster.run_slot(acct, publisher, START)[0]
        assert outcome.status == "posted"
        assert len(mastodon.statuses("leavex")) == 1
        assert outcome.url == mastodon.statuses("leavex")[0]["url"]


def test_bluesky_faults_post_each_slot_once(pds: PDS, proxy: FaultProxy, sqlite_url: str) -> None:
    """Faults between the bot and a real PDS, including lost responses after the record was
    written: each slot ends posted exactly once."""
    user = pds.create_account()
    rng = random.Random(7)
    acct = account(
        name="s",
        platform="bluesky",
        service_url=proxy.url,
        handle=user.handle,
        app_password=SecretStr(user.password),
    )
    publisher = BlueskyPublisher(acct, StoreVault(sqlite_url), request_timeout=10)
    with Store(sqlite_url) as store:
        poster = _poster(store)
        for slot in _slots(21):
            for fault in rng.sample(FAULTS, k=rng.randint(1, 3)):
                proxy.inject(fault, path="/xrpc/com.atproto.repo.putRecord")
            assert [o.status for o in poster.run_slot(acct, publisher, slot)] == ["posted"]
            proxy.faults.clear()
        rows = store.history(limit=100)
    records = _pds_records(pds.url, user)
    assert len(records) == 21
    assert sorted(r.remote_id or "" for r in rows) == sorted(
        rec.uri.rsplit("/", 1)[1] for rec in records
    )
    assert publisher.logins == 1


def _env(
    tmp_path: Path, database_url: str, mastodon_url: str, bluesky_url: str, user: Any
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MASTODON_", "BLUESKY_"))}
    env.update(
        {
            "DATABASE_URL": database_url,
            "SITE_BASE_URL": SITE,
            "MASTODON_API_BASE_URL": mastodon_url,
            "MASTODON_ACCESS_TOKEN": TOKEN,
            "BLUESKY_SERVICE_URL": bluesky_url,
            "BLUESKY_HANDLE": user.handle,
            "BLUESKY_APP_PASSWORD": user.password,
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def test_sigkill_at_random_moments(
    tmp_path: Path, pds: PDS, mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """20 runs of `leavex-bot post` killed with SIGKILL at random moments after their first
    plan (servers slowed so kills land mid-call), each followed by a normal re-run: one post
    per slot on each server."""
    mastodon.add_account(TOKEN, "leavex")
    mastodon.delay = 0.4
    user = pds.create_account()
    rng = random.Random(2026)
    with FaultProxy(pds.url, delay=0.4) as slow:
        env = _env(tmp_path, sqlite_url, mastodon.base_url, slow.url, user)
        killed_mid_call = 0
        for slot in _slots(20):
            command = [sys.executable, "-m", "bot", "post", "--slot", slot.isoformat()]
            victim = subprocess.Popen(
                command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            # Kill at a random moment after the first post was planned (however long the
            # process took to start on a busy machine): mid-call, or just after it.
            deadline = time.monotonic() + 60
            while victim.poll() is None and time.monotonic() < deadline:
                with Store(sqlite_url) as store:
                    if any(r.status == "planned" for r in store.history(limit=1000)):
                        break
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.9))
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=30)
            with Store(sqlite_url) as store:
                killed_mid_call += sum(r.status == "planned" for r in store.history(limit=1000))
            rerun = subprocess.run(
                command,
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert rerun.returncode == 0, rerun.stderr
    with Store(sqlite_url) as store:
        rows = store.history(limit=1000)
    assert Counter((r.account, r.status) for r in rows) == {
        ("mastodon", "posted"): 20,
        ("bluesky", "posted"): 20,
    }
    assert len(mastodon.statuses("leavex")) == 20
    assert len(_pds_records(pds.url, user)) == 20
    assert killed_mid_call >= 5  # the kills really hit unfinished posts


def test_three_workers_share_one_postgres(
    tmp_path: Path, pds: PDS, mastodon: MastodonTestServer, pg_url: str
) -> None:
    """Three worker processes on one PostgreSQL database, all running the same 50 slots in
    different orders: exactly 50 posts per account."""
    mastodon.add_account(TOKEN, "leavex")
    user = pds.create_account()
    env = _env(tmp_path, pg_url, mastodon.base_url, pds.url, user)
    env["LANGUAGE_MODE"] = "rotate"
    slots = [s.isoformat() for s in _slots(50)]
    workers = []
    for seed in range(3):
        order = slots[:]
        random.Random(seed).shuffle(order)
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.support.slot_driver", *order],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
    with Store(pg_url) as store:
        rows = store.history(limit=1000)
    assert Counter((r.account, r.status) for r in rows) == {
        ("mastodon", "posted"): 50,
        ("bluesky", "posted"): 50,
    }
    assert len({(r.account, r.slot_at) for r in rows}) == 100
    assert len(mastodon.statuses("leavex")) == 50
    assert len(_pds_records(pds.url, user)) == 50
