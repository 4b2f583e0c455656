"""Reading the posts for the status page and the health check: the history in pages, each
account's latest post and problem, and how often each item was posted. Reads only.

The history is paged by its sort key (slot time, id), never by an offset, and every filter has
an index that walks the posts in that order (schema version 4): a page costs the same with a
hundred recorded posts or a hundred thousand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.state.database import Database
from bot.state.records import POST_COLUMNS, PostRecord, Status, from_row

#: A position in the history: (slot time, id) of a post.
Cursor = tuple[str, int]


@dataclass(frozen=True)
class HistoryFilter:
    """Which posts the history shows; empty fields do not filter."""

    dry_run: bool = False
    account: str = ""
    item_id: str = ""
    language: str = ""
    status: str = ""

    def where(self) -> tuple[list[str], list[Any]]:
        where = ["dry_run = ?"]
        params: list[Any] = [int(self.dry_run)]
        for column, value in (
            ("account", self.account),
            ("item_id", self.item_id),
            ("language", self.language),
            ("status", self.status),
        ):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        return where, params


@dataclass(frozen=True)
class ItemStats:
    times_posted: int
    last_posted: str


class Overview(Database):
    """Questions the status page asks (no writes)."""

    def history_page(
        self,
        selection: HistoryFilter,
        *,
        before: Cursor | None = None,
        after: Cursor | None = None,
        limit: int = 50,
    ) -> tuple[list[PostRecord], bool]:
        """Up to ``limit`` posts newest first, older than ``before`` or newer than ``after``
        (the first page if neither), and whether there is a page beyond them in that
        direction."""
        where, params = selection.where()
        order = "DESC"
        if before is not None:
            where.append("(slot_at, id) < (?, ?)")
            params += [before[0], before[1]]
        elif after is not None:
            where.append("(slot_at, id) > (?, ?)")
            params += [after[0], after[1]]
            order = "ASC"
        rows = self.execute(
            f"SELECT {POST_COLUMNS} FROM posts WHERE {' AND '.join(where)}"
            f" ORDER BY slot_at {order}, id {order} LIMIT ?",
            (*params, limit + 1),
        ).fetchall()
        more = len(rows) > limit
        records = [from_row(row) for row in rows[:limit]]
        if order == "ASC":
            records.reverse()
        return records, more

    def latest_post(
        self, account: str, dry_run: bool, statuses: Sequence[Status] | None = None
    ) -> PostRecord | None:
        """The account's newest post (of these statuses), by slot time."""
        where = "account = ? AND dry_run = ?"
        params: list[Any] = [account, int(dry_run)]
        if statuses:
            where += f" AND status IN ({', '.join('?' for _ in statuses)})"
            params += list(statuses)
        row = self.execute(
            f"SELECT {POST_COLUMNS} FROM posts WHERE {where} ORDER BY slot_at DESC, id DESC"
            " LIMIT 1",
            params,
        ).fetchone()
        return from_row(row) if row else None

    def posts_of_slot(self, account: str, slot_at: str, dry_run: bool) -> list[PostRecord]:
        """Every post recorded for one slot of an account (one per language in ``all``)."""
        rows = self.execute(
            f"SELECT {POST_COLUMNS} FROM posts WHERE account = ? AND dry_run = ? AND slot_at = ?"
            " ORDER BY id",
            (account, int(dry_run), slot_at),
        ).fetchall()
        return [from_row(row) for row in rows]

    def item_stats(self, dry_run: bool) -> dict[str, ItemStats]:
        """How often each item was posted, and its latest posted slot."""
        rows = self.execute(
            "SELECT item_id, COUNT(*), MAX(slot_at) FROM posts WHERE dry_run = ?"
            " AND status = 'posted' GROUP BY item_id",
            (int(dry_run),),
        ).fetchall()
        return {str(i): ItemStats(int(n), str(last)) for i, n, last in rows}
