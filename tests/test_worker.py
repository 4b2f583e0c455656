"""The schedule and the long-running worker."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import App
from bot.schedule import current_slot, next_slots
from bot.state import Store
from bot.worker import Worker
from tests.helpers import account

BERLIN = "Europe/Berlin"


def test_current_slot_is_latest_fire_time() -> None:
    """The current slot is the latest fire time at or before now, in the schedule's zone."""
    acct = account(schedule="0 10 * * *")
    now = dt.datetime(2026, 3, 10, 9, 30, tzinfo=ZoneInfo(BERLIN))
    assert current_slot(acct, BERLIN, now) == dt.datetime(2026, 3, 9, 10, tzinfo=ZoneInfo(BERLIN))
    at = dt.datetime(2026, 3, 10, 10, 0, tzinfo=ZoneInfo(BERLIN))
    assert current_slot(acct, BERLIN, at) == at


def test_slots_follow_daylight_saving_time() -> None:
    """10:00 in Berlin stays 10:00 local across the March clock change (09:00 → 08:00 UTC)."""
    acct = account(schedule="0 10 * * *")
    start = dt.datetime(2026, 3, 27, 12, tzinfo=dt.UTC)
    slots = list(next_slots(acct, BERLIN, start, 3))
    assert [s.astimezone(dt.UTC).hour for s in slots] == [9, 8, 8]
    assert {s.astimezone(ZoneInfo(BERLIN)).hour for s in slots} == {10}


def test_every_minute_schedule_current_slot() -> None:
    """A schedule firing every minute finds the slot of the current minute."""
    acct = account(schedule="* * * * *")
    now = dt.datetime(2026, 5, 1, 12, 34, 56, tzinfo=dt.UTC)
    assert current_slot(acct, "UTC", now) == now.replace(second=0)


def test_yearly_schedule_current_slot() -> None:
    """A yearly schedule still finds its last slot (bounded look-back)."""
    acct = account(schedule="0 9 20 1 *")
    now = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    assert current_slot(acct, "UTC", now) == dt.datetime(2026, 1, 20, 9, tzinfo=dt.UTC)


def _app_at(monkeypatch: pytest.MonkeyPatch, moment: dt.datetime) -> App:
    app = App.load()
    monkeypatch.setattr(App, "now", lambda self: moment.astimezone(self.tz))
    return app


def test_catch_up_posts_at_most_once_within_grace(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """After downtime the worker posts only the latest missed slot, once, and only within
    CATCH_UP_GRACE; older missed slots are never posted."""
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("POST_SCHEDULE", "0 * * * *")  # hourly: a 6-hour outage misses 6 slots
    monkeypatch.setenv("CATCH_UP_GRACE", "1800")
    slot = dt.datetime(2026, 4, 1, 16, tzinfo=dt.UTC)
    Worker(_app_at(monkeypatch, slot + dt.timedelta(minutes=10))).catch_up()
    Worker(_app_at(monkeypatch, slot + dt.timedelta(minutes=20))).catch_up()
    with Store(sqlite_url) as store:
        rows = store.history(dry_run=True, limit=100)
    assert {(r.account, r.slot_at) for r in rows} == {
        ("mastodon", "2026-04-01T16:00:00Z"),
        ("bluesky", "2026-04-01T16:00:00Z"),
    }
    assert len(rows) == 6  # two accounts x three languages, for that one slot
    Worker(_app_at(monkeypatch, slot + dt.timedelta(minutes=45))).catch_up()
    with Store(sqlite_url) as store:
        assert len(store.history(dry_run=True, limit=100)) == 6  # outside the grace: nothing


def test_worker_logs_next_fire_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`leavex-bot run` logs each account's next fire time at start and exits cleanly (0) on
    SIGTERM."""
    env = dict(os.environ.items())
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 's.sqlite3'}",
            "POST_SCHEDULE": "0 3 1 1 *",
            "CATCH_UP_GRACE": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum("worker.next_fire" in x for x in lines) < 2:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
        fires = [x for x in lines if "worker.next_fire" in x]
        assert len(fires) == 2, lines
        assert "account=mastodon" in fires[0] and "next=2027-01-01T03:00:00+01:00" in fires[0]
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "worker.stopping signal=SIGTERM" in err
        assert "worker.stopped" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.real_retry_waits
def test_shutdown_during_retry_leaves_post_reconcilable(sqlite_url: str) -> None:
    """A shutdown while waiting to retry stops at once and leaves the post planned, so the
    next start reconciles it instead of losing or duplicating it."""
    import threading

    from bot.errors import TransientPublishError
    from bot.poster import Poster, RetryPolicy
    from tests.helpers import RecordingPublisher, bundled_dataset, renderer

    stopping = threading.Event()
    publisher = RecordingPublisher(failures=[TransientPublishError("busy", retry_after=30)])
    with Store(sqlite_url) as store:
        poster = Poster(
            store, bundled_dataset(), renderer(), stopping=stopping, retry=RetryPolicy(budget=600)
        )
        timer = threading.Timer(0.2, stopping.set)
        timer.start()
        started = time.monotonic()
        outcome = poster.run_slot(account(), publisher, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))[0]
        assert time.monotonic() - started < 10  # did not sit out the 30 s wait
        assert outcome.status == "failed"
        assert "interrupted" in (outcome.error or "")
        assert store.history()[0].status == "planned"


def test_six_hour_outage_gives_one_catch_up_post(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, mastodon: object
) -> None:
    """After a 6-hour outage of an hourly bot, a restart makes at most one catch-up post per
    account on the real Mastodon test server, however often it restarts."""
    from tests.support.mastodon_server import MastodonTestServer

    assert isinstance(mastodon, MastodonTestServer)
    mastodon.add_account("outage-token-123", "leavex")
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("MASTODON_API_BASE_URL", mastodon.base_url)
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "outage-token-123")
    monkeypatch.setenv("POST_SCHEDULE", "0 * * * *")
    last = dt.datetime(2026, 4, 1, 10, tzinfo=dt.UTC)
    from bot.worker import run_once

    app = _app_at(monkeypatch, last)
    run_once(app, app.accounts, last)
    assert len(mastodon.statuses("leavex")) == 1
    back = last + dt.timedelta(hours=6, minutes=5)  # six slots were missed
    for _ in range(3):  # restarts
        Worker(_app_at(monkeypatch, back)).catch_up()
    assert len(mastodon.statuses("leavex")) == 2


def test_json_logs_one_line_per_attempt(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    """LOG_FORMAT=json writes one JSON object per line with the stable event name and the
    account, item, language, slot, outcome and URL fields."""
    import json

    from click.testing import CliRunner

    from bot.cli import cli

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("LOG_FORMAT", "json")
    result = CliRunner().invoke(cli, ["post", "--slot", "2026-02-02T10:00"], catch_exceptions=False)
    assert result.exit_code == 0
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    published = [e for e in events if e["event"] == "post.published"]
    assert len(published) == 6
    for event in published:
        assert {"account", "item", "language", "slot", "outcome", "time", "level"} <= set(event)
        assert event["outcome"] == "posted"


def test_scheduled_job_posts_the_slot_that_fired(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    """When the scheduler fires an account's job, the job posts the slot that just fell due,
    once, and does nothing after a shutdown was asked for."""
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("POST_SCHEDULE", "30 * * * *")
    fired = dt.datetime(2026, 5, 4, 12, 30, 2, tzinfo=dt.UTC)
    worker = Worker(_app_at(monkeypatch, fired))
    opened: list[int] = []
    open_store = worker.app.open_store

    def counted() -> Store:
        opened.append(1)
        return open_store()

    monkeypatch.setattr(worker.app, "open_store", counted)
    mastodon_account = worker.app.accounts[0]
    handed = worker._job(mastodon_account)  # the job hands the slot to the account's lane
    assert handed is not None
    handed.result(timeout=60)
    assert len(opened) == 1  # one database connection for the slot (no fire time passed)
    assert worker._job(mastodon_account) is None  # a second firing for the same slot: nothing
    with Store(sqlite_url) as store:
        rows = store.history(dry_run=True, limit=100)
    assert {(r.account, r.slot_at) for r in rows} == {("mastodon", "2026-05-04T12:30:00Z")}
    assert len(rows) == 3  # de, en, fr
    worker.stopping.set()
    worker2 = Worker(_app_at(monkeypatch, fired + dt.timedelta(hours=1)))
    worker2.stopping.set()
    assert worker2._job(mastodon_account) is None
    with Store(sqlite_url) as store:
        assert len(store.history(dry_run=True, limit=100)) == 3
