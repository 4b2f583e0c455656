"""``retract``: delete an item's posts on every platform and mark them retracted."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.app import App
from bot.errors import PublishError
from bot.logs import log_event
from bot.publishing.base import ManagedPublisher

log = logging.getLogger("bot.retract")


@dataclass(frozen=True)
class Retraction:
    account: str
    remote_id: str | None
    url: str | None
    outcome: str  # deleted | already-gone | failed | forgotten (dry run)
    error: str | None = None


def retract_item(app: App, item_id: str, *, dry_run: bool = False) -> list[Retraction]:
    """Delete every posted post of ``item_id`` (live history, or the dry-run one)."""
    results: list[Retraction] = []
    accounts = {a.name: a for a in app.accounts}
    with app.open_store() as store:
        rows = store.history(item_id=item_id, dry_run=dry_run, limit=100_000, statuses=["posted"])
        for row in rows:
            account = accounts.get(row.account)
            if dry_run or row.remote_id is None:
                store.mark_retracted(row)
                results.append(Retraction(row.account, row.remote_id, row.remote_url, "forgotten"))
                continue
            if account is None:
                results.append(
                    Retraction(
                        row.account,
                        row.remote_id,
                        row.remote_url,
                        "failed",
                        "the account is no longer configured",
                    )
                )
                continue
            publisher = app.publisher(account)
            if not isinstance(publisher, ManagedPublisher):
                results.append(
                    Retraction(
                        row.account,
                        row.remote_id,
                        row.remote_url,
                        "failed",
                        "this account's publisher cannot delete posts",
                    )
                )
                continue
            try:
                deleted = publisher.delete(row.remote_id)
            except PublishError as exc:
                log_event(
                    log,
                    "retract.failed",
                    logging.ERROR,
                    account=row.account,
                    item=item_id,
                    remote_id=row.remote_id,
                    error=str(exc),
                )
                results.append(
                    Retraction(row.account, row.remote_id, row.remote_url, "failed", str(exc))
                )
                continue
            store.mark_retracted(row)
            outcome = "deleted" if deleted else "already-gone"
            log_event(
                log,
                "retract.done",
                account=row.account,
                item=item_id,
                remote_id=row.remote_id,
                outcome=outcome,
            )
            results.append(Retraction(row.account, row.remote_id, row.remote_url, outcome))
    return results
