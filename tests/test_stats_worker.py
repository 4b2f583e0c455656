"""The worker's engagement refresh (bot/stats/job.py): scheduled on STATS_SCHEDULE next to the
posting jobs, run in its own thread, and claimed in the state database so that several workers
sharing it refresh each scheduled time once (on SQLite and on a real PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from mastodon import Mastodon

from bot.app import App
from bot.clock import utcnow
from bot.schedule import next_slots
from bot.state import Store
from bot.stats.job import StatsJob, schedule_account
from bot.worker import Worker, _scheduler, run_once
from tests.helpers import SITE
from tests.support.mastodon_server import MastodonTestServer

TOKEN = "token-bot"
FAN = "token-fan"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[MastodonTestServer]:
    with MastodonTestServer() as srv:
        srv.add_account(TOKEN, "bot")
        srv.add_account(FAN, "fan")
        for key, value in {
            "MASTODON_API_BASE_URL": srv.base_url,
            "MASTODON_ACCESS_TOKEN": TOKEN,
            "SITE_BASE_URL": SITE,
            "DATABASE_URL": database_url,
            "POST_LANGUAGES": "en",
            "STATS_SCHEDULE": "*/15 * * * *",
        }.items():
            monkeypatch.setenv(key, value)
        yield srv
    assert srv.internal_errors == []


def _posted(server: MastodonTestServer, days: int) -> list[str]:
    """One post a day for ``days`` days, through the bot; their status ids."""
    app = App.load()
    today = utcnow().replace(hour=10, minute=0, second=0, microsecond=0)
    for n in range(days, 0, -1):
        run_once(app, app.accounts, today - dt.timedelta(days=n))
    app.close()
    return [s["id"] for s in server.statuses("bot")]


def _reads(server: MastodonTestServer) -> int:
    return sum(1 for r in server.requests if (r.method, r.path) == ("GET", "/api/v1/statuses"))


def test_the_refresh_is_scheduled_on_stats_schedule(server: MastodonTestServer) -> None:
    app = App.load()
    scheduler: Any = _scheduler(Worker(app))
    job = scheduler.get_job("stats:engagement")
    assert job is not None
    start = dt.datetime(2026, 3, 1, 10, 1, tzinfo=dt.UTC)
    fires = [job.trigger.get_next_fire_time(None, start)]
    expected = list(next_slots(schedule_account(app), app.settings.timezone, start, 1))
    assert fires == expected
    assert fires[0] == dt.datetime(2026, 3, 1, 10, 15, tzinfo=dt.UTC)
    assert {j.id for j in scheduler.get_jobs()} == {"mastodon", "stats:engagement"}


def test_racing_workers_refresh_once(
    server: MastodonTestServer, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _posted(server, 25)  # two batches of 20
    fired = utcnow()
    monkeypatch.setattr(App, "now", lambda self: fired.astimezone(self.tz))
    Mastodon(access_token=FAN, api_base_url=server.base_url).status_favourite(ids[3])
    stopping = threading.Event()
    jobs = [StatsJob(App.load(), stopping) for _ in range(4)]
    futures = [job.fire() for job in jobs]
    for future in futures:
        assert future is not None
        future.result(timeout=60)
    assert _reads(server) == 2  # one refresh: 25 posts in 2 requests
    with Store(database_url) as store:
        posts = store.engagement_posts(utcnow() - dt.timedelta(days=30), platforms=("mastodon",))
        latest = store.latest_snapshots([p.id for p in posts])
        assert store.last_refresh("engagement") is not None
    assert len(latest) == 25
    liked = next(p for p in posts if p.remote_id == ids[3])
    assert latest[liked.id].likes == 1
    # The same scheduled time again (a late worker): nothing; the next time: one refresh.
    again = jobs[0].fire()
    assert again is not None
    again.result(timeout=60)
    assert _reads(server) == 2


def test_a_refresh_still_running_lets_the_next_fire_pass(server: MastodonTestServer) -> None:
    _posted(server, 2)
    job = StatsJob(App.load(), threading.Event())
    server.delay = 0.5
    first = job.fire()
    assert first is not None
    assert job.fire() is None  # busy: the scheduler's thread is not held up
    first.result(timeout=60)
    job.shutdown()


def test_posts_older_than_stats_days_are_not_refreshed(
    server: MastodonTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATS_DAYS", "3")
    _posted(server, 6)
    job = StatsJob(App.load(), threading.Event())
    future = job.fire()
    assert future is not None
    future.result(timeout=60)
    [read] = [r for r in server.requests if (r.method, r.path) == ("GET", "/api/v1/statuses")]
    assert len(read.query["id[]"]) == 3
