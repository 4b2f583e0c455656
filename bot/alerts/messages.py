"""What an alert says: a short title and a plain body an operator can act on, per kind of
problem, and the recovery note. Every text passes through :func:`bot.logs.mask`, so a token
or password that reached an error message is never sent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from bot.logs import mask

Kind = Literal[
    "post_failed", "retries_exhausted", "slot_missed", "login_failed", "nothing_eligible"
]

#: What each kind of problem is, in the words of an alert and the status page.
KINDS: dict[Kind, str] = {
    "post_failed": "a post failed",
    "retries_exhausted": "a post got no answer after every retry",
    "slot_missed": "a due slot passed without a post",
    "login_failed": "the login failed or the token was revoked",
    "nothing_eligible": "nothing eligible to post: the account stays silent",
}

_ADVICE: dict[Kind, str] = {
    "post_failed": (
        "The platform did not publish it. See the history on the status page (or run"
        " `leavex-bot history --account {account}`); `leavex-bot check` shows whether an item"
        " does not fit."
    ),
    "retries_exhausted": (
        "The server did not answer any attempt, so the post may or may not be out. The bot"
        " asks the platform on its next run and records the truth; nothing is posted twice."
    ),
    "slot_missed": (
        "Nothing was sent for this slot. The bot goes on with the next slot; if this repeats,"
        " check that the worker (`leavex-bot run`) is running and its server is reachable."
    ),
    "login_failed": (
        "The platform refused the account's credentials. Create a new access token (Mastodon)"
        " or app password (Bluesky) and update the settings; nothing is posted until then."
    ),
    "nothing_eligible": (
        "No item of the dataset can be posted in this language now (closed, inactive, or no"
        " text in it). Add or reopen items, or run `leavex-bot check`."
    ),
}


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def _limit(text: str, size: int = 600) -> str:
    text = mask(text)
    return text if len(text) <= size else text[: size - 1] + "…"


def problem(
    kind: Kind,
    *,
    account: str,
    platform: str,
    dry_run: bool,
    slot: dt.datetime | None,
    detail: str,
    item: str | None = None,
) -> Message:
    """The alert for a problem that has just opened."""
    label = f"{account} ({platform}{', dry run' if dry_run else ''})"
    lines = [f"Account {label}: {KINDS[kind]}."]
    if slot is not None:
        lines.append(f"Slot: {slot:%Y-%m-%d %H:%M %Z}")
    if item:
        lines.append(f"Item: {item}")
    if detail:
        lines.append(f"Reason: {_limit(detail)}")
    lines += ["", _ADVICE[kind].format(account=account)]
    lines.append(
        f"You get one alert per problem (at most one an hour), and a note when {account}"
        " posts again."
    )
    return Message(mask(f"leavex-bot: {account}: {KINDS[kind]}"), mask("\n".join(lines)))


def recovery(
    *,
    account: str,
    platform: str,
    kinds: list[str],
    since: str,
    slot: dt.datetime | None,
    url: str | None,
) -> Message:
    """The note that an account's problems have cleared: it posted again."""
    cleared = "; ".join(KINDS.get(kind, kind) for kind in kinds)  # type: ignore[call-overload]
    lines = [f"Account {account} ({platform}) is posting again.", f"Cleared: {cleared}."]
    if since:
        lines.append(f"The problem started at {since}.")
    if slot is not None:
        lines.append(f"Latest post: slot {slot:%Y-%m-%d %H:%M %Z}" + (f", {url}" if url else ""))
    return Message(mask(f"leavex-bot: {account} is posting again"), mask("\n".join(lines)))
