"""No account waits for another: the worker's lanes, late and missed slots, and a database
outage, through the worker's own jobs (``Worker._job``, what APScheduler calls when an
account's schedule fires), against Mastodon test servers, SQLite and a real PostgreSQL that
the test stops and starts. The clock is the app's (``App.now``), moved by the test."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from concurrent.futures import Future

import pytest

from bot.app import App
from bot.lanes import Lanes
from bot.state import Store
from bot.worker import Worker
from tests.helpers import SITE, account
from tests.support.mastodon_server import MastodonTestServer
from tests.support.postgres import PostgresServer

FIRE = dt.datetime(2026, 5, 4, 12, 30, 1, tzinfo=dt.UTC)


class Clock:
    """The app's clock, moved by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, moment: dt.datetime) -> None:
        self.moment = moment
        monkeypatch.setattr(App, "now", lambda app: self.moment.astimezone(app.tz))


def _mastodon_accounts(
    monkeypatch: pytest.MonkeyPatch, prefix: str, server: MastodonTestServer, count: int
) -> None:
    for i in range(count):
        name = f"{prefix}{i}"
        token = f"token-{name}-0123456789"
        server.add_account(token, name)
        monkeypatch.setenv(f"ACCOUNTS__{name.upper()}__PLATFORM", "mastodon")
        monkeypatch.setenv(f"ACCOUNTS__{name.upper()}__API_BASE_URL", server.base_url)
        monkeypatch.setenv(f"ACCOUNTS__{name.upper()}__ACCESS_TOKEN", token)


@pytest.fixture
def every_minute(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> str:
    for name, value in {
        "POST_SCHEDULE": "* * * * *",
        "POST_LANGUAGES": "en",
        "DATABASE_URL": sqlite_url,
        "SITE_BASE_URL": SITE,
    }.items():
        monkeypatch.setenv(name, value)
    return sqlite_url


def _fire(worker: Worker) -> dict[str, Future[None]]:
    """Every account's job fires, as APScheduler would call it."""
    handed = {a.name: worker._job(a) for a in worker.app.accounts}
    assert all(handed.values())
    return {name: f for name, f in handed.items() if f is not None}


@pytest.mark.slow
def test_a_hanging_server_delays_only_its_own_accounts(
    monkeypatch: pytest.MonkeyPatch, every_minute: str
) -> None:
    """5 accounts on a server that never answers and 5 on a healthy one, every minute: over
    two fire times the healthy server gets all 10 posts while the hanging server's accounts are
    still waiting for it (the issue's scenario: before, it got 5)."""
    with MastodonTestServer() as healthy, MastodonTestServer() as hanging:
        _mastodon_accounts(monkeypatch, "ok", healthy, 5)
        _mastodon_accounts(monkeypatch, "stuck", hanging, 5)
        hanging.delay = 600.0  # every request hangs (until the server stops)
        clock = Clock(monkeypatch, FIRE)
        app = App.load()
        worker = Worker(app, started=FIRE - dt.timedelta(seconds=30))
        stuck: list[Future[None]] = []
        try:
            for minute in range(2):
                clock.moment = FIRE + dt.timedelta(minutes=minute)
                handed = _fire(worker)
                for name, future in handed.items():
                    if name.startswith("ok"):
                        future.result(timeout=120)  # bounded; fails if it waited for the others
                    else:
                        stuck.append(future)
                assert len(healthy.statuses()) == 5 * (minute + 1)
            assert not any(f.done() for f in stuck)  # still held by their own server
            with Store(every_minute) as store:
                posted = store.history(statuses=["posted"], limit=100)
            assert sorted({r.account for r in posted}) == [f"ok{i}" for i in range(5)]
        finally:
            worker.stopping.set()
            hanging.stop()  # ends the hanging requests
            worker.lanes.shutdown(wait=True)
            app.close()


def test_lanes_bound_concurrency_per_server_and_overall() -> None:
    """At most POST_CONCURRENCY_PER_SERVER posts run at once on one server, at most
    POST_CONCURRENCY in all, and one account's slots run one after the other."""
    lanes = Lanes(overall=5, per_server=2)
    running: dict[str, int] = {}
    peak: dict[str, int] = {}
    lock = threading.Lock()
    release = threading.Event()

    def task(key: str) -> None:
        with lock:
            for k in (key, "all", key.split("/", maxsplit=1)[0]):
                running[k] = running.get(k, 0) + 1
                peak[k] = max(peak.get(k, 0), running[k])
        release.wait(timeout=30)
        with lock:
            for k in (key, "all", key.split("/", maxsplit=1)[0]):
                running[k] -= 1

    futures = []
    for server in range(4):
        for index in range(3):
            acct = account(
                name=f"s{server}a{index}", api_base_url=f"https://server{server}.example"
            )
            for _slot in range(2):
                futures.append(lanes.submit(acct, lambda k=f"s{server}/{acct.name}": task(k)))
    threading.Timer(1.0, release.set).start()
    for future in futures:
        future.result(timeout=60)
    lanes.shutdown()
    assert peak["all"] == 5
    per_server = [peak[f"s{server}"] for server in range(4)]
    assert max(per_server) == 2  # the lane's limit is reached, never passed
    assert all(peak[k] == 1 for k in peak if "/" in k)  # one account: one slot at a time


def test_passed_fire_times_are_recorded_missed_and_only_the_latest_is_posted(
    monkeypatch: pytest.MonkeyPatch, every_minute: str
) -> None:
    """The worker was paused for 5 minutes (a minutely schedule): the 4 fire times in between
    are recorded as missed with the reason; only the latest slot is posted (no burst)."""
    clock = Clock(monkeypatch, FIRE)
    app = App.load()
    worker = Worker(app, started=FIRE - dt.timedelta(seconds=30))
    first = app.accounts[0]
    handed = worker._job(first)
    assert handed is not None
    handed.result(timeout=60)
    clock.moment = FIRE + dt.timedelta(minutes=5)
    handed = worker._job(first)
    assert handed is not None
    handed.result(timeout=60)
    with Store(every_minute) as store:
        rows = store.history(account=first.name, dry_run=True, limit=100)
    by_status: dict[str, list[str]] = {}
    for row in rows:
        by_status.setdefault(row.status, []).append(row.slot_at[11:16])
    assert sorted(by_status["posted"]) == ["12:30", "12:35"]
    assert sorted(by_status["missed"]) == ["12:31", "12:32", "12:33", "12:34"]
    assert all("paused or busy" in (r.error or "") for r in rows if r.status == "missed")
    worker.lanes.shutdown()


def test_a_slot_that_cannot_start_within_the_grace_is_recorded_missed(
    monkeypatch: pytest.MonkeyPatch, every_minute: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An account's earlier slot holds its turn past CATCH_UP_GRACE: the waiting slot is not
    posted late but recorded as missed with the reason, and logged (slot.missed)."""
    monkeypatch.setenv("CATCH_UP_GRACE", "120")
    clock = Clock(monkeypatch, FIRE)
    app = App.load()
    worker = Worker(app, started=FIRE - dt.timedelta(seconds=30))
    first = app.accounts[0]
    busy = threading.Event()
    release = threading.Event()

    def earlier_slot() -> None:  # stands for a slot still retrying
        busy.set()
        release.wait(timeout=30)

    worker.lanes.submit(first, earlier_slot)
    assert busy.wait(timeout=30)
    waiting = worker._job(first)
    assert waiting is not None
    clock.moment = FIRE + dt.timedelta(minutes=3)  # past the 120 s grace
    release.set()
    waiting.result(timeout=60)
    with Store(every_minute) as store:
        rows = store.history(account=first.name, dry_run=True, limit=100)
    assert {r.status for r in rows} == {"missed"}
    assert all("could not start within CATCH_UP_GRACE (120 s)" in (r.error or "") for r in rows)
    assert any(getattr(r, "event", None) == "slot.missed" for r in caplog.records)
    worker.lanes.shutdown()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, which it stops and starts."""
    with PostgresServer() as server:
        yield server


@pytest.mark.slow
def test_database_outage_is_waited_out_without_loss_or_duplicate(
    monkeypatch: pytest.MonkeyPatch,
    own_postgres: PostgresServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PostgreSQL goes down before a slot fires and comes back 3 s later: the worker does not
    die, logs state.unavailable, waits with backoff and posts the slot once when the database
    is back."""
    caplog.set_level("INFO")
    url = own_postgres.create_database("outage")
    for name, value in {"POST_SCHEDULE": "* * * * *", "DATABASE_URL": url}.items():
        monkeypatch.setenv(name, value)
    clock = Clock(monkeypatch, FIRE)
    app = App.load()
    with Store(url):
        pass  # the schema exists before the outage
    worker = Worker(app, backoff=(0.5,), started=FIRE - dt.timedelta(seconds=30))
    own_postgres.halt()
    handed = _fire(worker)
    back = threading.Timer(3.0, own_postgres.resume)
    back.start()
    try:
        for future in handed.values():
            future.result(timeout=120)
    finally:
        back.join()
    unavailable = [r for r in caplog.records if getattr(r, "event", None) == "state.unavailable"]
    assert unavailable  # it waited, and said so
    clock.moment = FIRE + dt.timedelta(seconds=20)
    assert all(worker._job(a) is None for a in app.accounts)  # the same slot is not handed twice
    with Store(url) as store:
        rows = store.history(dry_run=True, limit=100)
    assert sorted((r.account, r.slot_language, r.status) for r in rows) == sorted(
        (a.name, lang, "posted") for a in app.accounts for lang in a.languages
    )
    worker.lanes.shutdown()


@pytest.mark.slow
def test_accounts_on_one_server_share_its_connections(
    monkeypatch: pytest.MonkeyPatch, every_minute: str
) -> None:
    """8 accounts on one instance with POST_CONCURRENCY_PER_SERVER=2: their posts go over at
    most 2 connections (one pool per server, not one per account)."""
    monkeypatch.setenv("POST_CONCURRENCY_PER_SERVER", "2")
    monkeypatch.setenv("MASTODON_MEDIA", "false")
    with MastodonTestServer() as server:
        _mastodon_accounts(monkeypatch, "acct", server, 8)
        Clock(monkeypatch, FIRE)
        app = App.load()
        worker = Worker(app, started=FIRE - dt.timedelta(seconds=30))
        try:
            for future in _fire(worker).values():
                future.result(timeout=120)
            assert len(server.statuses()) == 8
            assert server.connections_opened <= 2
        finally:
            worker.lanes.shutdown(wait=True)
            app.close()
