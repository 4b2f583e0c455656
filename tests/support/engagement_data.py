"""Stored engagement for the status page's tests: published posts of several items, languages
and platforms, each read twice (nothing an hour after its slot, its counts now)."""

from __future__ import annotations

import datetime as dt

from bot.clock import iso, utcnow
from bot.state import Snapshot, Store

#: (platform, item, language, days ago, likes, reposts, replies, quotes)
POSTS = [
    ("mastodon", "helloquitx", "de", 2, 5, 2, 1, 0),
    ("mastodon", "helloquitx", "en", 3, 1, 0, 0, 0),
    ("bluesky", "helloquitx", "fr", 4, 3, 1, 2, 1),
    ("bluesky", "bye-bye-elon", "en", 5, 0, 4, 0, 0),
    ("mastodon", "bye-bye-elon", "de", 40, 9, 9, 9, 9),  # outside 30 days
]


def seed(database_url: str) -> None:
    now = utcnow().replace(microsecond=0)
    with Store(database_url) as store:
        for n, (platform, item, language, days, *counts) in enumerate(POSTS):
            slot = now - dt.timedelta(days=days)
            record, _ = store.plan(
                account=platform,
                platform=platform,
                slot_at=slot,
                slot_key=f"{iso(slot)}#{n}",
                dry_run=False,
                item_id=item,
                slot_language=language,
                language=language,
                text="text",
                payload="{}",
                remote_key=f"k{n}",
            )
            store.mark_posted(record, f"r{n}", f"https://social.example/@bot/{n}")
            # Read twice: at the start of a day nothing, by now the counts.
            store.record_snapshots([Snapshot(record.id, iso(slot + dt.timedelta(hours=1)), "live")])
            likes, reposts, replies, quotes = counts
            store.record_snapshots(
                [Snapshot(record.id, iso(now), "live", likes, reposts, replies, quotes)]
            )
        store.claim_refresh("engagement", now, "test", now, now)
        store.finish_refresh("engagement", "test", now)
