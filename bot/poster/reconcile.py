"""Reconciling posts whose outcome is not known (``planned`` after a crash, ``unknown`` after
every answer was lost): ask the platform first, then record the truth.

- Found on the platform: ``posted``, with its URL.
- Not found, slot still within the catch-up grace: safe to send again (with the same key).
- Not found, slot older than the grace: ``failed`` (never sent late in a burst); the item gets
  its place in the rotation back.
- The platform cannot be asked now: left as it is; its item keeps counting as posted.
"""

from __future__ import annotations

import datetime as dt
import logging

from bot.clock import parse_iso, utcnow
from bot.errors import TransientPublishError
from bot.logs import log_event
from bot.post import Published
from bot.poster.outcome import Outcome, fields, outcome
from bot.poster.planning import outgoing
from bot.publishing.base import ManagedPublisher, Publisher
from bot.state import PostRecord

log = logging.getLogger("bot.poster")

#: Mastodon remembers an Idempotency-Key for an hour; stay well inside it.
MASTODON_IDEMPOTENCY_WINDOW = dt.timedelta(minutes=55)


class Unreachable(Exception):
    """The platform could not be asked whether an earlier attempt went out."""


def find_earlier(publisher: Publisher, record: PostRecord, *, resending: bool) -> Published | None:
    """The post if an earlier attempt published it, else ``None``. Raises
    :class:`Unreachable` when that cannot be known now.

    ``resending``: the caller sends the post again if ``None`` comes back. Then a Mastodon
    post whose Idempotency-Key the server still remembers need not be looked for: resending
    it returns the original if there is one."""
    if record.attempts == 0 or not isinstance(publisher, ManagedPublisher):
        return None  # never sent, or a dry run
    if (
        resending
        and record.platform == "mastodon"
        and record.last_attempt_at
        and utcnow() - parse_iso(record.last_attempt_at) < MASTODON_IDEMPOTENCY_WINDOW
    ):
        return None
    try:
        return publisher.find(outgoing(record), parse_iso(record.created_at))
    except TransientPublishError as exc:
        raise Unreachable(str(exc)) from None


def unreachable(record: PostRecord, error: str) -> Outcome:
    """The outcome stays unknown: log it; the row is left for the next run."""
    log_event(log, "post.unreconciled", logging.WARNING, **fields(record), error=error)
    return outcome(record, "unknown", error=f"could not check the earlier attempt: {error}")


def found(record: PostRecord, published: Published) -> None:
    log_event(
        log,
        "post.reconciled",
        logging.INFO,
        **fields(record),
        outcome="posted",
        url=published.url,
    )
