"""Favourites, boosts and the multi-id lookup of the Mastodon test server, as Mastodon does them:

* ``POST /api/v1/statuses/:id/favourite`` and ``/unfavourite``: the status as the caller sees
  it (``favourited``, ``favourites_count``); favouriting twice changes nothing;
* ``POST /api/v1/statuses/:id/reblog`` (``visibility``) and ``/unreblog``: a boost is a status
  of the booster's with ``reblog`` holding the boosted one; boosting twice returns the same
  boost; a status the caller cannot see is 404 ("Record not found"), one that cannot be
  boosted (private, direct) 403 ("This action is not allowed"); unreblog answers the boosted
  status;
* ``GET /api/v1/statuses?id[]=…`` (Mastodon 4.3 and later): the statuses that exist and that
  the caller may see, newest first, each once; more than 20 ids is 422
  (``Mastodon::ValidationError``, as ``check_statuses_limit`` raises it). Older versions have
  no such route (404).

The counts (``favourites_count``, ``reblogs_count``, ``replies_count``) are in every status
entity (:mod:`~tests.support.mastodon.entities`); deleting a status discards its boosts.
"""

from __future__ import annotations

from tests.support.mastodon.model import (
    INVALID_TOKEN,
    VISIBILITIES,
    Account,
    ApiError,
    Call,
    Result,
    Status,
    as_int,
)
from tests.support.mastodon.statuses import StatusActions

__all__ = ["MAX_IDS", "Interactions"]

#: ``DEFAULT_STATUSES_LIMIT`` of Mastodon's API controllers: ids per multi-id lookup.
MAX_IDS = 20
NOT_ALLOWED = "This action is not allowed"


class Interactions(StatusActions):
    """What other accounts do with a status, and reading many statuses at once."""

    @property
    def has_statuses_index(self) -> bool:
        """``GET /api/v1/statuses`` exists from Mastodon 4.3.0 on."""
        try:
            major, minor = (int(part) for part in self.version.split(".")[:2])
        except ValueError:
            return True
        return (major, minor) >= (4, 3)

    def _api_statuses_index(self, call: Call) -> Result:
        if not self.has_statuses_index:
            raise ApiError(404, "Not Found")
        raw = call.request.query.get("id[]", [])  # Rails permits id: [] only
        ids = list(dict.fromkeys(as_int(value) or 0 for value in raw))
        if len(ids) > MAX_IDS:
            raise ApiError(422, "Mastodon::ValidationError")
        found = [self._statuses.get(i) for i in ids]
        visible = [s for s in found if s is not None and self._can_see(s, call.account)]
        visible.sort(key=lambda s: s.id, reverse=True)  # Status's default scope: newest first
        return 200, [self._status_entity(s, call.account) for s in visible], []

    def _api_favourite(self, call: Call) -> Result:
        account, status = self._acting_on(call)
        status.favourited_by.add(account.id)
        return 200, self._status_entity(status, account), []

    def _api_unfavourite(self, call: Call) -> Result:
        account, status = self._acting_on(call)
        status.favourited_by.discard(account.id)
        return 200, self._status_entity(status, account), []

    def _api_reblog(self, call: Call) -> Result:
        account, status = self._acting_on(call)
        if status.reblog_of_id is not None:  # boosting a boost boosts the original
            status = self._visible_status(str(status.reblog_of_id), account)
        if status.visibility not in ("public", "unlisted"):
            raise ApiError(403, NOT_ALLOWED)
        existing = self._boost_by(status, account)
        if existing is not None:
            return 200, self._status_entity(existing, account), []
        visibility = str(call.request.params.get("visibility") or account.default_visibility)
        if visibility not in VISIBILITIES or visibility == "direct":
            visibility = "public"
        now = call.now
        boost = Status(
            id=self._next_id(now),
            account=account,
            text="",
            spoiler_text="",
            visibility=visibility,
            language=None,
            sensitive=False,
            created_at=now,
            content="",
            mentions=[],
            tags=[],
            application=account.app_name,
            reblog_of_id=status.id,
        )
        self._statuses[boost.id] = boost
        self._boosts.setdefault(status.id, {})[account.id] = boost.id
        return 200, self._status_entity(boost, account), []

    def _api_unreblog(self, call: Call) -> Result:
        account, status = self._acting_on(call)
        boost = self._boost_by(status, account)
        if boost is not None:
            boost.deleted = True
            del self._boosts[status.id][account.id]
        return 200, self._status_entity(status, account), []

    def _acting_on(self, call: Call) -> tuple[Account, Status]:
        """The caller (a token is required) and the status it acts on (404 unless visible)."""
        if call.account is None:
            raise ApiError(401, INVALID_TOKEN)
        return call.account, self._visible_status(call.args[0], call.account)

    def _boost_by(self, status: Status, account: Account) -> Status | None:
        boost_id = self._boosts.get(status.id, {}).get(account.id)
        boost = self._statuses.get(boost_id) if boost_id is not None else None
        return boost if boost is not None and not boost.deleted else None
