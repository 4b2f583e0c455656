"""Reading the posts: one slot's row, unsettled posts, the history, language use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.state.database import Database
from bot.state.records import POST_COLUMNS, PostRecord, Status, from_row


class PostQueries(Database):
    """Questions about recorded posts (no writes)."""

    def get_post(self, account: str, slot_key: str, dry_run: bool) -> PostRecord | None:
        row = self.execute(
            f"SELECT {POST_COLUMNS} FROM posts WHERE account = ? AND slot_key = ? AND dry_run = ?",
            (account, slot_key, int(dry_run)),
        ).fetchone()
        return from_row(row) if row else None

    def get_post_by_id(self, post_id: int) -> PostRecord | None:
        row = self.execute(f"SELECT {POST_COLUMNS} FROM posts WHERE id = ?", (post_id,)).fetchone()
        return from_row(row) if row else None

    def unfinished(self, account: str, dry_run: bool) -> list[PostRecord]:
        """Posts of an account whose outcome is not settled (planned: a crash; unknown: no
        answer to any attempt), oldest first."""
        rows = self.execute(
            f"SELECT {POST_COLUMNS} FROM posts WHERE account = ? AND status IN ('planned',"
            " 'unknown') AND dry_run = ? ORDER BY slot_at",
            (account, int(dry_run)),
        ).fetchall()
        return [from_row(row) for row in rows]

    def history(
        self,
        *,
        account: str | None = None,
        item_id: str | None = None,
        dry_run: bool = False,
        limit: int = 50,
        statuses: Sequence[Status] | None = None,
    ) -> list[PostRecord]:
        where = ["dry_run = ?"]
        params: list[Any] = [int(dry_run)]
        if account:
            where.append("account = ?")
            params.append(account)
        if item_id:
            where.append("item_id = ?")
            params.append(item_id)
        if statuses:
            where.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params.extend(statuses)
        rows = self.execute(
            f"SELECT {POST_COLUMNS} FROM posts WHERE {' AND '.join(where)}"
            " ORDER BY slot_at DESC, id DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [from_row(row) for row in rows]

    def last_language_use(
        self, account: str, languages: Sequence[str], dry_run: bool
    ) -> dict[str, str]:
        """When each language slot was last used by the account (a post that counts as taken)."""
        result: dict[str, str] = {}
        for language in languages:
            # Newest first along the index; stops at the first planned or posted row.
            row = self.execute(
                "SELECT slot_at FROM posts WHERE account = ? AND dry_run = ?"
                " AND slot_language = ? AND status IN ('planned', 'unknown', 'posted', 'refused')"
                " ORDER BY slot_at DESC LIMIT 1",
                (account, int(dry_run), language),
            ).fetchone()
            if row:
                result[language] = row[0]
        return result
