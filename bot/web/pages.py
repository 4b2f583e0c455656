"""What each page of the status page shows, read from the configuration, the dataset and the
state database. Nothing here writes a post or sends anything: the upcoming posts come from
``Poster.preview`` (as ``leavex-bot preview`` shows them), with a publisher that cannot post.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from bot.app import App
from bot.clock import parse_iso
from bot.config import Account
from bot.dataset import Item
from bot.errors import RenderError
from bot.health import AccountHealth, account_health
from bot.post import DEFAULT_LIMITS, OutgoingPost, PlatformLimits, Published
from bot.state import Cursor, HistoryFilter, ItemStats, PostRecord, Status, Store
from bot.web.posts import Pictures, ShownPost, safe_href, shown

STATUSES: tuple[Status, ...] = (
    "posted",
    "planned",
    "unknown",
    "refused",
    "failed",
    "missed",
    "retracted",
)
PROBLEM_STATUSES: tuple[Status, ...] = ("failed", "refused", "unknown", "missed")
PAGE_SIZE = 50


class NeverPosts:
    """The publisher the status page previews with: it knows the limits and cannot post."""

    def __init__(self, platform: str) -> None:
        self.limits: PlatformLimits = DEFAULT_LIMITS[platform]

    def publish(self, post: OutgoingPost) -> Published:
        raise RuntimeError("the status page never posts")

    def close(self) -> None:
        pass


def local(app: App, stamp: str | None) -> str:
    """An ISO time from the database in the configured time zone, for people."""
    if not stamp:
        return ""
    try:
        moment = parse_iso(stamp)
    except ValueError:
        return stamp
    return f"{moment.astimezone(app.tz):%Y-%m-%d %H:%M %Z}"


def showing_dry_run(app: App, asked: str | None) -> bool:
    """The dry-run history is shown when asked for, or when no account posts for real."""
    if asked in ("0", "1"):
        return asked == "1"
    return all(a.dry_run for a in app.accounts)


# -- overview -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountRow:
    account: Account
    where: str
    next_fire: str
    last_post: PostRecord | None
    last_post_url: str | None
    last_problem: PostRecord | None
    health: AccountHealth


def where(account: Account) -> str:
    """The account's handle or server, as an operator recognises it."""
    if account.platform == "bluesky":
        return account.handle or "(no handle: dry run)"
    host = re.sub(r"^https?://", "", account.api_base_url or "")
    return host or "(no instance: dry run)"


def overview(app: App, store: Store) -> list[AccountRow]:
    from bot.schedule import next_slots

    now = app.now()
    rows = []
    for account in app.accounts:
        upcoming = next(iter(next_slots(account, app.settings.timezone, now, 1)), None)
        last = store.latest_post(account.name, account.dry_run, ("posted",))
        rows.append(
            AccountRow(
                account,
                where(account),
                f"{upcoming:%Y-%m-%d %H:%M %Z}" if upcoming else "never",
                last,
                safe_href(last.remote_url or "") if last else None,
                store.latest_post(account.name, account.dry_run, PROBLEM_STATUSES),
                account_health(app, store, account, now),
            )
        )
    return rows


# -- upcoming -----------------------------------------------------------------------------------


def upcoming(app: App, store: Store, pictures: Pictures, count: int) -> list[list[ShownPost]]:
    """The next ``count`` slots of every account, as ``preview`` renders them."""
    from bot.poster import Poster
    from bot.schedule import next_slots

    poster = Poster(store, app.dataset, app.renderer, today=app.today)
    now = app.now()
    result = []
    for account in app.accounts:
        slots = list(next_slots(account, app.settings.timezone, now, count))
        previews = poster.preview(account, NeverPosts(account.platform), slots)
        result.append([shown(account, s, post, note, pictures) for s, post, note in previews])
    return result


# -- history ------------------------------------------------------------------------------------

_CURSOR = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)_(\d{1,18})")


def cursor(value: str | None) -> Cursor | None:
    match = _CURSOR.fullmatch(value or "")
    return (match.group(1), int(match.group(2))) if match else None


def cursor_of(record: PostRecord) -> str:
    return f"{record.slot_at}_{record.id}"


@dataclass(frozen=True)
class HistoryPage:
    selection: HistoryFilter
    rows: list[PostRecord]
    older: str | None
    newer: str | None


def history(app: App, store: Store, params: dict[str, str]) -> HistoryPage:
    """One page of the history, newest first, filtered by ``params``."""

    def value(name: str) -> str:
        return params.get(name, "").strip()[:200]

    status = value("status")
    selection = HistoryFilter(
        dry_run=showing_dry_run(app, params.get("dry")),
        account=value("account"),
        item_id=value("item"),
        language=value("language"),
        status=status if status in STATUSES else "",
    )
    before, after = cursor(params.get("before")), cursor(params.get("after"))
    rows, more = store.history_page(selection, before=before, after=after, limit=PAGE_SIZE)
    if not rows:
        return HistoryPage(selection, rows, None, None)
    # Older pages exist if this one is full going back, or if we came from older ones.
    older = cursor_of(rows[-1]) if (more if after is None else True) else None
    newer = None
    if before is not None or (after is not None and more):
        newer = cursor_of(rows[0])
    return HistoryPage(selection, rows, older, newer)


# -- dataset ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemRow:
    item: Item
    languages: str
    eligible: bool
    why: str
    stats: ItemStats | None


def eligibility(app: App, item: Item, today: dt.date) -> tuple[bool, str]:
    """Whether the accounts can post the item today, and if not, why not."""
    unresolved = app.renderer.unresolved_links(item)
    closed = [
        (not item.active, "inactive (active = false in the data files)"),
        (bool(item.starts and today < item.starts), f"starts on {item.starts}"),
        (bool(item.ends and today > item.ends), f"closed since {item.ends}"),
        (bool(unresolved), f"its link {unresolved[0] if unresolved else ''} needs SITE_BASE_URL"),
    ]
    for applies, why in closed:
        if applies:
            return False, why
    available = item.languages()
    wanted: set[str] = set()
    for account in app.accounts:
        wanted |= set(account.languages)
        if account.fallback_language:
            wanted.add(account.fallback_language)
    usable = sorted(wanted if available is None else available & wanted)
    if not usable:
        return False, f"no text in {', '.join(sorted(wanted))}"
    postable, why = _renderable(app, item, usable)
    if available is None and why == f"in {', '.join(usable)}":
        return postable, "in every language"
    return postable, why


def _renderable(app: App, item: Item, languages: list[str]) -> tuple[bool, str]:
    """Whether the item renders in its languages for the accounts' platforms (what `check`
    reports: a link a platform would cut, a name too long to fit …)."""
    problems: dict[str, str] = {}
    for language in languages:
        for platform in sorted({a.platform for a in app.accounts}):
            try:
                app.renderer.render(item, language, platform)
            except RenderError as exc:
                problems.setdefault(language, str(exc))
    fine = [language for language in languages if language not in problems]
    if not problems:
        return True, f"in {', '.join(languages)}"
    first = next(iter(problems.values()))
    if not fine:
        return False, f"cannot be posted: {first}"
    return True, f"in {', '.join(fine)}; not in {', '.join(problems)}: {first}"


def dataset(app: App, store: Store, dry_run: bool) -> list[ItemRow]:
    stats = store.item_stats(dry_run)
    today = app.today()
    rows = []
    for item in app.dataset:
        eligible, why = eligibility(app, item, today)
        languages = item.languages()
        rows.append(
            ItemRow(
                item,
                ", ".join(sorted(languages)) if languages else "(any)",
                eligible,
                why,
                stats.get(item.id),
            )
        )
    return rows


def filters(app: App) -> dict[str, Any]:
    """The choices of the history page's filters."""
    languages = sorted({lang for a in app.accounts for lang in a.languages})
    return {
        "accounts": [a.name for a in app.accounts],
        "languages": languages,
        "statuses": STATUSES,
    }
