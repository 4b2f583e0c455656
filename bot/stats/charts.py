"""The engagement page's charts, drawn by matplotlib as PNG pictures (no script, nothing from
another site; the page shows the same numbers in tables, and each picture has a text
alternative): stacked bars of likes, reposts, replies and quotes per item, language and
platform, and lines of the totals over time.

matplotlib is imported when a chart is drawn, never at start-up, and only its object API with
the Agg canvas is used (no pyplot, no global state), so charts can be drawn in several threads.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

from bot.stats.report import KINDS, Group

LABELS = {
    "likes": "likes / favourites",
    "reposts": "reposts / boosts",
    "replies": "replies",
    "quotes": "quotes",
}
#: Colour-blind-safe (Okabe–Ito), and told apart by hatching too.
COLOURS = {"likes": "#D55E00", "reposts": "#0072B2", "replies": "#009E73", "quotes": "#CC79A7"}
HATCHES = {"likes": "", "reposts": "//", "replies": "..", "quotes": "xx"}
WIDTH = 8.0  # inches at 100 dpi: 800 pixels
MAX_BARS = 15


def _figure(height: float) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, height), dpi=100, layout="constrained")
    figure.patch.set_facecolor("white")
    return figure


def _png(figure: Any) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def bars(groups: Sequence[Group], title: str, labels: dict[str, str] | None = None) -> bytes:
    """Horizontal stacked bars, one per group (the first :data:`MAX_BARS`, most engaging on
    top), a segment per kind of engagement."""
    shown = list(groups)[:MAX_BARS]
    names = [(labels or {}).get(g.key, g.key) for g in shown]
    figure = _figure(1.4 + 0.42 * max(1, len(shown)))
    axes = figure.add_subplot()
    axes.set_title(title, loc="left", fontsize=12)
    left = [0] * len(shown)
    positions = list(range(len(shown)))
    for kind in KINDS:
        values = [getattr(g, kind) for g in shown]
        axes.barh(
            positions,
            values,
            left=left,
            color=COLOURS[kind],
            hatch=HATCHES[kind],
            edgecolor="white",
            label=LABELS[kind],
        )
        left = [a + b for a, b in zip(left, values, strict=True)]
    for position, total in zip(positions, left, strict=True):
        axes.annotate(
            str(total), (total, position), xytext=(4, 0), textcoords="offset points", va="center"
        )
    axes.set_yticks(positions, [_short(n) for n in names])
    axes.invert_yaxis()
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlim(0, max([*left, 1]) * 1.12)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="lower right", fontsize=9, frameon=False)
    return _png(figure)


def over_time(days: Sequence[tuple[dt.date, Group]], title: str) -> bytes:
    """One line per kind of engagement: the sum over the posts of the period, day by day."""
    figure = _figure(3.6)
    axes = figure.add_subplot()
    axes.set_title(title, loc="left", fontsize=12)
    dates = [day for day, _ in days]
    styles = {"likes": "-", "reposts": "--", "replies": "-.", "quotes": ":"}
    for kind in KINDS:
        axes.plot(
            dates,
            [getattr(group, kind) for _, group in days],
            styles[kind],
            color=COLOURS[kind],
            marker="o",
            markersize=3,
            label=LABELS[kind],
        )
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_ylim(bottom=0)
    axes.spines[["top", "right"]].set_visible(False)
    figure.autofmt_xdate()
    axes.legend(loc="upper left", fontsize=9, frameon=False)
    return _png(figure)


def _short(name: str, limit: int = 38) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
