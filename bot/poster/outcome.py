"""What happened to one post of a slot, and the fields every log line about a post carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bot.state import PostRecord

OutcomeStatus = Literal[
    "posted",  # published now, or found on the platform
    "unknown",  # no answer to any attempt: may be out; the next run asks the platform
    "refused",  # the platform refused the content; the item moves on
    "failed",  # not posted (credentials, abandoned, shutdown)
    "already-posted",
    "claimed",  # another worker holds it
    "nothing-to-post",
]
#: Outcomes that make ``leavex-bot post`` and ``run --once`` exit 1.
PROBLEMS: frozenset[OutcomeStatus] = frozenset({"unknown", "refused", "failed"})


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


def outcome(
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


def fields(record: PostRecord) -> dict[str, Any]:
    """The fields every log line about a post carries."""
    return {
        "account": record.account,
        "item": record.item_id,
        "language": record.language,
        "slot": record.slot_key,
    }
