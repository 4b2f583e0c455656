"""Alerts already sent (table ``alerts``): one row per account and kind of problem, so that an
outage sends one alert, not one per slot, and several workers sharing the database do not each
send it.

A problem *opens* when it first happens and *clears* when the account posts again. Only the
caller whose statement opens it (or, after a quiet hour, reopens it) sends the alert; only the
caller whose statement clears it sends the recovery note. Every decision is one conditional
statement, so two workers can never both win it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.clock import iso
from bot.state.database import Database

#: At most one alert per account and kind within this time.
QUIET = dt.timedelta(hours=1)


@dataclass(frozen=True)
class ClearedAlert:
    """A problem that cleared, for its recovery note."""

    account: str
    kind: str
    opened_at: str
    detail: str


class Alerts(Database):
    """Which problems are open, and when each was last alerted."""

    def open_alert(self, account: str, kind: str, detail: str, now: dt.datetime) -> bool:
        """Record that ``kind`` happened for ``account``; ``True``: the caller sends the alert
        (the problem is new, or nobody was told within :data:`QUIET`)."""
        stamp = iso(now)
        detail = detail[:500]
        with self.transaction():
            created = self.execute(
                "INSERT INTO alerts (account, kind, open, alerted, opened_at, last_sent_at,"
                " detail) VALUES (?, ?, 1, 1, ?, ?, ?)"
                " ON CONFLICT (account, kind) DO NOTHING RETURNING account",
                (account, kind, stamp, stamp, detail),
            ).fetchone()
            if created is not None:
                return True
            # Closed (or open but never told) and quiet for an hour: this caller tells.
            sent = self.execute(
                "UPDATE alerts SET opened_at = CASE WHEN open = 1 THEN opened_at ELSE ? END,"
                " open = 1, alerted = 1, last_sent_at = ?, detail = ?"
                " WHERE account = ? AND kind = ? AND (open = 0 OR alerted = 0)"
                " AND last_sent_at < ?",
                (stamp, stamp, detail, account, kind, iso(now - QUIET)),
            ).rowcount
            if sent == 1:
                return True
            # Open already (one alert per problem), or reopened within the quiet hour.
            self.execute(
                "UPDATE alerts SET alerted = CASE WHEN open = 1 THEN alerted ELSE 0 END,"
                " opened_at = CASE WHEN open = 1 THEN opened_at ELSE ? END, open = 1"
                " WHERE account = ? AND kind = ?",
                (stamp, account, kind),
            )
            return False

    def clear_alerts(self, account: str) -> list[ClearedAlert]:
        """Close every open problem of ``account``; returns those an alert was sent for (the
        caller sends their recovery notes)."""
        rows = self.execute(
            "UPDATE alerts SET open = 0 WHERE account = ? AND open = 1"
            " RETURNING kind, alerted, opened_at, detail",
            (account,),
        ).fetchall()
        return [
            ClearedAlert(account, kind, opened_at, detail)
            for kind, alerted, opened_at, detail in rows
            if alerted
        ]

    def open_alerts(self) -> list[tuple[str, str, str]]:
        """(account, kind, opened at) of every open problem, for the status page."""
        rows = self.execute(
            "SELECT account, kind, opened_at FROM alerts WHERE open = 1 ORDER BY account, kind"
        ).fetchall()
        return [(str(a), str(k), str(o)) for a, k, o in rows]
