"""The connection to the state database, SQLite or PostgreSQL, and the SQL both understand.

Statements are written once with ``?`` placeholders and run on either database. Timestamps are
stored as ISO-8601 UTC strings (``2026-11-21T09:00:00Z``), which sort correctly as text on both
databases. The stdlib ``sqlite3`` and ``psycopg`` are used directly: an ORM would double the
CLI's start-up time (measured; see the commit that chose this).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol, Self

from bot.errors import StateError
from bot.state.schema import migrate


class Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchmany(self, size: int) -> list[Any]: ...
    @property
    def rowcount(self) -> int: ...


class Database:
    """One connection, opened with the schema brought up to date (see ``schema.py``). Every
    database error comes out as a ``StateError``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect: Literal["sqlite", "postgresql"]
        if url.startswith("sqlite:///"):
            self.dialect = "sqlite"
            self._conn: Any = self._connect_sqlite(url.removeprefix("sqlite:///"))
        else:
            self.dialect = "postgresql"
            self._conn = self._connect_postgres(url)
        migrate(self)

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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        try:
            cursor: Cursor = self._conn.execute(self._sql(sql), tuple(params))
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
