"""The ``leavex-bot`` command line: a thin click layer over the library.

Each command loads and validates everything it needs first; operator errors (config, dataset,
templates) become a clear message and exit code 2, other bot errors exit code 1.
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bot.errors import BotError, ConfigError, Problem

if TYPE_CHECKING:
    from bot.app import App
    from bot.poster import Outcome

F = TypeVar("F", bound=Callable[..., Any])
#: Long operations show progress on stderr from this many items on.
PROGRESS_FROM = 1000


def _fail(exc: BotError) -> None:
    from bot.logs import mask

    click.echo(f"Error: {mask(str(exc))}", err=True)
    sys.exit(exc.exit_code)


def handles_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BotError as exc:
            _fail(exc)

    return wrapper  # type: ignore[return-value]


def load_app(ctx: click.Context) -> App:
    from bot import logs
    from bot.app import App

    options = ctx.find_root().params
    app = App.load(options.get("env_file"))
    level = "DEBUG" if options.get("verbose") else app.settings.log_level
    logs.setup(level, app.settings.log_format)
    ctx.call_on_close(app.close)
    return app


def _parse_slot(value: str | None, app: App) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            [Problem("--slot", f"{value!r} is not an ISO-8601 time such as 2026-11-21T10:00")]
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=app.tz)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Env file to read settings from (default: .env in the current folder, if present).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
@click.version_option(package_name="leavex-bot")
def cli(env_file: Path | None, verbose: bool) -> None:
    """Announce the LeaveX network's initiatives and petitions on Mastodon and Bluesky.

    With no account configured, every command works as a dry run on the bundled dataset.
    """


@cli.command()
@click.option("--account", "account_name", help="Only this account.")
@click.option(
    "-n",
    "count",
    type=click.IntRange(1, 1000),
    default=3,
    show_default=True,
    help="How many upcoming slots to show per account.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per post (JSON Lines): text, length, limit, facets, card, image.",
)
@click.pass_context
@handles_errors
def preview(ctx: click.Context, account_name: str | None, count: int, as_json: bool) -> None:
    """Show the next N posts of each account as they would appear, with their counted length."""
    from bot.poster import Poster
    from bot.preview_json import line
    from bot.publishing.console import ConsolePublisher, format_post
    from bot.schedule import next_slots

    app = load_app(ctx)
    with app.open_store() as store:
        poster = Poster(store, app.dataset, app.renderer, today=app.today)
        for account in app.select(account_name):
            publisher = ConsolePublisher(account.platform, tz=app.tz)
            slots = list(next_slots(account, app.settings.timezone, app.now(), count))
            if as_json:
                for slot_at, post, note in poster.preview(account, publisher, slots):
                    click.echo(line(account.name, account.platform, slot_at, post, note))
                continue
            click.echo(
                f"# {account.label}: schedule {account.schedule!r} ({app.settings.timezone}),"
                f" languages {', '.join(account.languages)} ({account.language_mode})"
            )
            for slot_at, post, note in poster.preview(account, publisher, slots):
                if post is None:
                    click.echo(f"── {account.name} · slot {slot_at:%Y-%m-%d %H:%M %Z} · {note}")
                    continue
                shown = post.outgoing(account.name, slot_at, key="")
                shortened = "\n│ (description shortened to fit)" if post.truncated else ""
                click.echo(format_post(shown, app.tz) + shortened)
            click.echo()


@cli.command()
@click.option(
    "--online",
    is_flag=True,
    help="Also log in to every account, report its limits and render with them.",
)
@click.pass_context
@handles_errors
def check(ctx: click.Context, online: bool) -> None:
    """Validate config, dataset and templates, and render every item × language × platform.

    Prints a table; exits non-zero if anything cannot be posted as configured.
    """
    from bot.checking import check_accounts, check_all

    app = load_app(ctx)
    limits = None
    failed = False
    if online:
        lines, limits, failed = check_accounts(app)
        for line in lines:
            click.echo(line)
        click.echo()
    if len(app.dataset) >= PROGRESS_FROM:
        with click.progressbar(
            length=len(app.dataset), label="rendering items", file=sys.stderr
        ) as bar:
            report = check_all(app, limits, progress=bar.update)
    else:
        report = check_all(app, limits)
    click.echo(report.table())
    click.echo(report.summary())
    from bot.policies import policy_notes

    for note in policy_notes(app.accounts):
        click.echo(f"note: {note}")
    if report.errors or failed:
        sys.exit(1)


@cli.command()
@click.option("--account", "account_name", help="Only this account.")
@click.option(
    "--slot", help="The slot to post (ISO-8601; default: the current slot of each account)."
)
@click.pass_context
@handles_errors
def post(ctx: click.Context, account_name: str | None, slot: str | None) -> None:
    """Publish one slot now. Running it again for the same slot posts nothing new."""
    from bot.worker import run_once

    app = load_app(ctx)
    outcomes = run_once(app, app.select(account_name), _parse_slot(slot, app))
    _exit_on_problems(outcomes)


def _exit_on_problems(outcomes: list[Outcome]) -> None:
    """Exit 1 when a post failed, was refused, or its outcome is unknown."""
    from bot.poster import PROBLEMS

    if any(o.status in PROBLEMS for o in outcomes):
        sys.exit(1)


@cli.command()
@click.option("--once", is_flag=True, help="Run the current slot of every account and exit.")
@click.pass_context
@handles_errors
def run(ctx: click.Context, once: bool) -> None:
    """Run the scheduler: post each account's slots as its schedule fires (Procfile worker)."""
    from bot.worker import Worker, run_once

    app = load_app(ctx)
    if once:
        _exit_on_problems(run_once(app, app.accounts, None))
        return
    Worker(app).run()


@cli.command()
@click.option("--account", "account_name", help="Only this account.")
@click.option("--item", "item_id", help="Only this item.")
@click.option(
    "-n",
    "limit",
    type=click.IntRange(1, 10_000),
    default=20,
    show_default=True,
    help="How many posts to show.",
)
@click.option("--dry-run", "dry_run", is_flag=True, help="Show the dry-run history instead.")
@click.pass_context
@handles_errors
def history(
    ctx: click.Context, account_name: str | None, item_id: str | None, limit: int, dry_run: bool
) -> None:
    """Show what was posted (newest first), with links."""
    app = load_app(ctx)
    if not dry_run and all(a.dry_run for a in app.accounts):
        dry_run = True
        click.echo("(no live account configured: showing the dry-run history)")
    with app.open_store() as store:
        rows = store.history(account=account_name, item_id=item_id, dry_run=dry_run, limit=limit)
    if not rows:
        click.echo("nothing posted yet")
        return
    from bot.clock import parse_iso

    for row in rows:
        where = row.remote_url or (row.error and f"error: {row.error}") or ""
        if row.dry_run and not where:
            where = "(dry run: not published)"
        slot = parse_iso(row.slot_at).astimezone(app.tz)
        click.echo(
            f"{slot:%Y-%m-%d %H:%M %Z}  {row.account:<12} {row.status:<9} {row.language}  "
            f"{row.item_id:<28} {where}"
        )


@cli.command()
@click.argument("item_id")
@click.option("--dry-run", "dry_run", is_flag=True, help="Retract from the dry-run history.")
@click.pass_context
@handles_errors
def retract(ctx: click.Context, item_id: str, dry_run: bool) -> None:
    """Delete ITEM_ID's posts on every platform and mark them retracted in the history."""
    from bot.retract import retract_item

    app = load_app(ctx)
    if item_id not in app.dataset.by_id:
        click.echo(f"note: {item_id!r} is not in the dataset (retracting its history anyway)")
    results = retract_item(app, item_id, dry_run=dry_run)
    if not results:
        click.echo(f"nothing posted for {item_id!r}")
    for r in results:
        detail = f": {r.error}" if r.error else ""
        click.echo(f"{r.account:<12} {r.outcome:<12} {r.url or r.remote_id or ''}{detail}")
    if item_id in app.dataset.by_id and app.dataset.by_id[item_id].active:
        click.echo(f"to stop posting it, set active = false for [{item_id}] in the data files")
    if any(r.outcome == "failed" for r in results):
        sys.exit(1)


from bot.importer.command import import_site  # noqa: E402 -- registered after the group

cli.add_command(import_site)

from bot.cards.command import cards  # noqa: E402 -- registered after the group

cli.add_command(cards)

from bot.accounts import accounts  # noqa: E402 -- registered after the group

cli.add_command(accounts)

from bot.web.command import health, web  # noqa: E402 -- registered after the group

cli.add_command(web)
cli.add_command(health)

from bot.stats.command import stats  # noqa: E402 -- registered after the group

cli.add_command(stats)


def main() -> None:
    cli(prog_name="leavex-bot")
