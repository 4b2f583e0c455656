"""The Poster: runs a slot through the pipeline — plan, deliver, reconcile — for one account.

The plan is written before the platform is called (write-ahead), with the idempotency key or
record key the platform will see, so a crash or a lost response leaves a row that a re-run
completes with the very same key instead of posting twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from bot.clock import iso, parse_iso, utcnow
from bot.config import Account
from bot.dataset import Dataset
from bot.logs import log_event
from bot.post import RenderedPost
from bot.poster.claims import Claims
from bot.poster.delivery import Delivery, RetryPolicy
from bot.poster.outcome import Outcome, outcome
from bot.poster.planning import Planner, SlotChoices
from bot.poster.reconcile import Unreachable, find_earlier, found, unreachable
from bot.publishing.base import Publisher
from bot.rendering.render import Renderer
from bot.selection import Simulation
from bot.state import PostRecord, Store

log = logging.getLogger("bot.poster")


class Poster:
    """Runs slots for accounts against a store, a dataset and a renderer."""

    def __init__(
        self,
        store: Store,
        dataset: Dataset,
        renderer: Renderer,
        *,
        today: Callable[[], dt.date] = dt.date.today,
        retry: RetryPolicy | None = None,
        stopping: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.dataset = dataset
        self.retry = retry or RetryPolicy()
        #: set on SIGTERM: no new attempts; an unfinished post stays planned (reconcilable)
        self.stopping = stopping or threading.Event()
        self.planner = Planner(store, dataset, renderer, today)
        self.selector = self.planner.selector
        self.delivery = Delivery(store, self.retry, self.stopping, clock)
        self.claims = Claims(store, self.retry.lease())

    def preview(
        self, account: Account, publisher: Publisher, slots: list[dt.datetime]
    ) -> list[tuple[dt.datetime, RenderedPost | None, str]]:
        """What the next slots would post, without recording anything."""
        limits = publisher.limits  # known before anything is chosen
        simulation = Simulation()
        result: list[tuple[dt.datetime, RenderedPost | None, str]] = []
        for slot_at in slots:
            owed = self.planner.owed(account, slot_at, simulation)
            choices = SlotChoices.of(owed)
            for entry in owed:
                if entry.record is not None and entry.record.status in ("posted", "planned"):
                    note = f"already {entry.record.status}: {entry.record.item_id}"
                    result.append((slot_at, None, note))
                    continue
                post = self.planner.choose(
                    account, entry.slot_language, limits, choices, simulation
                )
                if post is None:
                    result.append((slot_at, None, "nothing eligible to post"))
                    continue
                item = self.dataset.by_id[post.item_id]
                simulation.record(item, entry.slot_language, slot_at)
                result.append((slot_at, post, entry.key))
        return result

    # -- posting ------------------------------------------------------------------------------

    def run_slot(
        self, account: Account, publisher: Publisher, slot_at: dt.datetime
    ) -> list[Outcome]:
        """Post everything this slot owes; safe to call again for the same slot."""
        limits = publisher.limits  # known before anything is chosen
        owed = self.planner.owed(account, slot_at)
        choices = SlotChoices.of(owed)
        outcomes = []
        for entry in owed:
            if entry.record is not None:
                outcomes.append(self._existing(account, publisher, entry.record))
                continue
            post = self.planner.choose(account, entry.slot_language, limits, choices)
            if post is None:
                log_event(
                    log,
                    "post.nothing_eligible",
                    logging.WARNING,
                    account=account.name,
                    slot=entry.key,
                    language=entry.slot_language,
                )
                outcomes.append(
                    Outcome(
                        account.name, entry.key, "nothing-to-post", language=entry.slot_language
                    )
                )
                continue
            record, created = self.planner.plan(
                account, slot_at, entry, post, self.claims.lease_until()
            )
            if not created:  # another worker planned it between our read and our insert
                outcomes.append(outcome(record, "claimed"))
                continue
            outcomes.append(self.delivery.send(account, publisher, record, recorded=True))
        return outcomes

    def _existing(self, account: Account, publisher: Publisher, record: PostRecord) -> Outcome:
        if record.status in ("posted", "retracted"):
            return outcome(record, "already-posted", url=record.remote_url)
        if record.status == "refused":
            return outcome(record, "refused", error=record.error)
        return self._resume(account, publisher, record)

    def _resume(self, account: Account, publisher: Publisher, record: PostRecord) -> Outcome:
        """Finish a post whose earlier attempt crashed, lost its answer or failed: ask the
        platform first; send (again, with the same key) only if it is not there."""
        if not self.claims.claim(record):
            return outcome(record, "claimed")
        try:
            published = find_earlier(publisher, record, resending=True)
        except Unreachable as exc:
            return unreachable(record, str(exc))
        if published is not None:
            found(record, published)
            return self.delivery.posted(record, published)
        return self.delivery.send(account, publisher, record, recorded=False)

    # -- earlier slots --------------------------------------------------------------------------

    def reconcile_pending(
        self,
        account: Account,
        publisher: Publisher,
        *,
        grace: dt.timedelta,
        skip_slot: dt.datetime | None = None,
    ) -> list[Outcome]:
        """Settle unfinished posts of earlier slots: confirm those that went out, publish those
        still within the catch-up grace, and give up on older ones (their item gets its place
        in the rotation back)."""
        outcomes = []
        for record in self.store.unfinished(account.name, account.dry_run):
            if skip_slot is not None and record.slot_at == iso(skip_slot):
                continue  # the slot being run settles its own posts
            if utcnow() - parse_iso(record.slot_at) <= grace:
                outcomes.append(self._resume(account, publisher, record))
                continue
            if not self.claims.claim(record):
                continue
            try:
                published = find_earlier(publisher, record, resending=False)
            except Unreachable as exc:
                outcomes.append(unreachable(record, str(exc)))
                continue
            if published is not None:
                found(record, published)
                outcomes.append(self.delivery.posted(record, published))
                continue
            reason = (
                "abandoned: not on the platform, and its slot passed the catch-up grace;"
                " the item keeps its place in the rotation"
            )
            self.store.mark_failed(record, reason)
            log_event(
                log,
                "post.abandoned",
                logging.WARNING,
                account=account.name,
                item=record.item_id,
                slot=record.slot_key,
            )
            outcomes.append(outcome(record, "failed", error=reason))
        return outcomes
