"""Posting a slot: select, render, record the plan, publish, record the outcome.

The plan is written before the platform is called (write-ahead), with the idempotency key or
record key the platform will see, so a crash or a lost response leaves a row that a re-run
completes with the very same key instead of posting twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from bot.clock import iso, parse_iso, utcnow
from bot.config import Account
from bot.dataset import Dataset
from bot.errors import (
    PermanentPublishError,
    PublishError,
    RenderError,
    TransientPublishError,
)
from bot.logs import log_event
from bot.post import OutgoingPost, Published, RenderedPost, decode_extras, encode_extras
from bot.publishing.base import ManagedPublisher, Publisher, idempotency_key, new_tid
from bot.rendering.render import Renderer
from bot.selection import Selector, Simulation, slot_key
from bot.state import PostRecord, Store

log = logging.getLogger("bot.poster")

#: Mastodon remembers an Idempotency-Key for an hour; stay well inside it.
MASTODON_IDEMPOTENCY_WINDOW = dt.timedelta(minutes=55)


def worker_identity() -> str:
    """Who holds a claim: host, process id and a random tag (a reused pid is another owner)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


OWNER = worker_identity()


def owner_is_dead(owner: str) -> bool:
    """True only when the owner ran on this host and its process is gone."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


OutcomeStatus = Literal["posted", "failed", "already-posted", "claimed", "nothing-to-post"]


@dataclass(frozen=True)
class Outcome:
    """What happened to one post of a slot."""

    account: str
    slot_key: str
    status: OutcomeStatus
    item_id: str | None = None
    language: str | None = None
    url: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of transient errors within one slot: bounded in count and in total time."""

    attempts: int = 4
    budget: float = 300.0
    base_delay: float = 2.0
    max_delay: float = 120.0


def outgoing(record: PostRecord) -> OutgoingPost:
    """The post a planned row describes, exactly as its first attempt sent it."""
    return OutgoingPost(
        account=record.account,
        platform=record.platform,
        item_id=record.item_id,
        language=record.language,
        slot_at=parse_iso(record.slot_at),
        text=record.text,
        key=record.remote_key,
        **decode_extras(record.payload),
    )


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
        sleep: Callable[[float], None] | None = None,
        stopping: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.dataset = dataset
        self.renderer = renderer
        self.today = today
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.clock = clock
        #: set on SIGTERM: no new attempts; an unfinished post stays planned (reconcilable)
        self.stopping = stopping or threading.Event()
        key = ("renderable", renderer.site_base_url)
        if key not in dataset.memo:
            dataset.memo[key] = frozenset(i.id for i in dataset if not renderer.unresolved_links(i))
        self.selector = Selector(store, dataset, can_render=dataset.memo[key])

    # -- choosing and rendering ---------------------------------------------------------------

    def candidates(
        self,
        account: Account,
        slot_language: str,
        publisher: Publisher,
        simulation: Simulation | None = None,
    ) -> Iterator[RenderedPost]:
        """Rendered posts in selection order; items that cannot be rendered are logged and
        skipped (``check`` reports them)."""
        today = self.today()
        for item in self.selector.candidates(account, slot_language, today, simulation):
            language = self.selector.language_for(item, slot_language, account, today)
            assert language is not None
            try:
                yield self.renderer.render(item, language, account.platform, publisher.limits)
            except RenderError as exc:
                log_event(
                    log,
                    "post.unrenderable",
                    logging.WARNING,
                    account=account.name,
                    item=item.id,
                    language=language,
                    error=str(exc),
                )

    def preview(
        self, account: Account, publisher: Publisher, slots: list[dt.datetime]
    ) -> list[tuple[dt.datetime, RenderedPost | None, str]]:
        """What the next slots would post, without recording anything."""
        simulation = Simulation()
        result: list[tuple[dt.datetime, RenderedPost | None, str]] = []
        for slot_at in slots:
            for key, slot_language, existing in self._keys(account, slot_at, simulation):
                if existing and existing.status in ("posted", "planned"):
                    result.append((slot_at, None, f"already {existing.status}: {existing.item_id}"))
                    continue
                post = next(self.candidates(account, slot_language, publisher, simulation), None)
                if post is None:
                    result.append((slot_at, None, "nothing eligible to post"))
                    continue
                item = self.dataset.by_id[post.item_id]
                simulation.record(item, slot_language, slot_at)
                result.append((slot_at, post, key))
        return result

    def _keys(
        self, account: Account, slot_at: dt.datetime, simulation: Simulation | None = None
    ) -> list[tuple[str, str, PostRecord | None]]:
        """The posts a slot owes: (slot key, language slot, the post's row if it has one)."""
        if account.language_mode == "all":
            keys = [(slot_key(slot_at, lang, "all"), lang) for lang in account.languages]
            return [
                (k, lang, self.store.get_post(account.name, k, account.dry_run)) for k, lang in keys
            ]
        existing = self.store.get_post(account.name, iso(slot_at), account.dry_run)
        if existing is not None:
            return [(existing.slot_key, existing.slot_language, existing)]
        language = self.selector.rotate_language(account, simulation)
        return [(slot_key(slot_at, language, "rotate"), language, None)]

    # -- posting ------------------------------------------------------------------------------

    def run_slot(
        self, account: Account, publisher: Publisher, slot_at: dt.datetime
    ) -> list[Outcome]:
        """Post everything this slot owes; safe to call again for the same slot."""
        return [
            self._run_one(account, publisher, slot_at, key, slot_language, record)
            for key, slot_language, record in self._keys(account, slot_at)
        ]

    def _run_one(
        self,
        account: Account,
        publisher: Publisher,
        slot_at: dt.datetime,
        key: str,
        slot_language: str,
        record: PostRecord | None,
    ) -> Outcome:
        if record is None:
            post = next(self.candidates(account, slot_language, publisher), None)
            if post is None:
                log_event(
                    log,
                    "post.nothing_eligible",
                    logging.WARNING,
                    account=account.name,
                    slot=key,
                    language=slot_language,
                )
                return Outcome(account.name, key, "nothing-to-post", language=slot_language)
            remote_key = (
                new_tid() if account.platform == "bluesky" else idempotency_key(account.name, key)
            )
            record, created = self.store.plan(
                account=account.name,
                platform=account.platform,
                slot_at=slot_at,
                slot_key=key,
                dry_run=account.dry_run,
                item_id=post.item_id,
                slot_language=slot_language,
                language=post.language,
                text=post.text,
                payload=encode_extras(post),
                remote_key=remote_key,
                owner=OWNER,
                lease_until=self._lease(),
                first_attempt=True,
            )
            if not created:  # another worker planned it between our read and our insert
                return _outcome(record, "claimed")
            return self._publish(account, publisher, record, recorded=True)
        if record.status in ("posted", "retracted"):
            return _outcome(record, "already-posted", url=record.remote_url)
        return self._resume(account, publisher, record)

    # -- unfinished posts ---------------------------------------------------------------------

    def _lease(self) -> dt.datetime:
        # Longer than one post can take: the retry budget plus request timeouts.
        return utcnow() + dt.timedelta(seconds=self.retry.budget + 180)

    def _claim(self, record: PostRecord) -> bool:
        holder = record.claimed_by
        dead = holder if holder and holder != OWNER and owner_is_dead(holder) else None
        return self.store.claim(record, OWNER, self._lease(), now=utcnow(), steal_from=dead)

    def _resume(self, account: Account, publisher: Publisher, record: PostRecord) -> Outcome:
        """Finish a post whose earlier attempt crashed, lost its answer or failed."""
        if not self._claim(record):
            return _outcome(record, "claimed")
        settled = self._settle(publisher, record)
        return settled or self._publish(account, publisher, record)

    def _settle(self, publisher: Publisher, record: PostRecord) -> Outcome | None:
        """The outcome of an earlier attempt if it can be known without sending anything:
        posted (found on the platform) or unknown (the platform cannot be asked now);
        ``None`` when sending (again) is safe."""
        try:
            found = self._reconcile(publisher, record)
        except TransientPublishError as exc:
            # Unknown whether it went out, and no way to check now: do not risk a duplicate.
            log_event(log, "post.unreconciled", logging.WARNING, **_fields(record), error=str(exc))
            return _outcome(record, "failed", error=f"could not check the earlier attempt: {exc}")
        if found is None:
            return None
        self.store.mark_posted(record, found.remote_id, found.url)
        log_event(
            log, "post.reconciled", logging.INFO, **_fields(record), outcome="posted", url=found.url
        )
        return _outcome(record, "posted", url=found.url)

    def _reconcile(self, publisher: Publisher, record: PostRecord) -> Published | None:
        """Whether an earlier attempt of this post is already on the platform."""
        if record.attempts == 0 or not isinstance(publisher, ManagedPublisher):
            return None
        if record.platform == "mastodon" and record.last_attempt_at:
            since = utcnow() - parse_iso(record.last_attempt_at)
            if since < MASTODON_IDEMPOTENCY_WINDOW:
                return None  # the server still knows the key: resending returns the original
        return publisher.find(outgoing(record), parse_iso(record.created_at))

    def reconcile_pending(
        self,
        account: Account,
        publisher: Publisher,
        *,
        grace: dt.timedelta,
        skip_slot: dt.datetime | None = None,
    ) -> list[Outcome]:
        """Settle planned posts of earlier slots: confirm those that went out, publish those
        still within the catch-up grace, and give up (item stays in rotation) on older ones."""
        outcomes = []
        for record in self.store.unfinished(account.name, account.dry_run):
            if skip_slot is not None and record.slot_at == iso(skip_slot):
                continue  # the slot being run settles its own posts
            if utcnow() - parse_iso(record.slot_at) <= grace:
                outcomes.append(self._resume(account, publisher, record))
                continue
            if not self._claim(record):
                continue
            settled = self._settle(publisher, record)
            if settled is None:
                self.store.mark_failed(
                    record,
                    "abandoned: not published before its slot passed"
                    " the catch-up grace; the item stays in rotation",
                )
                settled = _outcome(record, "failed", error="abandoned after downtime")
            outcomes.append(settled)
        return outcomes

    # -- publishing ---------------------------------------------------------------------------

    def _publish(
        self, account: Account, publisher: Publisher, record: PostRecord, *, recorded: bool = False
    ) -> Outcome:
        """Send the post, retrying transient errors; ``recorded``: the plan already counted
        the first attempt."""
        started = self.clock()
        delay = self.retry.base_delay
        fields = {**_fields(record), "dry_run": account.dry_run or None}
        for attempt in range(1, self.retry.attempts + 1):
            if attempt > 1 or not recorded:
                self.store.start_attempt(record.id)
            try:
                published = publisher.publish(outgoing(record))
            except TransientPublishError as exc:
                # The server's reset time is honoured as given; only our own backoff is capped.
                wait = exc.retry_after if exc.retry_after is not None else delay
                remaining = self.retry.budget - (self.clock() - started)
                log_event(
                    log,
                    "post.retry",
                    logging.WARNING,
                    **fields,
                    attempt=attempt,
                    error=str(exc),
                    wait=round(wait, 1),
                )
                if attempt == self.retry.attempts or wait > remaining:
                    return self._failed(record, exc, fields)
                if self._wait_or_stop(wait):
                    log_event(log, "post.interrupted", logging.WARNING, **fields)
                    return _outcome(
                        record,
                        "failed",
                        error="interrupted by shutdown; will be reconciled on the next start",
                    )
                delay = min(delay * 2, self.retry.max_delay)
                continue
            except PermanentPublishError as exc:
                return self._failed(record, exc, fields)
            self.store.mark_posted(record, published.remote_id, published.url)
            log_event(
                log, "post.published", logging.INFO, **fields, outcome="posted", url=published.url
            )
            return _outcome(record, "posted", url=published.url)
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait_or_stop(self, seconds: float) -> bool:
        """Wait before the next attempt; ``True`` if a shutdown was asked for meanwhile."""
        if self.sleep is None:
            return self.stopping.wait(seconds)
        self.sleep(seconds)
        return self.stopping.is_set()

    def _failed(self, record: PostRecord, exc: PublishError, fields: dict[str, Any]) -> Outcome:
        reason = f"{exc.status} {exc}" if exc.status else str(exc)
        self.store.mark_failed(record, reason)
        log_event(log, "post.failed", logging.ERROR, **fields, outcome="failed", error=reason)
        return _outcome(record, "failed", error=reason)


def _outcome(
    record: PostRecord, status: OutcomeStatus, *, url: str | None = None, error: str | None = None
) -> Outcome:
    return Outcome(
        record.account,
        record.slot_key,
        status,
        record.item_id,
        record.language,
        url=url,
        error=error,
    )


def _fields(record: PostRecord) -> dict[str, Any]:
    """The fields every log line about a post carries."""
    return {
        "account": record.account,
        "item": record.item_id,
        "language": record.language,
        "slot": record.slot_key,
    }
