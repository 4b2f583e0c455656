"""The publishing seam: a publisher is one method, :meth:`Publisher.publish`, plus ``close``."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from typing import Any, Protocol, runtime_checkable

from bot.post import OutgoingPost, PlatformLimits, Published


class Publisher(Protocol):
    """Sends posts to one account. Raises :class:`bot.errors.PublishError` subclasses only."""

    @property
    def limits(self) -> PlatformLimits:
        """The account's limits, used to render its posts."""
        ...

    def publish(self, post: OutgoingPost) -> Published: ...

    def close(self) -> None: ...


def idempotency_key(account: str, slot_key: str) -> str:
    """Stable across retries and restarts: derived from the account and the slot only."""
    digest = hashlib.sha256(f"leavex-bot\0{account}\0{slot_key}".encode()).hexdigest()
    return f"leavex-{digest[:40]}"


_B32_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"


def new_tid(micros: int | None = None, clock_id: int | None = None) -> str:
    """A new AT Protocol TID (13 base32-sortable characters): a post's record key."""
    micros = time.time_ns() // 1000 if micros is None else micros
    clock_id = secrets.randbelow(1024) if clock_id is None else clock_id
    value = ((micros & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF)
    return "".join(_B32_SORTABLE[(value >> (5 * i)) & 31] for i in reversed(range(13)))


@runtime_checkable
class MarkablePublisher(Protocol):
    """A real account whose profile can say that it is automated."""

    def bot_mark(self) -> tuple[str, bool]:
        """The account's handle and whether it is marked as automated."""
        ...

    def mark_bot(self) -> bool:
        """Mark the account as automated, keeping its other profile fields; ``False`` if it
        was marked already."""
        ...


@runtime_checkable
class ManagedPublisher(Publisher, Protocol):
    """A publisher for a real account, which can also check itself and remove posts."""

    def verify(self) -> dict[str, Any]:
        """Who the credentials belong to and the account's limits; posts nothing."""
        ...

    def exists(self, remote_id: str) -> bool: ...

    def find(self, post: OutgoingPost, since: dt.datetime) -> Published | None:
        """The post if an earlier attempt published it (after ``since``), else ``None``.

        Used to reconcile a post whose outcome is unknown (a crash, a lost response)."""
        ...

    def delete(self, remote_id: str) -> bool:
        """Delete a post; ``False`` if it was already gone."""
        ...
