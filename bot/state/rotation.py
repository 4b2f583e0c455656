"""The rotation: which item each account posts next, per language.

Table ``rotation`` has one row per (account, language, dry run, item): when the item was last
posted, indexed in selection order, so choosing the next item is one indexed query at any size.
``rotation_sync`` remembers a fingerprint of the dataset rows last synced, so that syncing an
unchanged dataset costs one read. Posts move their item here: planning takes the item at once
(``_take``), settling sets its place from its posts (``refresh_rotation``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from bot.state.database import Database
from bot.state.records import TAKEN, PostRecord


class Rotation(Database):
    """The items' places in the rotation."""

    def sync_rotation(
        self,
        account: str,
        language: str,
        dry_run: bool,
        rows: Sequence[tuple[str, int, bool]],
        fingerprint: str,
    ) -> None:
        """Make sure every item has a rotation row with its dataset position and whether it
        can be chosen, as ``rows`` of (item id, ordinal, eligible). Cheap when ``fingerprint``
        (of those rows) is unchanged, which is the common case."""
        key = (account, language, int(dry_run))
        row = self.execute(
            "SELECT fingerprint FROM rotation_sync"
            " WHERE account = ? AND language = ? AND dry_run = ?",
            key,
        ).fetchone()
        if row and row[0] == fingerprint:
            return
        with self.transaction():
            self.executemany(
                self._sql(
                    "INSERT INTO rotation (account, language, dry_run, item_id, ordinal,"
                    " eligible, last_slot) VALUES (?, ?, ?, ?, ?, ?, '')"
                    " ON CONFLICT (account, language, dry_run, item_id)"
                    " DO UPDATE SET ordinal = excluded.ordinal, eligible = excluded.eligible"
                ),
                [(*key, item_id, ordinal, int(eligible)) for item_id, ordinal, eligible in rows],
            )
            self.execute(
                "INSERT INTO rotation_sync (account, language, dry_run, fingerprint)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (account, language, dry_run)"
                " DO UPDATE SET fingerprint = excluded.fingerprint",
                (*key, fingerprint),
            )

    def rotation_order(
        self, account: str, language: str, dry_run: bool, batch: int = 16
    ) -> Iterator[tuple[str, str]]:
        """(item id, last slot) of the eligible items in selection order: never posted first,
        then least recently posted; ties in dataset order. Read lazily along the index."""
        cursor = self.execute(
            "SELECT item_id, last_slot FROM rotation WHERE account = ? AND language = ?"
            " AND dry_run = ? AND eligible = 1 ORDER BY last_slot, ordinal",
            (account, language, int(dry_run)),
        )
        while rows := cursor.fetchmany(batch):
            yield from ((item_id, last_slot) for item_id, last_slot in rows)

    def _take(
        self, account: str, slot_language: str, dry_run: bool, item_id: str, slot_at: str
    ) -> None:
        """A planned post may be out any moment: its item counts as posted from now on
        (never moved back before a newer slot)."""
        self.execute(
            "UPDATE rotation SET last_slot = ? WHERE account = ? AND language = ?"
            " AND dry_run = ? AND item_id = ? AND last_slot < ?",
            (slot_at, account, slot_language, int(dry_run), item_id, slot_at),
        )

    def refresh_rotation(self, post: PostRecord) -> None:
        """Set the item's place in the rotation from its posts: the newest slot where it was
        planned, posted, possibly posted or refused. Settling an older slot never moves the
        item back before a newer one; a post that turned out not to be out gives its slot back."""
        taken = ", ".join("?" for _ in TAKEN)
        self.execute(
            "UPDATE rotation SET last_slot = COALESCE((SELECT MAX(slot_at) FROM posts"
            " WHERE account = ? AND slot_language = ? AND dry_run = ? AND item_id = ?"
            f" AND status IN ({taken})), '')"
            " WHERE account = ? AND language = ? AND dry_run = ? AND item_id = ?",
            (
                *(post.account, post.slot_language, int(post.dry_run), post.item_id),
                *TAKEN,
                *(post.account, post.slot_language, int(post.dry_run), post.item_id),
            ),
        )
