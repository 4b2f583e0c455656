"""Slots: the fire times of each account's cron schedule in the configured time zone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.config import Account

#: How far back :func:`current_slot` looks for the latest fire time (a yearly schedule fits).
MAX_LOOKBACK = dt.timedelta(days=400)


def trigger(account: Account, timezone: str) -> CronTrigger:
    return CronTrigger.from_crontab(account.schedule, timezone=ZoneInfo(timezone))


def next_slots(
    account: Account, timezone: str, after: dt.datetime, count: int
) -> Iterator[dt.datetime]:
    """The next ``count`` fire times strictly after ``after``."""
    cron = trigger(account, timezone)
    previous: dt.datetime | None = None
    moment = after + dt.timedelta(seconds=1)
    for _ in range(count):
        fire = cron.get_next_fire_time(previous, moment)
        if fire is None:
            return
        yield fire
        previous, moment = fire, fire + dt.timedelta(seconds=1)


def current_slot(account: Account, timezone: str, now: dt.datetime) -> dt.datetime | None:
    """The latest fire time at or before ``now`` (the slot that is due), or ``None``."""
    cron = trigger(account, timezone)
    window = dt.timedelta(hours=1)
    while window <= MAX_LOOKBACK * 2:  # widen the window until it holds a fire time
        start = now - window
        fire: dt.datetime | None = cron.get_next_fire_time(None, start)
        if fire is not None and fire <= now:
            latest = fire
            for _ in range(100_000):  # bounded walk forward to the last fire time <= now
                following: dt.datetime | None = cron.get_next_fire_time(
                    latest, latest + dt.timedelta(seconds=1)
                )
                if following is None or following > now:
                    return latest
                latest = following
            return latest
        window *= 4
    return None
