"""The long-running worker (``leavex-bot run``) and the one-shot runs (``run --once``, ``post``).

The worker schedules one APScheduler job per account with a ``CronTrigger`` in the configured
time zone. Jobs are kept in memory and coalesced, so after downtime the scheduler never fires a
burst of missed slots; at start, at most one catch-up post per account is made, and only for a
slot that fell due within ``CATCH_UP_GRACE`` seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Sequence
from types import FrameType

from bot.app import App
from bot.config import Account
from bot.errors import BotError, InputError
from bot.logs import log_event
from bot.poster import Outcome, Poster
from bot.schedule import current_slot, next_slots

log = logging.getLogger("bot.worker")


def run_once(
    app: App,
    accounts: Sequence[Account],
    slot: dt.datetime | None,
    stopping: threading.Event | None = None,
) -> list[Outcome]:
    """Post ``slot`` (or each account's current slot) for every account; one failing account
    never stops the others."""
    outcomes: list[Outcome] = []
    with app.open_store() as store:
        poster = Poster(store, app.dataset, app.renderer, today=app.today, stopping=stopping)
        for account in accounts:
            if stopping is not None and stopping.is_set():
                break
            slot_at = slot or current_slot(account, app.settings.timezone, app.now())
            if slot_at is None:
                log_event(log, "slot.none", account=account.name, schedule=account.schedule)
                continue
            try:
                publisher = app.publisher(account)
                grace = dt.timedelta(seconds=app.settings.catch_up_grace)
                results = poster.reconcile_pending(
                    account, publisher, grace=grace, skip_slot=slot_at
                )
                results += poster.run_slot(account, publisher, slot_at)
            except InputError:
                raise  # bad operator input stops the run (exit 2), it is not a failed slot
            except BotError as exc:
                log_event(
                    log,
                    "slot.error",
                    logging.ERROR,
                    account=account.name,
                    slot=slot_at.isoformat(),
                    error=str(exc),
                )
                results = [Outcome(account.name, slot_at.isoformat(), "failed", error=str(exc))]
            for outcome in results:
                if outcome.status not in ("posted", "failed", "unknown", "refused"):
                    log_event(
                        log,
                        f"post.{outcome.status.replace('-', '_')}",
                        account=account.name,
                        slot=outcome.slot_key,
                        item=outcome.item_id,
                        url=outcome.url,
                    )
            outcomes.extend(results)
    return outcomes


class Worker:
    """Posts every account's slots until SIGTERM or SIGINT."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.stopping = threading.Event()
        self._lock = threading.Lock()

    def _job(self, account: Account) -> None:
        if self.stopping.is_set():
            return
        slot_at = current_slot(account, self.app.settings.timezone, self.app.now())
        if slot_at is not None:
            run_once(self.app, [account], slot_at, self.stopping)

    def catch_up(self) -> None:
        """At most one post per account: its latest slot, if it fell due within the grace."""
        grace = dt.timedelta(seconds=self.app.settings.catch_up_grace)
        now = self.app.now()
        for account in self.app.accounts:
            slot_at = current_slot(account, self.app.settings.timezone, now)
            if slot_at is None or now - slot_at > grace:
                continue
            log_event(log, "worker.catch_up", account=account.name, slot=slot_at.isoformat())
            run_once(self.app, [account], slot_at, self.stopping)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log_event(log, "worker.stopping", signal=signal.Signals(signum).name)
        self.stopping.set()

    def run(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        from bot.schedule import trigger

        tz = self.app.tz
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        scheduler = BackgroundScheduler(
            timezone=tz,
            executors={
                "default": ThreadPoolExecutor(max_workers=max(1, min(4, len(self.app.accounts))))
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        )
        for account in self.app.accounts:
            scheduler.add_job(
                self._job,
                trigger(account, self.app.settings.timezone),
                args=[account],
                id=account.name,
                name=account.name,
            )
        log_event(log, "worker.started", accounts=len(self.app.accounts), timezone=str(tz))
        self.catch_up()
        scheduler.start()
        for account in self.app.accounts:
            upcoming = next(
                next_slots(account, self.app.settings.timezone, self.app.now(), 1), None
            )
            log_event(
                log,
                "worker.next_fire",
                account=account.name,
                platform=account.platform,
                schedule=account.schedule,
                next=upcoming.isoformat() if upcoming else None,
                dry_run=account.dry_run or None,
            )
        try:
            while not self.stopping.wait(timeout=3600):
                pass
        finally:
            # Stop taking slots; a post in flight finishes (its row is reconcilable if killed).
            scheduler.shutdown(wait=True)
            log_event(log, "worker.stopped")
