"""What the reply and quote settings mean on each platform, for ``check`` to say.

Bluesky has a threadgate for every REPLY_POLICY and a postgate that forbids quotes, but no rule
for "quotes by followers only": there ``followers`` becomes nobody (the nearest stricter rule).
Mastodon cannot limit replies at all, and takes ``quote_approval_policy`` only from Mastodon 4.5
(API version 7; ``check --online`` names instances that are older).
"""

from __future__ import annotations

from bot.config import Account

#: The publishers send quote_approval_policy from this API version on.
MASTODON_QUOTES_FROM = 7


def policy_notes(accounts: list[Account]) -> list[str]:
    """One line per account and policy the platform cannot express as configured."""
    notes = []
    for account in accounts:
        if account.platform == "mastodon" and account.reply_policy != "everyone":
            notes.append(
                f"{account.label}: REPLY_POLICY={account.reply_policy} cannot be expressed:"
                " Mastodon has no reply controls; anyone who can see a post may reply"
            )
        if account.platform == "bluesky" and account.quote_policy == "followers":
            notes.append(
                f"{account.label}: QUOTE_POLICY=followers cannot be expressed: Bluesky allows"
                " quotes by everyone or nobody; nobody applies (the nearest stricter rule)"
            )
    return notes


def quote_note(account: Account, api_version: int) -> str | None:
    """The note for a Mastodon instance too old for ``quote_approval_policy``."""
    if account.quote_policy == "everyone" or api_version >= MASTODON_QUOTES_FROM:
        return None
    return (
        f"QUOTE_POLICY={account.quote_policy} cannot be expressed: the instance's API version"
        f" is {api_version}, quote controls need {MASTODON_QUOTES_FROM} (Mastodon 4.5);"
        " posts go out without them"
    )
