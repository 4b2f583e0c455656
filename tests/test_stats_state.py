"""Engagement snapshots in the state database (bot/state/snapshots.py), on SQLite and on a real
PostgreSQL: the latest reading per post, a history row only when a reading changes, the posts
whose counts are read, and the claim that keeps several workers from refreshing twice."""

from __future__ import annotations

import datetime as dt
import threading

from bot.state import SCHEMA_VERSION, Snapshot, Store

T0 = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)


def _post(store: Store, n: int, *, platform: str = "mastodon", days_ago: int = 1) -> int:
    record, _ = store.plan(
        account="acct",
        platform=platform,
        slot_at=T0 - dt.timedelta(days=days_ago),
        slot_key=f"slot-{n}",
        dry_run=False,
        item_id=f"item-{n}",
        slot_language="",
        language="en",
        text="text",
        payload="{}",
        remote_key=f"key-{n}",
    )
    store.mark_posted(record, f"remote-{n}", f"https://example.org/{n}")
    return record.id


def test_a_history_row_only_when_the_reading_changes(database_url: str) -> None:
    with Store(database_url) as store:
        post = _post(store, 1)
        stamps = [f"2026-03-01T1{h}:00:00Z" for h in range(4)]
        assert store.record_snapshots([Snapshot(post, stamps[0], "live", likes=1)]) == 1
        assert store.record_snapshots([Snapshot(post, stamps[1], "live", likes=1)]) == 0
        assert store.record_snapshots([Snapshot(post, stamps[2], "live", likes=2, replies=1)]) == 1
        assert store.record_snapshots([Snapshot(post, stamps[3], "deleted")]) == 1
        latest = store.latest_snapshots([post])[post]
        assert (latest.taken_at, latest.state, latest.likes) == (stamps[3], "deleted", 0)
        history = store.snapshot_history([post])
        assert [(s.taken_at, s.state, s.likes, s.replies) for s in history] == [
            (stamps[0], "live", 1, 0),
            (stamps[2], "live", 2, 1),
            (stamps[3], "deleted", 0, 0),
        ]


def test_the_posts_whose_counts_are_read(database_url: str) -> None:
    with Store(database_url) as store:
        recent = _post(store, 1, days_ago=2)
        _post(store, 2, days_ago=40)  # before the period
        bluesky = _post(store, 3, platform="bluesky", days_ago=1)
        retracted = _post(store, 4, days_ago=3)
        store.mark_retracted(store.get_post_by_id(retracted))  # type: ignore[arg-type]
        failed, _ = store.plan(
            account="acct",
            platform="mastodon",
            slot_at=T0,
            slot_key="slot-f",
            dry_run=False,
            item_id="x",
            slot_language="",
            language="en",
            text="",
            payload="{}",
            remote_key="k",
        )
        store.mark_failed(failed, "no")
        since = T0 - dt.timedelta(days=30)
        posts = store.engagement_posts(since, platforms=("mastodon", "bluesky"))
        assert [p.id for p in posts] == [retracted, recent, bluesky]
        assert [p.id for p in store.engagement_posts(since, platforms=("bluesky",))] == [bluesky]


def test_one_worker_claims_a_scheduled_refresh(database_url: str) -> None:
    slot = T0
    lease = T0 + dt.timedelta(minutes=15)
    with Store(database_url) as a, Store(database_url) as b:
        assert a.claim_refresh("engagement", slot, "a", lease, T0)
        assert not b.claim_refresh("engagement", slot, "b", lease, T0)  # same slot
        later = slot + dt.timedelta(hours=1)
        # A live lease keeps the next slot from another worker too …
        assert not b.claim_refresh("engagement", later, "b", lease, T0 + dt.timedelta(minutes=1))
        a.finish_refresh("engagement", "a", T0 + dt.timedelta(minutes=2))
        assert a.last_refresh("engagement") == "2026-03-01T10:02:00Z"
        # A late worker does not refresh a slot that was refreshed already.
        assert not b.claim_refresh("engagement", slot, "b", lease, T0 + dt.timedelta(minutes=3))
        # … and once it is done, the next slot is anybody's, once.
        assert b.claim_refresh("engagement", later, "b", later + dt.timedelta(minutes=15), later)
        assert not a.claim_refresh("engagement", later, "a", later, later)
        # A dead worker's lease lapses: the next slot is taken over.
        last = later + dt.timedelta(hours=1)
        assert a.claim_refresh("engagement", last, "a", last + dt.timedelta(minutes=15), last)
        assert not b.extend_refresh("engagement", "b", last + dt.timedelta(hours=1))


def test_racing_workers_claim_once(database_url: str) -> None:
    winners: list[str] = []
    barrier = threading.Barrier(6)

    def worker(name: str) -> None:
        with Store(database_url) as store:
            barrier.wait(timeout=30)
            if store.claim_refresh("engagement", T0, name, T0 + dt.timedelta(minutes=5), T0):
                winners.append(name)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(winners) == 1


def test_schema_version() -> None:
    assert SCHEMA_VERSION >= 5
