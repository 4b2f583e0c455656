"""The engagement page: what people did with the posts of a period (likes / favourites,
reposts / boosts, replies, quotes) per item, language and platform and over time, as charts
(PNG pictures drawn by matplotlib, see bot/stats/charts.py) with the same numbers in tables.

Everything comes from the snapshots the worker (or ``leavex-bot stats``) stored; the page
itself asks no platform and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.app import App
from bot.clock import utcnow
from bot.state import Store
from bot.stats import report
from bot.stats.report import Group, PostStats

CHARTS = ("item", "language", "platform", "time")
TITLES = {
    "item": "By item",
    "language": "By language",
    "platform": "By platform",
    "time": "Over time (every post of the period, by the end of each day)",
}
TOP_POSTS = 50


@dataclass(frozen=True)
class Engagement:
    days: int
    rows: list[PostStats]
    groups: dict[str, list[Group]]
    totals: Group
    timeline: list[tuple[dt.date, Group]]
    refreshed: str | None
    names: dict[str, str]

    @property
    def top(self) -> list[PostStats]:
        ranked = sorted(self.rows, key=lambda r: (-r.total, r.post.slot_at))
        return ranked[:TOP_POSTS]

    def alt(self, chart: str) -> str:
        """The chart's text alternative: what it shows, and its leader."""
        if chart == "time":
            last = self.timeline[-1][1] if self.timeline else self.totals
            return (
                f"Lines of likes, reposts, replies and quotes per day over the last {self.days}"
                f" days; by the last day {last.likes} likes, {last.reposts} reposts,"
                f" {last.replies} replies and {last.quotes} quotes. The table below has the"
                " numbers."
            )
        groups = self.groups[chart]
        lead = groups[0] if groups else None
        leader = (
            f" {self.label(chart, lead.key)} leads with {lead.total}." if lead is not None else ""
        )
        return (
            f"Bars of likes, reposts, replies and quotes {TITLES[chart].lower()}.{leader}"
            " The table below has the numbers."
        )

    def label(self, chart: str, key: str) -> str:
        return self.names.get(key, key) if chart == "item" else key


def period(app: App, asked: str | None) -> int:
    try:
        days = int(asked or app.settings.stats_days)
    except ValueError:
        days = app.settings.stats_days
    return max(1, min(365, days))


def engagement(app: App, store: Store, days: int) -> Engagement:
    now = utcnow()
    since = now - dt.timedelta(days=days)
    rows = report.post_stats(store, since)
    groups = {by: report.grouped(rows, by) for by in ("item", "language", "platform")}
    timeline = report.over_time(store, rows, report.period_days(since, now, app.tz), app.tz)
    return Engagement(
        days,
        rows,
        groups,
        report.summed(rows),
        timeline,
        store.last_refresh("engagement"),
        {item.id: item.name for item in app.dataset},
    )


def chart(app: App, store: Store, name: str, days: int) -> bytes | None:
    """The PNG picture of one chart (``None`` for an unknown one)."""
    from bot.stats import charts

    if name not in CHARTS:
        return None
    data = engagement(app, store, days)
    if name == "time":
        return charts.over_time(data.timeline, TITLES[name])
    labels = data.names if name == "item" else None
    return charts.bars(data.groups[name], TITLES[name], labels)
