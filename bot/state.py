"""The state store: where every post is recorded, on SQLite or PostgreSQL.

Tables:

``posts``     one row per (account, slot key, dry run): the planned/posted/failed post with its
              rendered text, idempotency key or record key, remote id and URL. The unique
              constraint is what makes a slot post at most once per account.
``rotation``  per (account, language, dry run, item): when the item was last posted, indexed in
              selection order, so choosing the next item is one indexed query at any size.
``kv``        small values such as a Bluesky session string.

Timestamps are stored as ISO-8601 UTC strings (``2026-11-21T09:00:00Z``), which sort correctly
as text on both databases. The stdlib ``sqlite3`` and ``psycopg`` are used directly: an ORM
would double the CLI's start-up time (measured; see the commit that chose this).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from bot.clock import iso, utcnow
from bot.errors import StateError

#: planned    recorded before the platform is called; its outcome is not known yet
#: posted     the platform has it (remote id and URL recorded)
#: unknown    every attempt ended without an answer (timeouts, 5xx): it may have gone out;
#:            reconciled by the next run, which asks the platform
#: refused    the platform refused the content (400/413/422): final; the item moves on
#: failed     not posted (credentials rejected, abandoned after downtime, confirmed absent)
#: retracted  deleted again with ``leavex-bot retract``
Status = Literal["planned", "posted", "unknown", "refused", "failed", "retracted"]
#: Posts whose outcome is not settled: the next run reconciles them.
UNSETTLED: tuple[Status, ...] = ("planned", "unknown")
#: Posts that count as posted for the rotation (posted, possibly posted, or refused).
TAKEN: tuple[Status, ...] = ("planned", "unknown", "posted", "refused")
SCHEMA_VERSION = 3


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


_POST_COLUMNS = (
    "id, account, platform, slot_at, slot_key, dry_run, item_id, slot_language, language, text,"
    " payload, status, remote_key, remote_id, remote_url, error, attempts, created_at, updated_at,"
    " claimed_by, lease_until, last_attempt_at"
)


def _record(row: Sequence[Any]) -> PostRecord:
    values = list(row)
    values[5] = bool(values[5])
    return PostRecord(*values)


class _Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchmany(self, size: int) -> list[Any]: ...
    @property
    def rowcount(self) -> int: ...


_SCHEMA_COMMON = [
    """CREATE TABLE IF NOT EXISTS rotation (
        account TEXT NOT NULL,
        language TEXT NOT NULL,
        dry_run INTEGER NOT NULL,
        item_id TEXT NOT NULL,
        ordinal INTEGER NOT NULL,
        last_slot TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (account, language, dry_run, item_id))""",
    """CREATE INDEX IF NOT EXISTS rotation_order
        ON rotation (account, language, dry_run, last_slot, ordinal)""",
    """CREATE TABLE IF NOT EXISTS rotation_sync (
        account TEXT NOT NULL,
        language TEXT NOT NULL,
        dry_run INTEGER NOT NULL,
        fingerprint TEXT NOT NULL,
        PRIMARY KEY (account, language, dry_run))""",
    """CREATE TABLE IF NOT EXISTS kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS posts_language_slot
        ON posts (account, dry_run, slot_language, slot_at)""",
    """CREATE INDEX IF NOT EXISTS posts_item ON posts (item_id)""",
    """CREATE INDEX IF NOT EXISTS posts_slot ON posts (slot_at)""",
]
_POSTS_TABLE = """CREATE TABLE IF NOT EXISTS posts (
        id {id_type},
        account TEXT NOT NULL,
        platform TEXT NOT NULL,
        slot_at TEXT NOT NULL,
        slot_key TEXT NOT NULL,
        dry_run INTEGER NOT NULL,
        item_id TEXT NOT NULL,
        slot_language TEXT NOT NULL,
        language TEXT NOT NULL,
        text TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        remote_key TEXT NOT NULL,
        remote_id TEXT,
        remote_url TEXT,
        error TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (account, slot_key, dry_run))"""


class Store:
    """Records posts and answers the questions selection asks. One connection per instance."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect: Literal["sqlite", "postgresql"]
        if url.startswith("sqlite:///"):
            self.dialect = "sqlite"
            self._conn: Any = self._connect_sqlite(url.removeprefix("sqlite:///"))
        else:
            self.dialect = "postgresql"
            self._conn = self._connect_postgres(url)
        self._migrate()

    # -- connection ---------------------------------------------------------------------------

    @staticmethod
    def _connect_sqlite(path: str) -> sqlite3.Connection:
        if path != ":memory:":
            try:
                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StateError(
                    f"cannot create the folder for the state database: {exc}"
                ) from None
        try:
            conn = sqlite3.connect(
                Path(path).expanduser() if path != ":memory:" else path,
                timeout=30,
                isolation_level=None,  # we issue BEGIN ourselves
                check_same_thread=False,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StateError(f"cannot open the state database {path}: {exc}") from None
        return conn

    @staticmethod
    def _connect_postgres(url: str) -> Any:
        import psycopg

        url = re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql://", url)
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            # psycopg's message can contain the password from the URL: report the host only.
            host = re.sub(r"//[^@/]*@", "//", url)
            raise StateError(
                f"cannot connect to PostgreSQL at {host}: {type(exc).__name__}"
            ) from None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Cursor:
        try:
            cursor: _Cursor = self._conn.execute(self._sql(sql), tuple(params))
        except sqlite3.Error as exc:
            raise StateError(f"state database error: {exc}") from exc
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                raise StateError(f"state database error: {type(exc).__name__}: {exc}") from exc
            raise
        return cursor

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if self.dialect == "sqlite":
            self._conn.executemany(sql, rows)
        else:
            with self._conn.cursor() as cursor:
                cursor.executemany(self._sql(sql), rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction; on SQLite it takes the write lock at once (BEGIN IMMEDIATE)."""
        if self.dialect == "sqlite":
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        else:
            with self._conn.transaction():
                yield

    def _migrate(self) -> None:
        with self.transaction():
            if self.dialect == "postgresql":
                # Several workers may start at once: one migrates, the others wait.
                self.execute("SELECT pg_advisory_xact_lock(8027443)")
            self.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = self.execute("SELECT MAX(version) FROM schema_version").fetchone()
            version = row[0] or 0
            if version > SCHEMA_VERSION:
                raise StateError(
                    f"the state database has schema version {version}, newer than this bot"
                    f" ({SCHEMA_VERSION}): upgrade the bot"
                )
            if version < 1:
                id_type = (
                    "INTEGER PRIMARY KEY AUTOINCREMENT"
                    if self.dialect == "sqlite"
                    else "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
                )
                self.execute(_POSTS_TABLE.format(id_type=id_type))
                for statement in _SCHEMA_COMMON:
                    self.execute(statement)
                self.execute("INSERT INTO schema_version (version) VALUES (1)")
            if version < 2:
                # Claims with a lease, so several workers can share one database.
                self.execute("ALTER TABLE posts ADD COLUMN claimed_by TEXT")
                self.execute("ALTER TABLE posts ADD COLUMN lease_until TEXT NOT NULL DEFAULT ''")
                self.execute("ALTER TABLE posts ADD COLUMN last_attempt_at TEXT")
                self.execute("CREATE INDEX IF NOT EXISTS posts_open ON posts (account, status)")
                self.execute("INSERT INTO schema_version (version) VALUES (2)")
            if version < 3:
                # Items that can never be chosen (no text in the language, closed) are kept out
                # of the selection index instead of being walked past on every slot.
                self.execute("ALTER TABLE rotation ADD COLUMN eligible INTEGER NOT NULL DEFAULT 1")
                self.execute("DROP INDEX IF EXISTS rotation_order")
                self.execute(
                    "CREATE INDEX IF NOT EXISTS rotation_next ON rotation"
                    " (account, language, dry_run, eligible, last_slot, ordinal)"
                )
                self.execute("DELETE FROM rotation_sync")  # recompute the flags
                self.execute("INSERT INTO schema_version (version) VALUES (3)")

    # -- posts --------------------------------------------------------------------------------

    def get_post(self, account: str, slot_key: str, dry_run: bool) -> PostRecord | None:
        row = self.execute(
            f"SELECT {_POST_COLUMNS} FROM posts WHERE account = ? AND slot_key = ? AND dry_run = ?",
            (account, slot_key, int(dry_run)),
        ).fetchone()
        return _record(row) if row else None

    def get_post_by_id(self, post_id: int) -> PostRecord | None:
        row = self.execute(f"SELECT {_POST_COLUMNS} FROM posts WHERE id = ?", (post_id,)).fetchone()
        return _record(row) if row else None

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
                # A planned post may be out any moment: its item counts as posted from now on.
                self.execute(
                    "UPDATE rotation SET last_slot = ? WHERE account = ? AND language = ?"
                    " AND dry_run = ? AND item_id = ? AND last_slot < ?",
                    (
                        values["slot_at"],
                        account,
                        slot_language,
                        int(dry_run),
                        item_id,
                        values["slot_at"],
                    ),
                )
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

    def unfinished(self, account: str, dry_run: bool) -> list[PostRecord]:
        """Posts of an account whose outcome is not settled (planned: a crash; unknown: no
        answer to any attempt), oldest first."""
        rows = self.execute(
            f"SELECT {_POST_COLUMNS} FROM posts WHERE account = ? AND status IN ('planned',"
            " 'unknown') AND dry_run = ? ORDER BY slot_at",
            (account, int(dry_run)),
        ).fetchall()
        return [_record(row) for row in rows]

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

    def mark_retracted(self, post: PostRecord) -> None:
        self.execute(
            "UPDATE posts SET status = 'retracted', updated_at = ? WHERE id = ?",
            (iso(utcnow()), post.id),
        )

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
            f"SELECT {_POST_COLUMNS} FROM posts WHERE {' AND '.join(where)}"
            " ORDER BY slot_at DESC, id DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [_record(row) for row in rows]

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

    # -- rotation -----------------------------------------------------------------------------

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

    # -- kv -----------------------------------------------------------------------------------

    def get_value(self, key: str) -> str | None:
        row = self.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_value(self, key: str, value: str) -> None:
        self.execute(
            "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (key)"
            " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (key, value, iso(utcnow())),
        )

    def delete_value(self, key: str) -> None:
        self.execute("DELETE FROM kv WHERE key = ?", (key,))


class StoreVault:
    """Small values (a Bluesky session string) in the ``kv`` table, from any thread: each call
    opens its own short-lived connection."""

    def __init__(self, url: str) -> None:
        self.url = url

    def get_value(self, key: str) -> str | None:
        with Store(self.url) as store:
            return store.get_value(key)

    def set_value(self, key: str, value: str) -> None:
        with Store(self.url) as store:
            store.set_value(key, value)

    def delete_value(self, key: str) -> None:
        with Store(self.url) as store:
            store.delete_value(key)
