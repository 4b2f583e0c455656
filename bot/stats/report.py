"""What the stored snapshots say: each post's latest counts, sums by item, language, platform or
account, and totals over time, for ``leavex-bot stats`` and the engagement page.

A post's counts are its latest reading; a post that is gone (deleted, retracted) counts zero,
and one never read yet is shown as such. Over time, each day shows the sum of every post's
latest reading by the end of that day (the history keeps a row per change only).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.clock import iso, parse_iso
from bot.state import PostRecord, Snapshot, Store

PLATFORMS = ("mastodon", "bluesky")
GroupBy = Literal["item", "language", "platform", "account"]
GROUPINGS: tuple[GroupBy, ...] = ("item", "language", "platform", "account")
KINDS = ("likes", "reposts", "replies", "quotes")
#: What each count is called on each platform, for people.
NAMES = {
    "mastodon": {"likes": "favourites", "reposts": "boosts"},
    "bluesky": {"likes": "likes", "reposts": "reposts"},
}


@dataclass(frozen=True)
class PostStats:
    """One post with its latest reading (``snapshot`` is ``None`` until it is first read)."""

    post: PostRecord
    snapshot: Snapshot | None

    @property
    def state(self) -> str:
        if self.post.status == "retracted":
            return "retracted"
        return self.snapshot.state if self.snapshot else "not read yet"

    def count(self, kind: str) -> int:
        if self.snapshot is None or self.snapshot.state != "live":
            return 0
        return int(getattr(self.snapshot, kind))

    @property
    def total(self) -> int:
        return sum(self.count(kind) for kind in KINDS)

    def key(self, by: GroupBy) -> str:
        post = self.post
        return {
            "item": post.item_id,
            "language": post.language,
            "platform": post.platform,
            "account": post.account,
        }[by]

    def as_json(self) -> dict[str, Any]:
        post = self.post
        return {
            "account": post.account,
            "platform": post.platform,
            "item": post.item_id,
            "language": post.language,
            "slot": post.slot_at,
            "url": post.remote_url,
            "state": self.state,
            **{kind: self.count(kind) for kind in KINDS},
            "total": self.total,
            "checked_at": self.snapshot.taken_at if self.snapshot else None,
        }


@dataclass(frozen=True)
class Group:
    """Posts summed by one key."""

    key: str
    posts: int
    likes: int
    reposts: int
    replies: int
    quotes: int

    @property
    def total(self) -> int:
        return self.likes + self.reposts + self.replies + self.quotes

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "posts": self.posts,
            **{kind: getattr(self, kind) for kind in KINDS},
            "total": self.total,
        }


def post_stats(store: Store, since: dt.datetime) -> list[PostStats]:
    """Every published or retracted post of slots since ``since``, oldest first."""
    posts = store.engagement_posts(since, platforms=PLATFORMS)
    latest = store.latest_snapshots([p.id for p in posts])
    return [PostStats(p, latest.get(p.id)) for p in posts]


def summed(rows: Iterable[PostStats], key: str = "all") -> Group:
    rows = list(rows)
    sums = {kind: sum(r.count(kind) for r in rows) for kind in KINDS}
    return Group(key, len(rows), **sums)


def grouped(rows: Sequence[PostStats], by: GroupBy) -> list[Group]:
    """The sums by ``by``, the most engaging first (then by key)."""
    parts: dict[str, list[PostStats]] = defaultdict(list)
    for row in rows:
        parts[row.key(by)].append(row)
    groups = [summed(members, key) for key, members in parts.items()]
    return sorted(groups, key=lambda g: (-g.total, g.key))


def over_time(
    store: Store, rows: Sequence[PostStats], days: Sequence[dt.date], tz: dt.tzinfo
) -> list[tuple[dt.date, Group]]:
    """For each day, every post's latest reading by the end of that day, summed."""
    by_post: dict[int, list[Snapshot]] = defaultdict(list)
    for snapshot in store.snapshot_history([r.post.id for r in rows]):
        by_post[snapshot.post_id].append(snapshot)
    result = []
    for day in days:
        end = iso(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz))
        current = []
        for row in rows:
            seen = [s for s in by_post.get(row.post.id, ()) if s.taken_at < end]
            current.append(PostStats(row.post, seen[-1] if seen else None))
        result.append((day, summed(current, day.isoformat())))
    return result


def period_days(since: dt.datetime, now: dt.datetime, tz: dt.tzinfo) -> list[dt.date]:
    first, last = since.astimezone(tz).date(), now.astimezone(tz).date()
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def as_json(
    rows: Sequence[PostStats], by: GroupBy, since: dt.datetime, refreshed: str | None
) -> dict[str, Any]:
    return {
        "since": iso(since),
        "by": by,
        "refreshed_at": refreshed,
        "posts": [r.as_json() for r in rows],
        "groups": [g.as_json() for g in grouped(rows, by)],
        "totals": summed(rows).as_json(),
    }


def checked_at(rows: Sequence[PostStats]) -> dt.datetime | None:
    """When the oldest of the readings shown was taken."""
    stamps = [r.snapshot.taken_at for r in rows if r.snapshot is not None]
    return parse_iso(min(stamps)) if stamps else None
