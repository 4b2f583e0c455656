"""Health: is every account's latest due slot posted (or still being worked on)?

``GET /healthz`` on the status page and ``leavex-bot health`` answer the same JSON document,
for uptime monitors, cron and container health checks. It names accounts, platforms, slot
times and the reason of a problem; never a post's text, a token or a password.

An account is healthy while its latest due slot is posted, or still inside its retry window
(the worker may post a slot late within ``CATCH_UP_GRACE``, and retries one for up to five
minutes): a slot not yet posted then is *waiting*, not a problem.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from bot.clock import iso

if TYPE_CHECKING:
    from bot.app import App
    from bot.config import Account
    from bot.state import PostRecord, Store

State = Literal["ok", "waiting", "problem"]
#: How long a slot's retries may run (``RetryPolicy.budget``) plus a margin for the request.
RETRY_WINDOW = dt.timedelta(seconds=300 + 60)


@dataclass(frozen=True)
class AccountHealth:
    """One account's health: its latest due slot and what became of it."""

    account: str
    platform: str
    state: State
    slot: str | None
    reason: str
    dry_run: bool

    @property
    def healthy(self) -> bool:
        return self.state != "problem"


def retry_window(app: App) -> dt.timedelta:
    """How long after its time a slot may still be posted: the catch-up grace, at least as
    long as a slot's retries may take."""
    return max(dt.timedelta(seconds=app.settings.catch_up_grace), RETRY_WINDOW)


def account_health(app: App, store: Store, account: Account, now: dt.datetime) -> AccountHealth:
    from bot.schedule import current_slot

    def result(state: State, reason: str, slot: dt.datetime | None = None) -> AccountHealth:
        shown = slot.astimezone(app.tz).isoformat() if slot else None
        return AccountHealth(
            account.name, account.platform, state, shown, _safe(reason), account.dry_run
        )

    slot_at = current_slot(account, app.settings.timezone, now)
    if slot_at is None:
        return result("ok", "no slot has fallen due yet")
    when = f"{slot_at.astimezone(app.tz):%Y-%m-%d %H:%M %Z}"
    expected = len(account.languages) if account.language_mode == "all" else 1
    rows = store.posts_of_slot(account.name, iso(slot_at), account.dry_run)
    within = now - slot_at <= retry_window(app)
    done = [r for r in rows if r.status in ("posted", "retracted")]
    if len(done) >= expected:
        return result("ok", f"the slot of {when} is posted", slot_at)
    bad = [r for r in rows if r.status in ("failed", "refused", "missed")]
    if bad:
        return result("problem", f"the slot of {when}: {_problem(bad[0])}", slot_at)
    if within:
        return result("waiting", f"the slot of {when} is being posted", slot_at)
    pending = [r for r in rows if r.status in ("planned", "unknown")]
    if pending:
        return result(
            "problem",
            f"the slot of {when}: the outcome is still unknown ({pending[0].status});"
            " the next run asks the platform",
            slot_at,
        )
    return result(
        "problem",
        f"the slot of {when} has no post: nothing eligible to post, or the worker"
        " (`leavex-bot run`) is not running",
        slot_at,
    )


def _problem(record: PostRecord) -> str:
    if record.status == "missed":
        return f"missed ({record.error or 'no reason recorded'})"
    return f"{record.status}: {record.error or 'no error recorded'}"


def _safe(text: str) -> str:
    """Never a secret, and short: a monitor shows it in a notification."""
    from bot.logs import mask

    text = mask(text)
    return text if len(text) <= 300 else text[:299] + "…"


def check_health(app: App, now: dt.datetime | None = None) -> list[AccountHealth]:
    """The health of every configured (enabled) account."""
    moment = now or app.now()
    with app.open_store() as store:
        return [account_health(app, store, account, moment) for account in app.accounts]


def document(results: list[AccountHealth], now: dt.datetime) -> dict[str, Any]:
    """The JSON document of ``/healthz`` and ``leavex-bot health``."""
    return {
        "status": "ok" if all(r.healthy for r in results) else "problem",
        "checked_at": iso(now),
        "accounts": [asdict(r) for r in results],
    }


def health_of(app: App) -> tuple[int, dict[str, Any]]:
    """(HTTP status, document): 200 when every account is healthy, else 503. A database
    that cannot be read is a problem too."""
    from bot.errors import StateError

    now = app.now()
    try:
        results = check_health(app, now)
    except StateError as exc:
        body = {"status": "problem", "checked_at": iso(now), "accounts": []}
        body["reason"] = _safe(f"the state database cannot be read: {exc}")
        return 503, body
    body = document(results, now)
    return (200 if body["status"] == "ok" else 503), body


__all__ = ["AccountHealth", "check_health", "document", "health_of"]
