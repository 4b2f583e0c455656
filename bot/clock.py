"""Time helpers shared by every stage. Neutral: imports nothing of ours.

Moments are stored and compared as ISO-8601 UTC strings (``2026-11-21T09:00:00Z``), which sort
correctly as text on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt


def iso(moment: dt.datetime) -> str:
    """A timezone-aware datetime as a sortable UTC string."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
