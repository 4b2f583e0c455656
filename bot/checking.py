"""``check``: render every item × language × platform the configuration needs, within limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from bot.accounts import online_warnings
from bot.app import App
from bot.cards.checks import picture_problem
from bot.dataset import Item
from bot.errors import BotError
from bot.post import DEFAULT_LIMITS, PLATFORMS, Picture, PlatformLimits
from bot.rendering import mastodon_text

PROGRESS_STEP = 100
Verdict = Literal["ok", "shortened", "fallback", "skipped", "warning", "error"]


@dataclass(frozen=True)
class Row:
    item_id: str
    language: str
    cells: dict[str, str]
    verdict: Verdict
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    @property
    def errors(self) -> list[Row]:
        return [r for r in self.rows if r.verdict == "error"]

    def table(self) -> str:
        header = ["item", "lang", *PLATFORMS, "status"]
        body = [
            [
                r.item_id,
                r.language,
                *(r.cells.get(p, "–") for p in PLATFORMS),
                r.verdict + (f": {r.note}" if r.note else ""),
            ]
            for r in self.rows
        ]
        widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header) - 1)]
        lines = []
        for line in [header, *body]:
            lines.append(
                "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False))
                + "  "
                + line[-1]
            )
        return "\n".join(lines)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.verdict] = counts.get(row.verdict, 0) + 1
        parts = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
        return f"{len(self.rows)} item × language rows: {parts}"


def check_all(
    app: App,
    limits: dict[str, PlatformLimits] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Render everything the configured accounts could post; never raises for one bad item.

    ``progress`` is called with the number of items done since the last call."""
    limits = {**DEFAULT_LIMITS, **(limits or {})}
    languages = list(dict.fromkeys(lang for a in app.accounts for lang in a.languages))
    fallbacks = {a.fallback_language for a in app.accounts if a.fallback_language}
    today = app.today()
    report = Report()
    for index, item in enumerate(app.dataset, 1):
        for language in languages:
            report.rows.append(_check_one(app, item, language, fallbacks, today, limits))
        if progress is not None and index % PROGRESS_STEP == 0:
            progress(PROGRESS_STEP)
    return report


def _check_one(
    app: App,
    item: Item,
    language: str,
    fallbacks: Iterable[str],
    today: dt.date,
    limits: dict[str, PlatformLimits],
) -> Row:
    unresolved = app.renderer.unresolved_links(item)
    if unresolved:
        return Row(
            item.id,
            language,
            {},
            "warning",
            f"link {unresolved[0]} is site-relative: set SITE_BASE_URL to post this item",
        )
    if not item.is_open(today):
        return Row(item.id, language, {}, "skipped", "closed or inactive")
    available = item.languages()
    post_language, note = language, ""
    verdict: Verdict = "ok"
    if available is not None and language not in available:
        usable = [f for f in fallbacks if f in available]
        if not usable:
            return Row(item.id, language, {}, "skipped", f"no {language} text, no fallback")
        post_language, verdict, note = usable[0], "fallback", f"posted in {usable[0]}"
    cells: dict[str, str] = {}
    picture: Picture | None = None
    mentioned: list[str] = []
    for platform in PLATFORMS:
        try:
            post = app.renderer.render(item, post_language, platform, limits[platform])
        except BotError as exc:
            return Row(item.id, language, cells, "error", str(exc))
        cells[platform] = f"{post.length}/{post.limit}" + ("*" if post.truncated else "")
        if post.truncated and verdict == "ok":
            verdict, note = "shortened", "* description shortened to fit"
        if platform == "mastodon":
            mentioned = mastodon_text.mentions(post.text)
        picture = post.picture
    problem = picture_problem(picture, post_language, app.settings.data_dir) if picture else None
    if problem:
        return Row(item.id, language, cells, "error", problem)
    if picture is None and verdict == "ok":
        verdict, note = "warning", f"no picture: no share-card words for {post_language!r}"
    if mentioned:  # a bot that notifies people who did not ask for it gets reported
        said = f"mentions {', '.join(mentioned)}: Mastodon notifies them (Bluesky shows text)"
        verdict, note = "warning", f"{note}; {said}" if note else said
    return Row(item.id, language, cells, verdict, note)


def check_accounts(app: App) -> tuple[list[str], dict[str, PlatformLimits], bool]:
    """Verify every live account's credentials (posting nothing) and collect its limits.

    Returns report lines, the strictest limits per platform, and whether any account failed.
    """
    from bot.publishing.base import ManagedPublisher

    lines: list[str] = []
    limits: dict[str, PlatformLimits] = {}
    failed = False
    for account in app.accounts:
        if account.dry_run:
            lines.append(f"{account.label}: dry run, not checked online")
            continue
        try:
            publisher = app.publisher(account)
            if not isinstance(publisher, ManagedPublisher):
                lines.append(f"{account.label}: cannot be checked online")
                continue
            info = publisher.verify()
            account_limits = publisher.limits
        except BotError as exc:
            failed = True
            lines.append(f"{account.label}: FAILED: {exc}")
            continue
        details = ", ".join(f"{k} {v}" for k, v in info.items() if v is not None)
        lines.append(f"{account.label}: ok, {details}")
        lines.extend(f"{account.label}: warning: {w}" for w in online_warnings(publisher, account))
        current = limits.get(account.platform)
        if current is None or account_limits.max_graphemes < current.max_graphemes:
            limits[account.platform] = account_limits
    return lines, limits, failed
