"""Delivering a planned post: send it, retry what may go away, and record what happened.

Retries are stamina's (attempts, a total time bound, and its testing switch, which tests use
instead of waiting). What to do after an error is decided here:

- transient (timeouts, 5xx, 429): retry; the wait is the server's reset time when it gives one,
  else exponential backoff; no retry when that wait would end after the slot's budget. The
  wait is taken on the shutdown event, so SIGTERM cuts it short.
- refused (400/413/422, the content): recorded ``refused`` with the platform's error; the item
  moves on in the rotation instead of being chosen again slot after slot.
- other permanent errors (credentials): recorded ``failed``; the item keeps its place.
- retries ran out after an attempt that may have reached the platform (a timeout, a 5xx, a
  lost answer): recorded ``unknown`` (the post may be out), never ``failed``: the next run asks
  the platform and records the truth; meanwhile the item counts as posted. Retries that ran
  out on rate limits only (the server refused every attempt) are ``failed``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.cards import prepare
from bot.config import Account
from bot.errors import PermanentPublishError, PublishError, TransientPublishError
from bot.logs import log_event
from bot.post import Published
from bot.poster.outcome import Outcome, fields, outcome
from bot.poster.planning import outgoing
from bot.publishing.base import Publisher
from bot.state import PostRecord, Store

log = logging.getLogger("bot.poster")

#: Status codes that mean "this content is refused", not "this account cannot post".
CONTENT_REFUSED = frozenset({400, 413, 422})


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of transient errors within one slot: bounded in count and in total time."""

    attempts: int = 4
    budget: float = 300.0
    base_delay: float = 2.0
    max_delay: float = 120.0

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` when the server names none."""
        return float(min(self.base_delay * 2 ** (attempt - 1), self.max_delay))

    def lease(self, request_timeout: float = 60.0) -> dt.timedelta:
        """Longer than one post can take: the budget, one more wait, and request timeouts."""
        return dt.timedelta(seconds=self.budget + self.max_delay + 3 * request_timeout)


class _Interrupted(Exception):
    """A shutdown was asked for while waiting to retry."""


class Delivery:
    """Sends planned posts through a publisher and records their outcome in the store."""

    def __init__(
        self,
        store: Store,
        retry: RetryPolicy,
        stopping: threading.Event,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.retry = retry
        self.stopping = stopping
        self.clock = clock

    def send(
        self, account: Account, publisher: Publisher, record: PostRecord, *, recorded: bool
    ) -> Outcome:
        """Send the post, retrying transient errors; ``recorded``: the plan already counted
        the first attempt."""
        import stamina  # ~10 ms (tenacity), paid only by commands that post

        log_fields = {**fields(record), "dry_run": account.dry_run or None}
        tries = 0
        interrupted = False
        # Whether an attempt may have reached the platform (a timeout or a 5xx may come after
        # the post was saved; a 429 never does). An earlier run's attempts count too.
        maybe_sent = not recorded and record.attempts > 0
        started = self.clock()

        def after(exc: Exception) -> bool | float:
            nonlocal interrupted, maybe_sent
            if not isinstance(exc, TransientPublishError):
                return False
            maybe_sent = maybe_sent or exc.status != 429
            wait = exc.retry_after if exc.retry_after is not None else self.retry.backoff(tries)
            remaining = self.retry.budget - (self.clock() - started)
            log_event(
                log,
                "post.retry",
                logging.WARNING,
                **log_fields,
                attempt=tries,
                error=str(exc),
                wait=round(wait, 1),
            )
            if tries >= self.retry.attempts or wait > remaining:
                return False
            if not stamina.is_testing() and self.stopping.wait(wait):
                interrupted = True
                return False
            return 0.0  # waited above, on the shutdown event

        post = outgoing(record)
        shown = account.platform == "bluesky" or account.media  # MASTODON_MEDIA=false: no picture
        if post.picture is not None and shown and not account.dry_run:
            prepare(post.picture)  # a share card is drawn now if its cached file is missing
        try:
            for attempt in stamina.retry_context(
                on=after, attempts=self.retry.attempts, timeout=self.retry.budget
            ):
                with attempt:
                    tries += 1
                    if tries > 1 or not recorded:
                        self.store.start_attempt(record.id)
                    published = publisher.publish(post)
        except TransientPublishError as exc:
            if interrupted:
                log_event(log, "post.interrupted", logging.WARNING, **log_fields)
                return outcome(
                    record,
                    "failed",
                    error="interrupted by shutdown; will be reconciled on the next start",
                )
            if maybe_sent:
                return self._unknown(record, exc, log_fields)
            return self._refused_or_failed(record, exc, log_fields)
        except PermanentPublishError as exc:
            return self._refused_or_failed(record, exc, log_fields)
        return self.posted(record, published, log_fields)

    def posted(
        self, record: PostRecord, published: Published, log_fields: dict[str, Any] | None = None
    ) -> Outcome:
        self.store.mark_posted(record, published.remote_id, published.url)
        log_event(
            log,
            "post.published",
            logging.INFO,
            **(log_fields or fields(record)),
            outcome="posted",
            url=published.url,
        )
        return outcome(record, "posted", url=published.url)

    def _unknown(
        self, record: PostRecord, exc: PublishError, log_fields: dict[str, Any]
    ) -> Outcome:
        reason = (
            f"no answer after every attempt ({_reason(exc)}); it may have been published:"
            " the next run asks the platform"
        )
        self.store.mark_unknown(record, reason)
        log_event(log, "post.unknown", logging.ERROR, **log_fields, outcome="unknown", error=reason)
        return outcome(record, "unknown", error=reason)

    def _refused_or_failed(
        self, record: PostRecord, exc: PublishError, log_fields: dict[str, Any]
    ) -> Outcome:
        reason = _reason(exc)
        if exc.status in CONTENT_REFUSED:
            reason = f"refused by the platform: {reason} (run `leavex-bot check`)"
            self.store.mark_refused(record, reason)
            log_event(
                log, "post.refused", logging.ERROR, **log_fields, outcome="refused", error=reason
            )
            return outcome(record, "refused", error=reason)
        self.store.mark_failed(record, reason)
        log_event(log, "post.failed", logging.ERROR, **log_fields, outcome="failed", error=reason)
        return outcome(record, "failed", error=reason)


def _reason(exc: PublishError) -> str:
    return f"{exc.status} {exc}" if exc.status else str(exc)
