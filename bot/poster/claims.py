"""Who holds an unfinished post: several workers may share one database, and exactly one of
them works on a post at a time (a claim with a lease in the post's row)."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket

from bot.clock import utcnow
from bot.state import PostRecord, Store


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


class Claims:
    """Takes unfinished posts for this process, with a lease longer than one post can take."""

    def __init__(self, store: Store, lease: dt.timedelta) -> None:
        self.store = store
        self.lease = lease

    def lease_until(self) -> dt.datetime:
        return utcnow() + self.lease

    def claim(self, record: PostRecord) -> bool:
        """Take ``record`` unless another live worker holds an unexpired lease on it."""
        holder = record.claimed_by
        dead = holder if holder and holder != OWNER and owner_is_dead(holder) else None
        return self.store.claim(record, OWNER, self.lease_until(), now=utcnow(), steal_from=dead)
