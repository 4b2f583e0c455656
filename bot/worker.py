"""The long-running worker (``leavex-bot run``) and the one-shot runs (``run --once``, ``post``).

The worker schedules one APScheduler job per account with its cron trigger in the configured
time zone. A job only hands its slot to the account's server lane (:mod:`bot.lanes`), so the
scheduler is never blocked by a slow server and never skips a fire time. In the lane:

- a slot that starts within ``CATCH_UP_GRACE`` of its time is posted (late, if its server was
  busy); one that cannot is recorded as *missed* with the reason, never dropped silently;
- fire times that passed without a job (the process was paused, the machine slept) are
  recorded as missed; only the latest slot is posted, so there is never a burst;
- an unreachable database is waited for with backoff; the write-ahead plan makes the retried
  slot finish what it started, without a duplicate.

At start, at most one catch-up post per account is made, and only for a slot that fell due
within ``CATCH_UP_GRACE`` seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from types import FrameType
from typing import Any

from bot.alerts import notify_missed, notify_outcomes
from bot.app import App
from bot.config import Account
from bot.errors import BotError, InputError, StateError
from bot.lanes import Lanes, server_of
from bot.logs import log_event
from bot.poster import Outcome, Poster
from bot.schedule import current_slot, next_slots
from bot.selection import slot_key
from bot.state import Store

log = logging.getLogger("bot.worker")
#: How long the worker waits between tries while the database is unreachable.
DATABASE_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
#: At most this many passed fire times are recorded as missed at once (a paused minutely bot).
MAX_MISSED_RECORDED = 1000
PASSED = (
    "the worker was paused or busy when it fell due; a later slot was posted instead (no burst)"
)


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
            outcomes.extend(_run_account(app, poster, account, slot_at))
    return outcomes


def _run_account(app: App, poster: Poster, account: Account, slot_at: dt.datetime) -> list[Outcome]:
    try:
        publisher = app.publisher(account)
        grace = dt.timedelta(seconds=app.settings.catch_up_grace)
        results = poster.reconcile_pending(account, publisher, grace=grace, skip_slot=slot_at)
        results += poster.run_slot(account, publisher, slot_at)
    except (InputError, StateError):
        raise  # bad operator input (exit 2) or the database: not a failed slot
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
    notify_outcomes(app.settings, poster.store, account, results)
    return results


def owed_keys(account: Account, slot_at: dt.datetime) -> list[tuple[str, str]]:
    """(slot key, language slot) of every post a slot owes, before any is chosen."""
    if account.language_mode == "all":
        return [(slot_key(slot_at, lang, "all"), lang) for lang in account.languages]
    return [(slot_key(slot_at, "", "rotate"), "")]


class Worker:
    """Posts every account's slots until SIGTERM or SIGINT."""

    def __init__(
        self,
        app: App,
        *,
        backoff: Sequence[float] = DATABASE_BACKOFF,
        started: dt.datetime | None = None,
    ) -> None:
        self.app = app
        self.stopping = threading.Event()
        self.backoff = tuple(backoff)
        self.grace = dt.timedelta(seconds=app.settings.catch_up_grace)
        self.lanes = Lanes(app.settings.post_concurrency, app.settings.post_concurrency_per_server)
        self._lock = threading.Lock()
        #: the latest slot handed to a lane, per account (fire times between two handed-over
        #: slots passed without a job: they are recorded as missed)
        self._handed: dict[str, dt.datetime] = {}
        self._started = started or app.now()

    # -- a job ----------------------------------------------------------------------------------

    def _job(self, account: Account) -> Future[None] | None:
        """What the scheduler runs when an account's schedule fires: hand the due slot (and
        any fire times that passed without a job) to the account's lane. Never blocks."""
        if self.stopping.is_set():
            return None
        slot_at = current_slot(account, self.app.settings.timezone, self.app.now())
        if slot_at is None:
            return None
        with self._lock:
            previous = self._handed.get(account.name)
            if previous is not None and previous >= slot_at:
                return None  # this slot was handed over already
            self._handed[account.name] = slot_at
        passed = self._passed_between(account, previous or self._started, slot_at)
        return self._submit(account, slot_at, passed)

    def _submit(
        self, account: Account, slot_at: dt.datetime, passed: list[dt.datetime]
    ) -> Future[None]:
        return self.lanes.submit(account, lambda: self._slot(account, slot_at, passed))

    def _passed_between(
        self, account: Account, after: dt.datetime, before: dt.datetime
    ) -> list[dt.datetime]:
        """Fire times strictly between two slots (at most :data:`MAX_MISSED_RECORDED`)."""
        passed = []
        for fire in next_slots(account, self.app.settings.timezone, after, MAX_MISSED_RECORDED):
            if fire >= before:
                break
            passed.append(fire)
        return passed

    def _slot(self, account: Account, slot_at: dt.datetime, passed: list[dt.datetime]) -> None:
        """In the account's lane: record passed fire times as missed, then post the slot if it
        can still start within the grace, or record it as missed too."""
        late = self.app.now() - slot_at

        def work() -> None:
            if passed:  # no connection of its own when no fire time passed (the usual slot)
                with self.app.open_store() as store:
                    for fire in passed:
                        self._missed(store, account, fire, PASSED)
            if self.stopping.is_set():
                return
            if self.app.now() - slot_at > self.grace:
                with self.app.open_store() as store:
                    self._missed(
                        store,
                        account,
                        slot_at,
                        f"could not start within CATCH_UP_GRACE ({self.grace.seconds} s): its"
                        f" server ({server_of(account)}) or the database was busy",
                    )
                return
            if late > dt.timedelta(seconds=60):
                log_event(
                    log,
                    "slot.late",
                    logging.WARNING,
                    account=account.name,
                    slot=slot_at.isoformat(),
                    late=round(late.total_seconds()),
                )
            run_once(self.app, [account], slot_at, self.stopping)

        self._with_database(account, work)

    def _missed(self, store: Store, account: Account, slot_at: dt.datetime, reason: str) -> None:
        recorded = store.record_missed(
            account=account.name,
            platform=account.platform,
            slot_at=slot_at,
            keys=owed_keys(account, slot_at),
            dry_run=account.dry_run,
            reason=reason,
        )
        if recorded:
            log_event(
                log,
                "slot.missed",
                logging.WARNING,
                account=account.name,
                slot=slot_at.isoformat(),
                reason=reason,
            )
            notify_missed(self.app.settings, store, account, slot_at, reason)

    def _with_database(self, account: Account, work: Callable[[], None]) -> None:
        """Run ``work``; while the database is unreachable, wait with backoff and try again
        (the write-ahead plan makes a repeated slot finish what it started)."""
        for attempt in range(10_000):
            try:
                work()
                return
            except StateError as exc:
                wait = self.backoff[min(attempt, len(self.backoff) - 1)]
                log_event(
                    log,
                    "state.unavailable",
                    logging.ERROR,
                    account=account.name,
                    error=str(exc),
                    wait=wait,
                )
                if self.stopping.wait(wait):
                    return
            except Exception as exc:  # a bug must not kill the lane's thread silently
                log_event(log, "slot.crashed", logging.ERROR, account=account.name, error=repr(exc))
                return

    # -- start and stop ---------------------------------------------------------------------------

    def catch_up(self) -> None:
        """At most one post per account: its latest slot, if it fell due within the grace."""
        now = self.app.now()
        futures = []
        for account in self.app.accounts:
            slot_at = current_slot(account, self.app.settings.timezone, now)
            with self._lock:
                self._handed[account.name] = slot_at or now
            if slot_at is None or now - slot_at > self.grace:
                continue
            log_event(log, "worker.catch_up", account=account.name, slot=slot_at.isoformat())
            futures.append(self._submit(account, slot_at, []))
        for future in futures:
            future.result()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log_event(log, "worker.stopping", signal=signal.Signals(signum).name)
        self.stopping.set()

    def run(self) -> None:
        # httpcore imports trio whenever it is installed (the test extras bring it in with
        # Selenium): 3.7 MB the worker would keep, though it runs no trio code. Marked absent,
        # httpcore falls back as it does where trio is not installed.
        sys.modules.setdefault("trio", None)  # type: ignore[arg-type]
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        scheduler = _scheduler(self)
        tz = self.app.tz
        log_event(
            log,
            "worker.started",
            accounts=len(self.app.accounts),
            timezone=str(tz),
            concurrency=self.lanes.overall,
            per_server=self.lanes.per_server,
        )
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
            self.lanes.shutdown(wait=True)
            log_event(log, "worker.stopped")


def _scheduler(worker: Worker) -> Any:
    """APScheduler with one job per account; jobs only hand slots to the lanes, so two
    threads never fall behind, and a late fire within the grace still runs (coalesced)."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler

    from bot.schedule import trigger

    app = worker.app
    scheduler = BackgroundScheduler(
        timezone=app.tz,
        executors={"default": ThreadPoolExecutor(max_workers=2)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": max(1, int(worker.grace.total_seconds())),
        },
    )
    for account in app.accounts:
        scheduler.add_job(
            worker._job,
            trigger(account, app.settings.timezone),
            args=[account],
            id=account.name,
            name=account.name,
        )
    from bot.stats.job import StatsJob

    StatsJob(app, worker.stopping).add_to(scheduler)  # engagement counts, on STATS_SCHEDULE
    return scheduler
