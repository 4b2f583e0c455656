"""A row of ``posts`` and its statuses: what ``posts.py`` records and ``rotation.py`` counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

#: planned    recorded before the platform is called; its outcome is not known yet
#: posted     the platform has it (remote id and URL recorded)
#: unknown    every attempt ended without an answer (timeouts, 5xx): it may have gone out;
#:            reconciled by the next run, which asks the platform
#: refused    the platform refused the content (400/413/422): final; the item moves on
#: failed     not posted (credentials rejected, abandoned after downtime, confirmed absent)
#: retracted  deleted again with ``leavex-bot retract``
#: missed     the slot could not start in time (backlog, a paused process, the database was
#:            unreachable): nothing was sent; ``error`` says why
Status = Literal["planned", "posted", "unknown", "refused", "failed", "retracted", "missed"]
#: Posts whose outcome is not settled: the next run reconciles them.
UNSETTLED: tuple[Status, ...] = ("planned", "unknown")
#: Posts that count as posted for the rotation (posted, possibly posted, or refused).
TAKEN: tuple[Status, ...] = ("planned", "unknown", "posted", "refused")


@dataclass(frozen=True)
class PostRecord:
    """One row of ``posts``."""

    id: int
    account: str
    platform: str
    slot_at: str
    slot_key: str
    dry_run: bool
    item_id: str
    slot_language: str
    language: str
    text: str
    payload: str
    status: Status
    remote_key: str
    remote_id: str | None
    remote_url: str | None
    error: str | None
    attempts: int
    created_at: str
    updated_at: str
    claimed_by: str | None
    lease_until: str
    last_attempt_at: str | None


#: The columns of ``posts`` in the order of ``PostRecord``'s fields.
POST_COLUMNS = (
    "id, account, platform, slot_at, slot_key, dry_run, item_id, slot_language, language, text,"
    " payload, status, remote_key, remote_id, remote_url, error, attempts, created_at, updated_at,"
    " claimed_by, lease_until, last_attempt_at"
)


def from_row(row: Sequence[Any]) -> PostRecord:
    """A ``PostRecord`` from a row selected with ``POST_COLUMNS``."""
    values = list(row)
    values[5] = bool(values[5])
    return PostRecord(*values)
