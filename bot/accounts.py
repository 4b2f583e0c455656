"""``leavex-bot accounts``: every configured account, and whether it says it is automated.

Mastodon's mark is the account's ``bot`` flag; Bluesky's the profile's ``bot`` self-label.
``--mark-bot`` sets the mark where it is missing, keeping every other profile field (see the
publishers' ``mark_bot``). Registered on the CLI with ``cli.add_command(accounts)``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import click

from bot.config import Account
from bot.errors import BotError


@dataclass(frozen=True)
class Mark:
    """An account's automated mark as found (or set) online."""

    account: Account
    handle: str = ""
    marked: bool | None = None  # None: not checked (dry run, or the check failed)
    changed: bool = False
    error: str = ""

    def line(self) -> str:
        if self.error:
            state = f"FAILED: {self.error}"
        elif self.marked is None:
            state = "dry run, not checked"
        elif self.changed:
            state = "marked as automated now"
        else:
            state = "marked as automated" if self.marked else "NOT marked as automated"
        handle = self.handle or self.account.handle or self.account.api_base_url or ""
        return f"{self.account.name:<12} {self.account.platform:<9} {handle:<32} {state}"


def account_mark(publisher: object, account: Account, *, mark: bool = False) -> Mark:
    """Read (and with ``mark``, set) the account's automated mark; errors become the line."""
    from bot.publishing.base import MarkablePublisher

    if account.dry_run or not isinstance(publisher, MarkablePublisher):
        return Mark(account)
    try:
        handle, marked = publisher.bot_mark()
        changed = mark and not marked and publisher.mark_bot()
    except BotError as exc:
        return Mark(account, error=str(exc))
    return Mark(account, handle, marked or changed, changed)


@click.command()
@click.option(
    "--mark-bot",
    "mark",
    is_flag=True,
    help="Mark every account that is not marked as automated (keeps other profile fields).",
)
@click.pass_context
def accounts(ctx: click.Context, mark: bool) -> None:
    """List the accounts: platform, handle, and whether each is marked as automated.

    The mark is Mastodon's bot flag and Bluesky's profile self-label "bot".
    """
    from bot.cli import handles_errors, load_app

    def run() -> None:
        app = load_app(ctx)
        marks = [account_mark(app.publisher(a), a, mark=mark) for a in app.accounts]
        for found in marks:
            click.echo(found.line())
        if not mark and any(m.marked is False for m in marks):
            click.echo("run `leavex-bot accounts --mark-bot` to mark them")
        if any(m.error for m in marks):
            sys.exit(1)

    handles_errors(run)()


def online_warnings(publisher: object, account: Account) -> list[str]:
    """What ``check --online`` warns about an account: not marked as automated, and a quote
    policy its Mastodon instance is too old for."""
    from bot.policies import quote_note

    warnings = []
    found = account_mark(publisher, account)
    if found.marked is False:
        warnings.append("not marked as automated (run `leavex-bot accounts --mark-bot`)")
    version = getattr(publisher, "api_version", None)
    if account.platform == "mastodon" and isinstance(version, int):
        note = quote_note(account, version)
        if note:
            warnings.append(note)
    types = getattr(getattr(publisher, "media_limits", None), "mime_types", None)
    if account.platform == "mastodon" and account.media and types and "image/png" not in types:
        warnings.append("the instance takes no PNG images: posts go out without share cards")
    return warnings
