"""Alerts: the operator is told when something breaks, and when it is fixed.

The worker calls :func:`notify_outcomes` with what became of a slot's posts and
:func:`notify_missed` when a due slot passes without a post. With ``ALERT_URLS`` set, each
kind of problem is alerted once when it opens (:mod:`bot.state.alerts` decides, in the state
database, so several workers do not each send it, and at most once per account and kind an
hour), and a recovery note goes out when the account posts again. Without ``ALERT_URLS``
nothing happens (no import, no database work).

Kinds: ``post_failed`` (refused, or failed for good), ``retries_exhausted`` (no answer to any
attempt), ``slot_missed``, ``login_failed`` (credentials rejected, a token revoked) and
``nothing_eligible`` (the account stays silent). Alerting never fails a slot: an error here is
logged (``alert.failed``) and the worker goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from bot.alerts.messages import KINDS, Kind, problem, recovery
from bot.clock import parse_iso, utcnow
from bot.logs import log_event

if TYPE_CHECKING:
    from bot.config import Account, Settings
    from bot.poster import Outcome
    from bot.state import Store

__all__ = ["KINDS", "Kind", "classify", "notify_missed", "notify_outcomes"]

log = logging.getLogger("bot.alerts")
#: Errors that mean the platform refused the account's credentials.
_LOGIN = re.compile(
    r"^(401|403)\b|access token was rejected|rejected handle|no Mastodon instance or token"
    r"|no Bluesky handle or app password",
    re.IGNORECASE,
)


#: The kind of problem each outcome is ("failed" depends on its error).
_BY_STATUS: dict[str, Kind | Literal["recovered"]] = {
    "posted": "recovered",
    "nothing-to-post": "nothing_eligible",
    "unknown": "retries_exhausted",
    "refused": "post_failed",
}


def classify(outcome: Outcome) -> Kind | Literal["recovered"] | None:
    """The kind of problem an outcome is; ``"recovered"`` for a post that went out."""
    if outcome.status != "failed":
        return _BY_STATUS.get(outcome.status)
    error = outcome.error or ""
    if error.startswith("interrupted by shutdown"):
        return None  # the next start finishes it
    return "login_failed" if _LOGIN.search(error) else "post_failed"


def notify_outcomes(
    settings: Settings, store: Store, account: Account, outcomes: Sequence[Outcome]
) -> None:
    """Alert the problems among a slot's outcomes; a post that went out clears the account's
    open problems (with a recovery note for those that were alerted)."""
    if not settings.alert_urls:
        return
    try:
        kinds = [(o, classify(o)) for o in outcomes]
        for o, kind in kinds:
            if kind == "recovered":
                _recovered(settings, store, account, o)
        for o, kind in kinds:
            if kind is not None and kind != "recovered":
                _problem(
                    settings,
                    store,
                    account,
                    kind,
                    slot=_slot(o.slot_key, settings),
                    detail=o.error or (f"language {o.language}" if o.language else ""),
                    item=o.item_id,
                )
    except Exception as exc:  # alerting must never fail a slot
        log_event(log, "alert.failed", logging.ERROR, account=account.name, error=repr(exc))


def notify_missed(
    settings: Settings, store: Store, account: Account, slot_at: dt.datetime, reason: str
) -> None:
    """Alert a due slot that passed without a post."""
    if not settings.alert_urls:
        return
    try:
        _problem(settings, store, account, "slot_missed", slot=slot_at, detail=reason)
    except Exception as exc:
        log_event(log, "alert.failed", logging.ERROR, account=account.name, error=repr(exc))


def _slot(slot_key: str, settings: Settings) -> dt.datetime | None:
    from zoneinfo import ZoneInfo

    try:
        return parse_iso(slot_key.split("/", maxsplit=1)[0]).astimezone(ZoneInfo(settings.timezone))
    except ValueError:
        return None


def _problem(
    settings: Settings,
    store: Store,
    account: Account,
    kind: Kind,
    *,
    slot: dt.datetime | None,
    detail: str,
    item: str | None = None,
) -> None:
    from zoneinfo import ZoneInfo

    from bot.alerts.send import send

    if not store.open_alert(account.name, kind, detail, utcnow()):
        log_event(log, "alert.suppressed", account=account.name, kind=kind)
        return
    message = problem(
        kind,
        account=account.name,
        platform=account.platform,
        dry_run=account.dry_run,
        slot=slot.astimezone(ZoneInfo(settings.timezone)) if slot else None,
        detail=detail,
        item=item,
    )
    assert settings.alert_urls is not None
    send(settings.alert_urls.get_secret_value(), message.title, message.body, "failure")


def _recovered(settings: Settings, store: Store, account: Account, outcome: Outcome) -> None:
    from bot.alerts.send import send

    cleared = store.clear_alerts(account.name)
    if not cleared:
        return
    since = min(c.opened_at for c in cleared)
    message = recovery(
        account=account.name,
        platform=account.platform,
        kinds=[c.kind for c in cleared],
        since=_local(since, settings),
        slot=_slot(outcome.slot_key, settings),
        url=outcome.url,
    )
    assert settings.alert_urls is not None
    send(settings.alert_urls.get_secret_value(), message.title, message.body, "success")


def _local(stamp: str, settings: Settings) -> str:
    from zoneinfo import ZoneInfo

    try:
        moment = parse_iso(stamp).astimezone(ZoneInfo(settings.timezone))
    except ValueError:
        return stamp
    return f"{moment:%Y-%m-%d %H:%M %Z}"
