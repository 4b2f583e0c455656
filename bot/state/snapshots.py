"""Engagement snapshots: what people did with each post, as read back from its platform.

- ``engagement_latest``: one row per post, its latest reading (state, likes, reposts, replies,
  quotes) and when it was last checked; the stats and the charts read it.
- ``engagement``: the history, one row per post and moment **when its reading changed**, so a
  post nobody touches costs one row however often it is refreshed, and trends can be drawn.
- ``refreshes``: who refreshes, so several workers sharing the database do not refresh twice:
  one conditional statement claims a scheduled refresh (a lease, taken over when it lapses).

A post's state is ``live`` (counted), ``deleted`` (gone from the platform), ``unavailable``
(there, but the platform shows no counts now) or ``retracted`` (deleted with ``leavex-bot
retract``; never asked for).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from bot.clock import iso
from bot.state.database import Database
from bot.state.records import POST_COLUMNS, PostRecord, from_row

#: the columns of a reading, in order
COUNTS = ("likes", "reposts", "replies", "quotes")


@dataclass(frozen=True)
class Snapshot:
    """A post's reading at a moment."""

    post_id: int
    taken_at: str
    state: str
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0

    def same_reading(self, other: Snapshot | None) -> bool:
        return other is not None and (
            self.state,
            self.likes,
            self.reposts,
            self.replies,
            self.quotes,
        ) == (other.state, other.likes, other.reposts, other.replies, other.quotes)


def _snapshot(row: Sequence[object]) -> Snapshot:
    post_id, taken_at, state, likes, reposts, replies, quotes = row
    return Snapshot(
        int(str(post_id)),
        str(taken_at),
        str(state),
        int(str(likes)),
        int(str(reposts)),
        int(str(replies)),
        int(str(quotes)),
    )


class Snapshots(Database):
    """Engagement readings and who refreshes them."""

    def engagement_posts(self, since: dt.datetime, *, platforms: Sequence[str]) -> list[PostRecord]:
        """Published (and retracted) posts of slots since ``since``, oldest first: the posts
        whose counts are read."""
        rows = self.execute(
            f"SELECT {POST_COLUMNS} FROM posts WHERE dry_run = 0 AND slot_at >= ?"
            " AND status IN ('posted', 'retracted') AND remote_id IS NOT NULL"
            f" AND platform IN ({', '.join('?' for _ in platforms)}) ORDER BY slot_at, id",
            (iso(since), *platforms),
        ).fetchall()
        return [from_row(row) for row in rows]

    def record_snapshots(self, snapshots: Sequence[Snapshot]) -> int:
        """Store the readings (one transaction): each becomes its post's latest, and enters the
        history when it differs from the one before. Returns how many entered the history."""
        if not snapshots:
            return 0
        ids = [s.post_id for s in snapshots]
        with self.transaction():
            latest = self._latest_of(ids)
            changed = [s for s in snapshots if not s.same_reading(latest.get(s.post_id))]
            for s in changed:
                self.execute(
                    "INSERT INTO engagement (post_id, taken_at, state, likes, reposts, replies,"
                    " quotes) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (post_id, taken_at)"
                    " DO UPDATE SET state = excluded.state, likes = excluded.likes,"
                    " reposts = excluded.reposts, replies = excluded.replies,"
                    " quotes = excluded.quotes",
                    (s.post_id, s.taken_at, s.state, s.likes, s.reposts, s.replies, s.quotes),
                )
            self.executemany(
                "INSERT INTO engagement_latest (post_id, checked_at, state, likes, reposts,"
                " replies, quotes) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (post_id)"
                " DO UPDATE SET checked_at = excluded.checked_at, state = excluded.state,"
                " likes = excluded.likes, reposts = excluded.reposts,"
                " replies = excluded.replies, quotes = excluded.quotes",
                [
                    (s.post_id, s.taken_at, s.state, s.likes, s.reposts, s.replies, s.quotes)
                    for s in snapshots
                ],
            )
        return len(changed)

    def _latest_of(self, post_ids: Sequence[int]) -> dict[int, Snapshot]:
        found: dict[int, Snapshot] = {}
        for start in range(0, len(post_ids), 500):
            part = post_ids[start : start + 500]
            rows = self.execute(
                "SELECT post_id, checked_at, state, likes, reposts, replies, quotes"
                f" FROM engagement_latest WHERE post_id IN ({', '.join('?' for _ in part)})",
                part,
            ).fetchall()
            found.update((s.post_id, s) for s in map(_snapshot, rows))
        return found

    def latest_snapshots(self, post_ids: Sequence[int]) -> dict[int, Snapshot]:
        """The latest reading of each of these posts that has one."""
        return self._latest_of(list(post_ids))

    def snapshot_history(self, post_ids: Sequence[int]) -> list[Snapshot]:
        """Every change of these posts' readings, oldest first."""
        result: list[Snapshot] = []
        ids = list(post_ids)
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            rows = self.execute(
                "SELECT post_id, taken_at, state, likes, reposts, replies, quotes FROM engagement"
                f" WHERE post_id IN ({', '.join('?' for _ in part)})",
                part,
            ).fetchall()
            result.extend(map(_snapshot, rows))
        result.sort(key=lambda s: (s.taken_at, s.post_id))
        return result

    # -- who refreshes ------------------------------------------------------------------------

    def claim_refresh(
        self,
        name: str,
        slot: dt.datetime,
        owner: str,
        lease_until: dt.datetime,
        now: dt.datetime,
        *,
        again: bool = False,
    ) -> bool:
        """Take the refresh ``name`` of ``slot`` for ``owner``: only if nobody took this slot
        (or a later one; ``again``: a later one only) and nobody else holds a live lease. One
        claimant wins."""
        with self.transaction():
            self.execute(
                "INSERT INTO refreshes (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (name,)
            )
            claimed = self.execute(
                "UPDATE refreshes SET owner = ?, slot = ?, lease_until = ? WHERE name = ?"
                f" AND slot {'<=' if again else '<'} ? AND (lease_until < ? OR owner = ?)",
                (owner, iso(slot), iso(lease_until), name, iso(slot), iso(now), owner),
            ).rowcount
        return claimed == 1

    def extend_refresh(self, name: str, owner: str, lease_until: dt.datetime) -> bool:
        """Renew the lease of a refresh in progress; ``False`` if ``owner`` no longer holds it."""
        return (
            self.execute(
                "UPDATE refreshes SET lease_until = ? WHERE name = ? AND owner = ?",
                (iso(lease_until), name, owner),
            ).rowcount
            == 1
        )

    def finish_refresh(self, name: str, owner: str, now: dt.datetime) -> None:
        self.execute(
            "UPDATE refreshes SET lease_until = '', finished_at = ? WHERE name = ? AND owner = ?",
            (iso(now), name, owner),
        )

    def last_refresh(self, name: str) -> str | None:
        """When the refresh ``name`` last finished (ISO), if ever."""
        row = self.execute("SELECT finished_at FROM refreshes WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row and row[0] else None
