"""Slots: the fire times of each account's cron schedule in the configured time zone.

A schedule is read as a crontab line is by cron (Debian's, as ``man 5 crontab`` describes it):

* day of week 0 and 7 are Sunday, 1 is Monday;
* when both day of month and day of week are restricted (neither starts with ``*``), a day that
  matches either of them fires;
* on a daylight-saving change, a job at a fixed time of day (its minute and hour fields do not
  start with ``*``) that falls in the skipped hour runs right after the change, and one in the
  repeated hour runs once, in its first pass; a job with ``*`` in its minute or hour field runs by
  the clock, in both passes of a repeated hour.

The slots (:func:`current_slot`, :func:`next_slots`) come from cronsim, which implements exactly
that reading, backwards in time as well as forwards. The worker's jobs run on APScheduler's
``CronTrigger`` (:func:`trigger`), brought to the same reading: APScheduler 3 numbers days of the
week from Monday = 0 even in ``CronTrigger.from_crontab``, requires both day fields to match, and
fires a fixed time twice in a repeated hour. ``tests/test_schedule.py`` checks that both give the
same fire times across daylight-saving changes.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from bot.config import Account

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
#: One list element of a field: ``*``, a value or a range, with an optional step. Values are
#: numbers, or names in the month and day-of-week fields (what cron and APScheduler both read).
_ELEMENT = r"(?:\*|(?P<first>[a-z0-9]+)(?:-(?P<last>[a-z0-9]+))?)(?:/[0-9]+)?"
#: More fire times than this in the repeated hour of a daylight-saving change is impossible (one
#: a minute, for at most two hours): bounds the loops that step over them.
_MAX_FIRES_IN_A_FOLD = 2 * 60 + 1
#: The largest daylight-saving change there is (Antarctica/Troll: two hours).
_LARGEST_CHANGE = dt.timedelta(hours=2)


class Crontab(NamedTuple):
    """A schedule's five fields, checked; ``expression`` is what cronsim reads."""

    minute: str
    hour: str
    day: str
    month: str
    day_of_week: str

    @property
    def expression(self) -> str:
        return " ".join((self.minute, self.hour, self.day, self.month, self.day_of_week))

    @property
    def fixed_time(self) -> bool:
        """Whether a daylight-saving change moves or merges its fire times (see the module)."""
        return not self.minute.startswith("*") and not self.hour.startswith("*")

    @property
    def either_day(self) -> bool:
        """Whether a day fires when it matches the day of month *or* the day of week."""
        return not self.day.startswith("*") and not self.day_of_week.startswith("*")


@functools.lru_cache(maxsize=64)
def parse(expression: str) -> Crontab:
    """The schedule ``expression`` (5 fields); :class:`ValueError` says what is wrong with it."""
    fields = expression.lower().split()
    if len(fields) != 5:
        raise ValueError(f"{expression!r} is not a 5-field cron expression")
    names = (None, None, None, _MONTHS, _WEEKDAYS)
    for field, allowed in zip(fields, names, strict=True):
        for element in field.split(","):
            match = re.fullmatch(_ELEMENT, element)
            words = [word for word in (match["first"], match["last"]) if word] if match else []
            if match is None or any(
                not word.isdigit() and word not in (allowed or ()) for word in words
            ):
                raise ValueError(
                    f"{expression!r} is not a valid cron expression: cannot read {element!r}"
                )
    try:
        CronSim(" ".join(fields), dt.datetime(2000, 1, 1))  # noqa: DTZ001 - only parses
    except CronSimError as exc:
        raise ValueError(f"{expression!r} is not a valid cron expression: {exc}") from None
    return Crontab(*fields)


def check_schedule(expression: str) -> None:
    """Raise :class:`ValueError` unless ``expression`` is a schedule the bot can read."""
    parse(expression)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC)


def _second_pass(moment: dt.datetime) -> bool:
    """Whether ``moment`` is in the second pass of a wall-clock hour that a daylight-saving
    change repeats (``moment`` is a real time, as ``astimezone`` gives it)."""
    return moment.fold == 1 and moment.replace(fold=0).utcoffset() != moment.utcoffset()


def _exists(wall: dt.datetime, tz: dt.tzinfo) -> bool:
    """Whether the naive wall-clock time ``wall`` is shown in ``tz`` (not skipped by a change)."""
    return _utc(wall.replace(tzinfo=tz)).astimezone(tz).replace(tzinfo=None) == wall


def _fires(
    cron: Crontab, tz: ZoneInfo, start: dt.datetime, reverse: bool = False
) -> Iterator[dt.datetime]:
    """cronsim's fire times from ``start`` on (or back), as real times of ``tz``."""
    for fire in CronSim(cron.expression, start.astimezone(tz), reverse=reverse):
        # cronsim places a fixed-time schedule's times itself; for a schedule by the clock it
        # can yield a wall time that a change skips (a change at midnight): not on the clock.
        if cron.fixed_time or _exists(fire.replace(tzinfo=None), tz):
            yield _utc(fire).astimezone(tz)


def next_slots(
    account: Account, timezone: str, after: dt.datetime, count: int
) -> Iterator[dt.datetime]:
    """The next ``count`` fire times strictly after ``after``, in the schedule's time zone."""
    cron = parse(account.schedule)
    # cronsim reads a fixed-time schedule on the wall clock: started in the second pass of a
    # repeated hour, it also yields that hour's first-pass fire times, which are past.
    fires = itertools.islice(_fires(cron, ZoneInfo(timezone), after), count + _MAX_FIRES_IN_A_FOLD)
    yield from itertools.islice((f for f in fires if _utc(f) > _utc(after)), count)


def current_slot(account: Account, timezone: str, now: dt.datetime) -> dt.datetime | None:
    """The latest fire time at or before ``now`` (the slot that is due), or ``None`` when the
    schedule did not fire in the last 50 years."""
    cron = parse(account.schedule)
    tz = ZoneInfo(timezone)
    # Going backwards cronsim yields times strictly before its start; fire times are whole
    # minutes, so starting a second after ``now`` includes ``now`` itself.
    start = (_utc(now).replace(microsecond=0) + dt.timedelta(seconds=1)).astimezone(tz)
    fire = next(_fires(cron, tz, start, reverse=True), None)
    if fire is not None and cron.fixed_time and _second_pass(start):
        # On the wall clock the second pass of a repeated hour reads earlier than the first, so
        # a fixed-time fire in the first pass (already past) lies "ahead" of ``start`` and was
        # not seen going backwards: step forward to it.
        for following in itertools.islice(_fires(cron, tz, fire), _MAX_FIRES_IN_A_FOLD):
            if _utc(following) > _utc(now):
                break
            fire = following
    return fire


#: How cronsim's values of one field are listed: a schedule restricting only that field, the
#: span of time that holds each of its values once (from 2001-01-01, a Monday), and the value.
_FIELD_PROBES: dict[str, tuple[str, dt.timedelta, Callable[[dt.datetime], int]]] = {
    "minute": ("{} 0 1 1 *", dt.timedelta(hours=1), lambda d: d.minute),
    "hour": ("0 {} 1 1 *", dt.timedelta(days=1), lambda d: d.hour),
    "day": ("0 0 {} 1 *", dt.timedelta(days=31), lambda d: d.day),
    "month": ("0 0 1 {} *", dt.timedelta(days=365), lambda d: d.month),
    "day_of_week": ("0 0 * * {}", dt.timedelta(days=7), lambda d: d.weekday()),
}


@functools.lru_cache(maxsize=256)
def _field_values(name: str, field: str) -> str:
    """A field as the explicit list of the values cronsim reads in it, for APScheduler: so the
    two read exactly the same values (no dialect of ranges, steps and names to agree on), and
    days of the week come as names (APScheduler 3 numbers them from Monday = 0 even in
    ``CronTrigger.from_crontab``; crontab from Sunday = 0, and 7 is Sunday too)."""
    if field == "*":
        return "*"
    template, span, value = _FIELD_PROBES[name]
    first = dt.datetime(2001, 1, 1)  # noqa: DTZ001 - calendar arithmetic only
    fires = CronSim(template.format(field), first - dt.timedelta(seconds=1))
    values = sorted(
        {value(fire) for fire in itertools.takewhile(lambda d: d < first + span, fires)}
    )
    if name == "day_of_week":
        return ",".join(_WEEKDAYS[(day + 1) % 7] for day in values)
    return ",".join(str(v) for v in values)


def _placed(wall: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """Where cron runs a fixed-time job whose wall-clock time is ``wall`` (naive): at the first
    minute after a daylight-saving change that skips ``wall``, in the first pass of an hour
    that a change repeats."""
    while not _exists(wall, tz):
        wall += dt.timedelta(minutes=1)
    return wall.replace(tzinfo=tz, fold=0)


@functools.cache
def _trigger_class() -> Any:
    """The worker's trigger class. Made on first use: the worker is the only caller, and
    importing APScheduler costs start-up time that the one-shot commands need not pay."""
    from apscheduler.triggers.base import BaseTrigger
    from apscheduler.triggers.cron import CronTrigger

    class CrontabTrigger(BaseTrigger):  # type: ignore[misc]
        """A crontab line as cron reads it. The fire times come from APScheduler's
        ``CronTrigger`` (two of them when a day may match either day field, the earlier fire
        time wins). For a fixed-time schedule the ``CronTrigger`` runs on the wall clock (as if
        it were UTC), and each wall-clock time is placed as cron places it around a
        daylight-saving change; otherwise it runs in the time zone, and a time that a change
        skips is not on the clock and does not fire."""

        __slots__ = ("cron", "timezone", "triggers")

        def __init__(self, cron: Crontab, tz: ZoneInfo) -> None:
            self.cron, self.timezone = cron, tz
            fields = {
                name: _field_values(name, getattr(cron, name))
                for name in ("minute", "hour", "month")
            }
            weekdays = _field_values("day_of_week", cron.day_of_week)
            day = _field_values("day", cron.day)
            days = [(day, "*"), ("*", weekdays)] if cron.either_day else [(day, weekdays)]
            zone = dt.UTC if cron.fixed_time else tz
            self.triggers = [
                CronTrigger(day=d, day_of_week=w, timezone=zone, **fields) for d, w in days
            ]

        def __str__(self) -> str:
            return f"crontab[{self.cron.expression}, {self.timezone}]"

        def __repr__(self) -> str:
            return f"<CrontabTrigger ({self.cron.expression!r}, timezone={self.timezone})>"

        def _first(self, moment: dt.datetime) -> dt.datetime | None:
            """The first fire time of the ``CronTrigger`` s at or after ``moment``."""
            fire = self._earliest(moment)
            if self.cron.fixed_time:
                return fire  # on the wall clock, where no time is skipped or repeated
            # CronTrigger moves to a later hour or day by its wall-clock distance, counted in
            # UTC: across a daylight-saving change it lands an hour late, past that hour's
            # fire times. Asked again from shortly before, it moves by minutes and is right.
            for _ in range(_MAX_FIRES_IN_A_FOLD):
                if fire is None:
                    return None
                # (in UTC: two times of one zone compare by their wall clock, folds alike)
                sooner = max(_utc(moment), _utc(fire) - 2 * _LARGEST_CHANGE)
                again = self._earliest(sooner.astimezone(self.timezone))
                if again is None or _utc(again) >= _utc(fire):
                    return fire
                fire = again
            return fire

        def _earliest(self, moment: dt.datetime) -> dt.datetime | None:
            fires = [t.get_next_fire_time(None, moment) for t in self.triggers]
            return min((f for f in fires if f is not None), key=_utc, default=None)

        def get_next_fire_time(
            self, previous_fire_time: dt.datetime | None, now: dt.datetime
        ) -> dt.datetime | None:
            # As CronTrigger does: from ``now``, or right after the previous fire time if sooner.
            start = _utc(now)
            if previous_fire_time is not None:
                after = _utc(previous_fire_time) + dt.timedelta(microseconds=1)
                start = after if start == _utc(previous_fire_time) else min(start, after)
            tz = self.timezone
            # Wall-clock times, or times of the zone, from which the next fire time is sought.
            moment = start.astimezone(tz)
            if self.cron.fixed_time:
                moment = moment.replace(tzinfo=dt.UTC)
            for _ in range(_MAX_FIRES_IN_A_FOLD):
                fire = self._first(moment)
                if fire is None:
                    return None
                if self.cron.fixed_time:
                    placed = _placed(fire.replace(tzinfo=None), tz)
                    if _utc(placed) >= start:
                        return placed
                    # A wall time of the first pass, seen from the second: it ran then.
                    moment = fire + dt.timedelta(seconds=1)
                elif _exists(fire.replace(tzinfo=None), tz):
                    return _utc(fire).astimezone(tz)
                else:  # skipped by the change: on with the first real time after the gap
                    moment = _placed(fire.replace(tzinfo=None), tz)
            raise RuntimeError(f"{self}: no fire time found after {now}")

    return CrontabTrigger


def trigger(account: Account, timezone: str) -> Any:
    """The worker's APScheduler trigger for ``account``'s schedule (see the module)."""
    return _trigger_class()(parse(account.schedule), ZoneInfo(timezone))
