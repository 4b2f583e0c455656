"""The tables of the state database and the migrations that bring an older database up to date.

``schema_version`` records which migrations ran; each opening of the database runs the missing
ones, in one transaction. A database newer than this bot is refused rather than misread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.errors import StateError

if TYPE_CHECKING:
    from bot.state.database import Database

SCHEMA_VERSION = 5

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

_SCHEMA_4 = [
    "CREATE INDEX IF NOT EXISTS posts_history ON posts (dry_run, slot_at)",
    "CREATE INDEX IF NOT EXISTS posts_account_history ON posts (account, dry_run, slot_at)",
    "CREATE INDEX IF NOT EXISTS posts_status_history ON posts (dry_run, status, slot_at)",
    "CREATE INDEX IF NOT EXISTS posts_item_history ON posts (item_id, dry_run, slot_at)",
    """CREATE TABLE IF NOT EXISTS alerts (
        account TEXT NOT NULL,
        kind TEXT NOT NULL,
        open INTEGER NOT NULL,
        alerted INTEGER NOT NULL,
        opened_at TEXT NOT NULL,
        last_sent_at TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (account, kind))""",
]

#: Engagement snapshots (bot/state/snapshots.py): the latest reading of each post, the
#: history of its changes, and who refreshes them.
_SCHEMA_5 = [
    """CREATE TABLE IF NOT EXISTS engagement_latest (
        post_id BIGINT PRIMARY KEY,
        checked_at TEXT NOT NULL,
        state TEXT NOT NULL,
        likes INTEGER NOT NULL,
        reposts INTEGER NOT NULL,
        replies INTEGER NOT NULL,
        quotes INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS engagement (
        post_id BIGINT NOT NULL,
        taken_at TEXT NOT NULL,
        state TEXT NOT NULL,
        likes INTEGER NOT NULL,
        reposts INTEGER NOT NULL,
        replies INTEGER NOT NULL,
        quotes INTEGER NOT NULL,
        PRIMARY KEY (post_id, taken_at))""",
    """CREATE TABLE IF NOT EXISTS refreshes (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL DEFAULT '',
        slot TEXT NOT NULL DEFAULT '',
        lease_until TEXT NOT NULL DEFAULT '',
        finished_at TEXT NOT NULL DEFAULT '')""",
]


def migrate(db: Database) -> None:
    """Bring the database to ``SCHEMA_VERSION``."""
    with db.transaction():
        if db.dialect == "postgresql":
            # Several workers may start at once: one migrates, the others wait.
            db.execute("SELECT pg_advisory_xact_lock(8027443)")
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        version = row[0] or 0
        if version > SCHEMA_VERSION:
            raise StateError(
                f"the state database has schema version {version}, newer than this bot"
                f" ({SCHEMA_VERSION}): upgrade the bot"
            )
        if version < 1:
            id_type = (
                "INTEGER PRIMARY KEY AUTOINCREMENT"
                if db.dialect == "sqlite"
                else "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
            )
            db.execute(_POSTS_TABLE.format(id_type=id_type))
            for statement in _SCHEMA_COMMON:
                db.execute(statement)
            db.execute("INSERT INTO schema_version (version) VALUES (1)")
        if version < 2:
            # Claims with a lease, so several workers can share one database.
            db.execute("ALTER TABLE posts ADD COLUMN claimed_by TEXT")
            db.execute("ALTER TABLE posts ADD COLUMN lease_until TEXT NOT NULL DEFAULT ''")
            db.execute("ALTER TABLE posts ADD COLUMN last_attempt_at TEXT")
            db.execute("CREATE INDEX IF NOT EXISTS posts_open ON posts (account, status)")
            db.execute("INSERT INTO schema_version (version) VALUES (2)")
        if version < 3:
            # Items that can never be chosen (no text in the language, closed) are kept out
            # of the selection index instead of being walked past on every slot.
            db.execute("ALTER TABLE rotation ADD COLUMN eligible INTEGER NOT NULL DEFAULT 1")
            db.execute("DROP INDEX IF EXISTS rotation_order")
            db.execute(
                "CREATE INDEX IF NOT EXISTS rotation_next ON rotation"
                " (account, language, dry_run, eligible, last_slot, ordinal)"
            )
            db.execute("DELETE FROM rotation_sync")  # recompute the flags
            db.execute("INSERT INTO schema_version (version) VALUES (3)")
        if version < 4:
            # The status page's history (newest first, filtered, in pages) and the alerts'
            # de-duplication (bot/state/alerts.py).
            for statement in _SCHEMA_4:
                db.execute(statement)
            db.execute("INSERT INTO schema_version (version) VALUES (4)")
        if version < 5:
            for statement in _SCHEMA_5:
                db.execute(statement)
            db.execute("INSERT INTO schema_version (version) VALUES (5)")
