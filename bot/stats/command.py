"""``leavex-bot stats``: what people did with the posts of a period, per post and summed by item,
language, platform or account, as rich tables (or JSON for scripts).

By default it first reads the counts from the platforms (claimed in the state database like
the worker's refresh, so it never runs alongside one); ``--no-refresh`` shows the stored ones.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.table import Table

    from bot.app import App
    from bot.stats.report import Group, GroupBy, PostStats


@click.command()
@click.option(
    "--since",
    "days",
    type=click.IntRange(1, 3650),
    default=30,
    show_default=True,
    help="Posts of the last DAYS days.",
)
@click.option(
    "--by",
    type=click.Choice(["item", "language", "platform", "account"]),
    default="item",
    show_default=True,
    help="What to sum the counts by.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document: posts, groups, totals.")
@click.option(
    "--refresh/--no-refresh",
    default=True,
    show_default=True,
    help="Read the counts from Mastodon and Bluesky first, or show the stored ones.",
)
@click.pass_context
def stats(ctx: click.Context, days: int, by: GroupBy, as_json: bool, refresh: bool) -> None:
    """Likes (favourites), reposts (boosts), replies and quotes of the bot's posts.

    Per post and summed by item, language, platform or account; the counts are read from the
    platforms first, unless --no-refresh.
    """
    from bot.cli import handles_errors

    handles_errors(_stats)(ctx, days, by, as_json, refresh)


def _stats(ctx: click.Context, days: int, by: GroupBy, as_json: bool, refresh: bool) -> None:
    from bot.cli import load_app
    from bot.clock import utcnow
    from bot.stats import report
    from bot.stats.job import refresh_now

    app = load_app(ctx)
    now = utcnow()
    since = now - dt.timedelta(days=days)
    note = ""
    with app.open_store() as store:
        if refresh:
            done = refresh_now(app, store, days=days, now=now)
            if done is None:
                note = "another process is refreshing the counts right now: stored counts shown"
            else:
                problems = [f"{a.account}: {a.error}" for a in done.accounts if a.error]
                note = "; ".join(problems)
        rows = report.post_stats(store, since)
        refreshed = store.last_refresh("engagement")
    if as_json:
        click.echo(json.dumps(report.as_json(rows, by, since, refreshed), ensure_ascii=False))
        return
    _print(app, rows, by, days, note)


def _print(app: App, rows: Sequence[PostStats], by: GroupBy, days: int, note: str) -> None:
    from rich.console import Console

    from bot.stats.report import grouped, summed

    console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
    if not rows:
        console.print(f"no published post in the last {days} days")
        if all(a.dry_run for a in app.accounts):
            console.print("(no live account is configured: dry runs have no counts)")
        return
    console.print(_posts_table(app, rows, days))
    console.print(_groups_table(app, grouped(rows, by), summed(rows), by))
    console.print(
        "Mastodon's favourites and boosts are counted as likes and reposts. A deleted or"
        " retracted post counts zero."
    )
    if note:
        console.print(f"note: {note}")


def _table(title: str, first: Sequence[str]) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_footer=True)
    for name in first:
        table.add_column(name)
    for name in ("Likes", "Reposts", "Replies", "Quotes"):
        table.add_column(name, justify="right")
    return table


def _posts_table(app: App, rows: Sequence[PostStats], days: int) -> Table:
    from bot.clock import parse_iso

    table = _table(f"Posts of the last {days} days", ["Slot", "Account", "Item", "Lang"])
    table.add_column("Total", justify="right")
    table.add_column("State")
    for row in rows:
        post = row.post
        slot = parse_iso(post.slot_at).astimezone(app.tz)
        table.add_row(
            f"{slot:%Y-%m-%d %H:%M}",
            f"{post.account} ({post.platform})",
            _name(app, post.item_id),
            post.language,
            *(str(row.count(kind)) for kind in ("likes", "reposts", "replies", "quotes")),
            str(row.total),
            row.state if row.state != "live" else (post.remote_url or "live"),
        )
    return table


def _groups_table(app: App, groups: Sequence[Group], total: Group, by: GroupBy) -> Table:
    table = _table(f"By {by}", [by.capitalize(), "Posts"])
    table.add_column("Total", justify="right")
    columns = table.columns
    columns[0].footer = "all"
    columns[1].footer = str(total.posts)
    for column, kind in zip(columns[2:], ("likes", "reposts", "replies", "quotes"), strict=False):
        column.footer = str(getattr(total, kind))
    columns[-1].footer = str(total.total)
    for group in groups:
        table.add_row(
            _name(app, group.key) if by == "item" else group.key,
            str(group.posts),
            str(group.likes),
            str(group.reposts),
            str(group.replies),
            str(group.quotes),
            str(group.total),
        )
    return table


def _name(app: App, item_id: str) -> str:
    item = app.dataset.by_id.get(item_id)
    return f"{item.name} ({item_id})" if item is not None else item_id
