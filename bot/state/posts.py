"""Where every post is recorded: planned before the platform is called, then settled.

Table ``posts`` has one row per (account, slot key, dry run): the planned/posted/failed post
with its rendered text, idempotency key or record key, remote id and URL. The unique constraint
is what makes a slot post at most once per account. An unfinished post is claimed by one worker
at a time (a claim with a lease in the row), so several workers can share one database. What a
row is and what its statuses mean: ``records.py``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from bot.clock import iso, utcnow
from bot.state.queries import PostQueries
from bot.state.records import PostRecord, Status
from bot.state.rotation import Rotation


class Posts(PostQueries, Rotation):
    """Records posts and their outcomes; planning and settling move the item in the rotation."""

    def plan(
        self,
        *,
        account: str,
        platform: str,
        slot_at: dt.datetime,
        slot_key: str,
        dry_run: bool,
        item_id: str,
        slot_language: str,
        language: str,
        text: str,
        payload: str,
        remote_key: str,
        owner: str = "",
        lease_until: dt.datetime | None = None,
        first_attempt: bool = False,
    ) -> tuple[PostRecord, bool]:
        """Record a planned post. Returns the row and whether this call created it (``False``:
        the slot was already claimed, and the existing row is returned unchanged)."""
        now = iso(utcnow())
        values: dict[str, Any] = {
            "account": account,
            "platform": platform,
            "slot_at": iso(slot_at),
            "slot_key": slot_key,
            "dry_run": int(dry_run),
            "item_id": item_id,
            "slot_language": slot_language,
            "language": language,
            "text": text,
            "payload": payload,
            "status": "planned",
            "remote_key": remote_key,
            # The first attempt starts right after planning: record it with the plan.
            "attempts": int(first_attempt),
            "created_at": now,
            "updated_at": now,
            "claimed_by": owner or None,
            "lease_until": iso(lease_until) if lease_until else "",
            "last_attempt_at": now if first_attempt else None,
        }
        with self.transaction():
            row = self.execute(
                f"INSERT INTO posts ({', '.join(values)}) VALUES ({', '.join('?' for _ in values)})"
                " ON CONFLICT (account, slot_key, dry_run) DO NOTHING RETURNING id",
                list(values.values()),
            ).fetchone()
            if row is not None:
                self._take(account, slot_language, dry_run, item_id, values["slot_at"])
        if row is not None:  # ours: build the record instead of reading it back
            values.update(id=row[0], dry_run=dry_run, remote_id=None, remote_url=None, error=None)
            return PostRecord(**values), True
        record = self.get_post(account, slot_key, dry_run)
        assert record is not None
        return record, False

    def start_attempt(self, post_id: int) -> None:
        now = iso(utcnow())
        self.execute(
            "UPDATE posts SET attempts = attempts + 1, updated_at = ?, last_attempt_at = ?"
            " WHERE id = ?",
            (now, now, post_id),
        )

    def claim(
        self,
        post: PostRecord,
        owner: str,
        lease_until: dt.datetime,
        *,
        now: dt.datetime,
        steal_from: str | None = None,
    ) -> bool:
        """Take an unfinished post for ``owner``: only if nobody holds a live lease on it, or
        if its holder ``steal_from`` is known to be dead. Atomic: one claimant wins."""
        cursor = self.execute(
            "UPDATE posts SET claimed_by = ?, lease_until = ?, updated_at = ?"
            " WHERE id = ? AND status IN ('planned', 'unknown', 'failed')"
            " AND (claimed_by IS NULL OR claimed_by = ? OR lease_until < ? OR claimed_by = ?)",
            (owner, iso(lease_until), iso(now), post.id, owner, iso(now), steal_from or owner),
        )
        return cursor.rowcount == 1

    def mark_posted(self, post: PostRecord, remote_id: str, remote_url: str | None) -> PostRecord:
        """Record a successful post; its item goes to the back of the rotation."""
        return self._settle(post, "posted", remote_id=remote_id, remote_url=remote_url)

    def mark_unknown(self, post: PostRecord, error: str) -> PostRecord:
        """Every attempt ended without an answer: the post may be out. It stays reconcilable,
        and its item counts as posted for the rotation until the platform says otherwise."""
        return self._settle(post, "unknown", error=error)

    def mark_refused(self, post: PostRecord, error: str) -> PostRecord:
        """The platform refused the content: final for this slot; the item moves on."""
        return self._settle(post, "refused", error=error)

    def mark_failed(self, post: PostRecord, error: str) -> PostRecord:
        """Not posted: the item keeps its place in the rotation (as if never chosen)."""
        return self._settle(post, "failed", error=error)

    def _settle(
        self,
        post: PostRecord,
        status: Status,
        *,
        remote_id: str | None = None,
        remote_url: str | None = None,
        error: str | None = None,
    ) -> PostRecord:
        error = error[:2000] if error else None
        with self.transaction():
            self.execute(
                "UPDATE posts SET status = ?, remote_id = COALESCE(?, remote_id),"
                " remote_url = COALESCE(?, remote_url), error = ?, lease_until = '',"
                " updated_at = ? WHERE id = ?",
                (status, remote_id, remote_url, error, iso(utcnow()), post.id),
            )
            self.refresh_rotation(post)
        return dataclasses.replace(
            post,
            status=status,
            remote_id=remote_id or post.remote_id,
            remote_url=remote_url or post.remote_url,
            error=error,
            lease_until="",
        )

    def record_missed(
        self,
        *,
        account: str,
        platform: str,
        slot_at: dt.datetime,
        keys: Sequence[tuple[str, str]],
        dry_run: bool,
        reason: str,
    ) -> int:
        """Record that a slot's posts (``keys``: slot key, language slot) were not sent, with
        the reason; a key that already has a row keeps it. Returns how many were recorded."""
        now = iso(utcnow())
        recorded = 0
        for slot_key, slot_language in keys:
            row = self.execute(
                "INSERT INTO posts (account, platform, slot_at, slot_key, dry_run, item_id,"
                " slot_language, language, text, payload, status, remote_key, error, attempts,"
                " created_at, updated_at, lease_until)"
                " VALUES (?, ?, ?, ?, ?, '', ?, '', '', '{}', 'missed', '', ?, 0, ?, ?, '')"
                " ON CONFLICT (account, slot_key, dry_run) DO NOTHING RETURNING id",
                (
                    account,
                    platform,
                    iso(slot_at),
                    slot_key,
                    int(dry_run),
                    slot_language,
                    reason[:2000],
                    now,
                    now,
                ),
            ).fetchone()
            recorded += row is not None
        return recorded

    def mark_retracted(self, post: PostRecord) -> None:
        self.execute(
            "UPDATE posts SET status = 'retracted', updated_at = ? WHERE id = ?",
            (iso(utcnow()), post.id),
        )
