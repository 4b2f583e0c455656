"""The schedule: slots (cronsim) and the worker's APScheduler trigger give the same fire times,
read as cron reads a crontab line, across daylight-saving changes in both directions."""

from __future__ import annotations

import bisect
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.schedule import check_schedule, current_slot, next_slots, trigger
from tests.helpers import account

BERLIN = "Europe/Berlin"
TZ = ZoneInfo(BERLIN)
UTC = dt.UTC
#: The two changes of 2026 in Berlin: 02:00 CET → 03:00 CEST, and 03:00 CEST → 02:00 CET.
SPRING = dt.datetime(2026, 3, 29, 1, tzinfo=UTC)
AUTUMN = dt.datetime(2026, 10, 25, 1, tzinfo=UTC)
#: Changes in both directions in Berlin, and at midnight in Santiago de Chile (where the day
#: of the change has no 00:00 in September, and 23:00-23:59 twice in April).
CHANGES = {
    "berlin-spring": (BERLIN, SPRING),
    "berlin-autumn": (BERLIN, AUTUMN),
    "santiago-spring": ("America/Santiago", dt.datetime(2026, 9, 6, 4, tzinfo=UTC)),
    "santiago-autumn": ("America/Santiago", dt.datetime(2026, 4, 5, 3, tzinfo=UTC)),
}

SCHEDULES = [
    "30 2 * * *",  # in the skipped hour in spring, in the repeated hour in autumn
    "0 2 * * *",
    "0 3 * * *",
    "0 10 * * *",
    "*/15 * * * *",
    "0 * * * *",
    "*/30 2 * * *",  # fixed hour, every half hour: both passes of the repeated hour
    "15 1-3 * * *",
    "0,30 2 * * 0",  # the changes fall on Sundays
    "0 9 * * 1-5",
    "0 9 * * 7",
    "0 9 25 * 1",  # day of month OR day of week
    "0 0 1 1 *",  # yearly
    "0 0 * * *",
    "*/20 0,23 * * *",
    "0 */2 * * 6,0",
    "*/40 2,6 * * *",  # by the clock, in both passes, and hours later the same day
]


def _fires_of_trigger(
    schedule: str, start: dt.datetime, end: dt.datetime, zone: str = BERLIN
) -> list[dt.datetime]:
    """The worker trigger's fire times in [start, end], asked as the scheduler asks: the next
    fire time after the previous one, a moment after it fired."""
    job_trigger = trigger(account(schedule=schedule), zone)
    fires: list[dt.datetime] = []
    fire = job_trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= end:
        # (in UTC: two times of one zone compare by their wall clock, passes of an hour alike)
        assert not fires or fire.astimezone(UTC) > fires[-1].astimezone(UTC), schedule
        fires.append(fire)
        fire = job_trigger.get_next_fire_time(fire, fire.astimezone(UTC) + dt.timedelta(seconds=1))
    return fires


def _instant(moment: dt.datetime) -> tuple[dt.datetime, str]:
    """A time as an instant and as the wall clock shows it (normalized)."""
    assert isinstance(moment.tzinfo, ZoneInfo)
    real = moment.astimezone(UTC).astimezone(moment.tzinfo)
    return moment.astimezone(UTC), real.isoformat()


@pytest.mark.parametrize("where", CHANGES)
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_slots_agree_with_the_worker_trigger(schedule: str, where: str) -> None:
    """next_slots and current_slot give exactly the fire times of the worker's trigger, in the
    days around a daylight-saving change, at every 5 minutes of the night of the change and
    at every fire time (and the second before it)."""
    zone, change = CHANGES[where]
    tz = ZoneInfo(zone)
    acct = account(schedule=schedule)
    yearly = schedule == "0 0 1 1 *"
    start = change - dt.timedelta(days=800 if yearly else 3)
    end = change + dt.timedelta(days=400 if yearly else 3)
    fires = _fires_of_trigger(schedule, start, end, zone)
    assert fires

    slots = list(next_slots(acct, zone, start - dt.timedelta(seconds=1), len(fires)))
    assert [_instant(s) for s in slots] == [_instant(f) for f in fires]
    assert all(s.tzinfo == tz for s in slots)

    instants = [f.astimezone(UTC) for f in fires]
    night = [change + dt.timedelta(minutes=m) for m in range(-6 * 60, 6 * 60, 5)]
    near = [f for f in fires if abs(f.astimezone(UTC) - change) < dt.timedelta(hours=12)]
    around = [f + dt.timedelta(seconds=d) for f in near or fires[:3] for d in (-1, 0, 59)]
    for now in [*night, *around]:
        position = bisect.bisect_right(instants, now.astimezone(UTC))
        if position == 0 or now > end:
            continue
        got = current_slot(acct, zone, now.astimezone(tz))
        assert got is not None
        assert _instant(got) == _instant(fires[position - 1]), f"{schedule} at {now}"
        assert current_slot(acct, zone, now.astimezone(UTC)) == got  # any zone for "now"
        if position < len(fires):
            following = next(next_slots(acct, zone, now, 1))
            assert _instant(following) == _instant(fires[position]), f"{schedule} after {now}"


def _local(*args: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TZ, fold=fold)  # type: ignore[misc]


def _walls(slots: list[dt.datetime]) -> list[str]:
    return [s.isoformat() for s in slots]


def test_a_fixed_time_in_the_skipped_hour_runs_right_after_the_change() -> None:
    acct = account(schedule="30 2 * * *")
    slots = list(next_slots(acct, BERLIN, _local(2026, 3, 28, 12), 3))
    assert _walls(slots) == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]
    assert current_slot(acct, BERLIN, _local(2026, 3, 29, 3, 10)) == _local(2026, 3, 29, 3)


def test_a_fixed_time_in_the_repeated_hour_runs_once() -> None:
    acct = account(schedule="30 2 * * *")
    slots = list(next_slots(acct, BERLIN, _local(2026, 10, 24, 12), 2))
    assert _walls(slots) == ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]
    second_pass = _local(2026, 10, 25, 2, 40, fold=1)  # 01:40 UTC, an hour after the slot
    assert current_slot(acct, BERLIN, second_pass) == _local(2026, 10, 25, 2, 30)
    assert _walls(list(next_slots(acct, BERLIN, second_pass, 1))) == ["2026-10-26T02:30:00+01:00"]


def test_a_clock_schedule_runs_in_both_passes_of_the_repeated_hour() -> None:
    acct = account(schedule="*/15 * * * *")
    slots = list(next_slots(acct, BERLIN, dt.datetime(2026, 10, 24, 23, 59, tzinfo=UTC), 9))
    assert [s.astimezone(UTC).strftime("%H:%M") for s in slots] == [
        "00:00", "00:15", "00:30", "00:45", "01:00", "01:15", "01:30", "01:45", "02:00"
    ]  # fmt: skip
    assert [s.strftime("%H:%M%z") for s in slots[3:6]] == ["02:45+0200", "02:00+0100", "02:15+0100"]


def test_days_of_the_week_are_numbered_as_in_crontab() -> None:
    """0 and 7 are Sunday, 1-5 Monday to Friday (APScheduler 3's own numbering starts with
    Monday = 0, even in CronTrigger.from_crontab)."""
    monday = _local(2026, 3, 23)
    for schedule, days in [
        ("0 9 * * 1-5", ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]),
        ("0 9 * * 0", ["Sun"] * 6),
        ("0 9 * * 7", ["Sun"] * 6),
        ("0 9 * * sat,sun", ["Sat", "Sun"] * 3),
        ("0 9 * * */2", ["Tue", "Thu", "Sat", "Sun", "Tue", "Thu"]),
    ]:
        acct = account(schedule=schedule)
        fires = _fires_of_trigger(schedule, monday, monday + dt.timedelta(days=50))[:6]
        slots = list(next_slots(acct, BERLIN, monday, 6))
        assert [s.strftime("%a") for s in slots] == days, schedule
        assert [f.strftime("%a") for f in fires] == days, schedule


def test_day_of_month_or_day_of_week() -> None:
    """With both day fields restricted a day matching either fires (as cron does)."""
    acct = account(schedule="0 9 25 * 1")
    slots = list(next_slots(acct, BERLIN, _local(2026, 3, 20), 4))
    assert [s.strftime("%a %d") for s in slots] == ["Mon 23", "Wed 25", "Mon 30", "Mon 06"]


def test_yearly_schedule_looks_back_a_year() -> None:
    acct = account(schedule="0 0 1 1 *")
    assert current_slot(acct, BERLIN, _local(2026, 12, 31, 23, 59)) == _local(2026, 1, 1)
    assert current_slot(acct, BERLIN, _local(2027, 1, 1)) == _local(2027, 1, 1)


def test_a_schedule_that_never_fired_has_no_slot() -> None:
    """29 February fired last in 2024; from 2025 on the latest slot is that one."""
    acct = account(schedule="0 12 29 2 *")
    assert current_slot(acct, BERLIN, _local(2027, 3, 1)) == _local(2024, 2, 29, 12)


@pytest.mark.parametrize(
    "schedule",
    ["0 9 * *", "0 9 L * *", "0 9 last * *", "0 9 * * 5L", "0 9 * * mon#2", "x 9 * * *",
     "0 25 * * *", "0 9 * * 8", "0 9 31 2 *", "*/0 * * * *", "5-1 * * * *"],
)  # fmt: skip
def test_schedules_the_bot_cannot_read(schedule: str) -> None:
    """Only what cron and APScheduler both read the same way is accepted."""
    with pytest.raises(ValueError, match=r"cron expression|cannot read"):
        check_schedule(schedule)


@pytest.mark.parametrize(
    "schedule", ["0 10 * * *", "*/15 8-20 * * mon-fri", "0 9 1,15 jan-jun *", "5/20 * * * 0,7"]
)
def test_schedules_the_bot_reads(schedule: str) -> None:
    check_schedule(schedule)
