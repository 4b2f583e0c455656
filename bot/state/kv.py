"""Small values in the state database, such as a Bluesky session string (table ``kv``)."""

from __future__ import annotations

from bot.clock import iso, utcnow
from bot.state.database import Database


class KeyValue(Database):
    """Strings by key."""

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
        with KeyValue(self.url) as store:
            return store.get_value(key)

    def set_value(self, key: str, value: str) -> None:
        with KeyValue(self.url) as store:
            store.set_value(key, value)

    def delete_value(self, key: str) -> None:
        with KeyValue(self.url) as store:
            store.delete_value(key)
