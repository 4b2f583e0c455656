"""Refreshing the engagement snapshots: read each published post's counts from its platform
and store them (bot/state/snapshots.py).

Posts are read per account, with the account's own publisher (its token or session), in the
reader's batches (Mastodon 20, Bluesky 25 per request); each batch is stored as soon as it is
read, so a refresh that stops halfway (a rate limit, a server down, SIGTERM) keeps what it read.
Retracted posts are recorded as retracted without asking, and a post found deleted is not asked
for again; posts of accounts that are no longer
configured, or that are dry runs, keep their last readings. A platform's refusal or outage is
logged and ends that account's refresh only.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.app import App
from bot.clock import iso
from bot.errors import PublishError
from bot.logs import log_event
from bot.publishing.engagement import engagement_reader
from bot.state import PostRecord, Snapshot, Store
from bot.stats.report import PLATFORMS

log = logging.getLogger("bot.stats")


@dataclass
class AccountRefresh:
    """What one account's refresh did."""

    account: str
    posts: int = 0
    read: int = 0
    requests: int = 0
    changed: int = 0
    error: str | None = None
    skipped: str | None = None


@dataclass
class RefreshReport:
    taken_at: str
    accounts: list[AccountRefresh] = field(default_factory=list)

    @property
    def read(self) -> int:
        return sum(a.read for a in self.accounts)

    @property
    def requests(self) -> int:
        return sum(a.requests for a in self.accounts)


def refresh(
    app: App,
    store: Store,
    *,
    days: int,
    now: dt.datetime,
    stopping: threading.Event | None = None,
    progress: Callable[[], None] | None = None,
) -> RefreshReport:
    """Read and store the counts of every post of the last ``days`` days."""
    taken_at = iso(now)
    report = RefreshReport(taken_at)
    posts = store.engagement_posts(now - dt.timedelta(days=days), platforms=PLATFORMS)
    by_account: dict[str, list[PostRecord]] = defaultdict(list)
    for post in posts:
        by_account[post.account].append(post)
    configured = {a.name: a for a in app.accounts}
    for name, rows in by_account.items():
        if stopping is not None and stopping.is_set():
            break
        result = AccountRefresh(name, posts=len(rows))
        report.accounts.append(result)
        retracted = [p for p in rows if p.status == "retracted"]
        store.record_snapshots([Snapshot(p.id, taken_at, "retracted") for p in retracted])
        # A post found deleted stays deleted: it is not asked for again.
        latest = store.latest_snapshots([p.id for p in rows])
        live = {
            p.remote_id: p
            for p in rows
            if p.status == "posted"
            and p.remote_id
            and getattr(latest.get(p.id), "state", "") != "deleted"
        }
        account = configured.get(name)
        if account is None or account.dry_run or account.platform != rows[0].platform:
            result.skipped = "not configured as a live account now: counts kept as they were"
            continue
        reader = None
        try:
            reader = engagement_reader(app.publisher(account))
            if reader is None:
                result.skipped = "its publisher cannot read counts"
                continue
            for batch in reader.read(list(live)):
                snapshots = [
                    Snapshot(live[remote_id].id, taken_at, reading.state, **vars(reading.counts))
                    for remote_id, reading in batch.items()
                    if remote_id in live
                ]
                result.changed += store.record_snapshots(snapshots)
                result.read += len(snapshots)
                result.requests = reader.requests
                if progress is not None:
                    progress()
                if stopping is not None and stopping.is_set():
                    break
            result.requests = reader.requests
        except PublishError as exc:
            result.error = str(exc)
            result.requests = reader.requests if reader is not None else 0
            log_event(log, "stats.stopped", logging.WARNING, account=name, error=str(exc))
            continue
        log_event(
            log,
            "stats.refreshed",
            account=name,
            posts=len(rows),
            read=result.read,
            changed=result.changed,
            requests=result.requests,
        )
    return report
