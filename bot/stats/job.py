"""When the counts are refreshed: on the worker's ``STATS_SCHEDULE`` (default hourly, posts of
the last ``STATS_DAYS`` days, default 30), and by ``leavex-bot stats``.

Every refresh is claimed first in the state database (``refreshes``, bot/state/snapshots.py):
one conditional statement, so of several workers sharing a database exactly one refreshes each
scheduled time, and ``stats`` never runs alongside a worker's refresh. The claim is a lease,
renewed after each account; a worker that dies leaves it to lapse, and the next scheduled time
is refreshed by whoever comes first.

In the worker, the scheduler only hands the refresh to its own thread (never blocking the
posting jobs); a refresh still running when the next time fires lets that time pass.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from bot.app import App
from bot.clock import utcnow
from bot.config import Account
from bot.errors import StateError
from bot.logs import log_event
from bot.state import Store
from bot.stats.refresh import RefreshReport, refresh

log = logging.getLogger("bot.stats")
NAME = "engagement"
LEASE = dt.timedelta(minutes=15)


def _identity() -> str:
    from bot.poster.claims import worker_identity

    return worker_identity()


def claimed_refresh(
    app: App,
    store: Store,
    *,
    slot: dt.datetime,
    days: int,
    owner: str,
    stopping: threading.Event | None = None,
    again: bool = False,
) -> RefreshReport | None:
    """Refresh if this ``slot`` is ours to refresh; ``None`` if another process has it."""
    now = utcnow()
    if not store.claim_refresh(NAME, slot, owner, now + LEASE, now, again=again):
        return None

    def renew() -> None:
        store.extend_refresh(NAME, owner, utcnow() + LEASE)

    try:
        report = refresh(app, store, days=days, now=now, stopping=stopping, progress=renew)
    finally:
        store.finish_refresh(NAME, owner, utcnow())
    return report


def refresh_now(app: App, store: Store, *, days: int, now: dt.datetime) -> RefreshReport | None:
    """``leavex-bot stats``: refresh now, unless another process is refreshing."""
    return claimed_refresh(app, store, slot=now, days=days, owner=_identity(), again=True)


def schedule_account(app: App) -> Account:
    """``STATS_SCHEDULE`` in the shape the schedule functions read (only ``schedule`` counts)."""
    return Account(
        name="stats",
        platform="mastodon",
        languages=(),
        schedule=app.settings.stats_schedule,
        language_mode="rotate",
        fallback_language=None,
        dry_run=True,
    )


class StatsJob:
    """The worker's scheduled refresh, in a thread of its own."""

    def __init__(self, app: App, stopping: threading.Event) -> None:
        self.app = app
        self.stopping = stopping
        self.owner = _identity()
        self.account = schedule_account(app)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stats")
        self._busy = threading.Lock()

    def fire(self) -> Future[None] | None:
        """What the scheduler runs: hand the due refresh to the job's thread; never blocks."""
        from bot.schedule import current_slot

        slot = current_slot(self.account, self.app.settings.timezone, self.app.now())
        if slot is None or self.stopping.is_set() or not self._busy.acquire(blocking=False):
            return None
        return self.executor.submit(self._run, slot)

    def _run(self, slot: dt.datetime) -> None:
        try:
            with self.app.open_store() as store:
                report = claimed_refresh(
                    self.app,
                    store,
                    slot=slot,
                    days=self.app.settings.stats_days,
                    owner=self.owner,
                    stopping=self.stopping,
                )
            if report is None:
                log_event(log, "stats.skipped", slot=slot.isoformat(), reason="claimed elsewhere")
        except StateError as exc:
            log_event(log, "stats.failed", logging.ERROR, slot=slot.isoformat(), error=str(exc))
        except Exception as exc:  # a bug must not kill the thread silently
            log_event(log, "stats.crashed", logging.ERROR, error=repr(exc))
        finally:
            self._busy.release()

    def add_to(self, scheduler: Any) -> None:
        """Schedule the refresh on ``scheduler`` (APScheduler), on STATS_SCHEDULE."""
        from bot.schedule import trigger

        scheduler.add_job(
            self.fire,
            trigger(self.account, self.app.settings.timezone),
            id="stats:engagement",  # not an account name (those have no colon)
            name="engagement counts",
        )

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True)
