"""The counts of a Mastodon account's statuses: favourites, boosts, replies, quotes.

- ``GET /api/v1/statuses?id[]=…`` reads up to 20 statuses per request (Mastodon 4.3 and later;
  more ids are refused with 422). It answers the statuses that exist and that the caller may
  see; with the account's own token that is every status of the account that is not deleted,
  so an id the answer leaves out is recorded as deleted without another request.
- A server without that route (older than 4.3: 404) is read one status at a time, and the
  reader remembers it.
- **Within rate limits**: Mastodon allows 300 requests per 5 minutes per token, shared with
  posting. The reader stops (``TransientPublishError`` with the wait until the window resets)
  before the remaining budget falls under :data:`RESERVE`, so a post never finds it spent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from bot.errors import PermanentPublishError, TransientPublishError
from bot.publishing.engagement import Counts, Reading, chunks
from bot.publishing.mastodon import MastodonPublisher

#: ids per ``GET /api/v1/statuses`` (Mastodon's DEFAULT_STATUSES_LIMIT)
BATCH = 20
#: requests of the 5-minute budget left to posting
RESERVE = 30


def counts_of(status: dict[str, Any]) -> Counts:
    def number(key: str) -> int:
        value = status.get(key)
        return value if isinstance(value, int) and value >= 0 else 0

    return Counts(
        likes=number("favourites_count"),
        reposts=number("reblogs_count"),
        replies=number("replies_count"),
        quotes=number("quotes_count"),  # Mastodon 4.5 and later
    )


class MastodonEngagement:
    """Reads one Mastodon account's statuses in batches of :data:`BATCH`."""

    batch_size = BATCH

    def __init__(
        self,
        publisher: MastodonPublisher,
        *,
        reserve: int = RESERVE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.publisher = publisher
        self.client = publisher.client
        self.reserve = reserve
        self.clock = clock
        self.requests = 0
        #: whether the server has the multi-id route (None: not tried yet)
        self.multi: bool | None = None
        self._budget: tuple[Any, Any] = (None, None)

    def read(self, remote_ids: Sequence[str]) -> Iterator[dict[str, Reading]]:
        for batch in chunks(list(dict.fromkeys(remote_ids)), BATCH):
            if self.multi is not False:
                found = self._many(batch)
                if found is not None:
                    yield found
                    continue
            yield {remote_id: self._one(remote_id) for remote_id in batch}

    def _many(self, batch: Sequence[str]) -> dict[str, Reading] | None:
        """One request for the batch; ``None`` if the server has no multi-id route."""
        try:
            statuses = self._call("GET /api/v1/statuses", lambda: self.client.statuses(batch))
        except PermanentPublishError as exc:
            if exc.status in (404, 405) and self.multi is None:
                self.multi = False
                return None
            raise
        self.multi = True
        found = {str(s["id"]): Reading("live", counts_of(s)) for s in statuses}
        # The owner sees all its statuses: what the answer leaves out is deleted.
        return {remote_id: found.get(remote_id, Reading("deleted")) for remote_id in batch}

    def _one(self, remote_id: str) -> Reading:
        try:
            status = self._call("GET /api/v1/statuses/:id", lambda: self.client.status(remote_id))
        except PermanentPublishError as exc:
            if exc.status in (404, 410):
                return Reading("deleted")
            raise
        return Reading("live", counts_of(status))

    def _call(self, action: str, request: Callable[[], Any]) -> Any:
        self._check_budget()
        self.requests += 1
        try:
            with self.publisher.translate(action):
                return request()
        finally:
            # The budget our reads draw on, as the server stated it in answer to one of them
            # (other requests on the same client may report another family's budget).
            self._budget = (
                getattr(self.client, "ratelimit_remaining", None),
                getattr(self.client, "ratelimit_reset", None),
            )

    def _check_budget(self) -> None:
        remaining, reset = self._budget
        if not isinstance(remaining, int) or remaining >= self.reserve:
            return
        wait = max(0.0, float(reset) - self.clock()) if reset else None
        if wait == 0.0:
            return  # the window has reset since that answer
        raise TransientPublishError(
            f"Mastodon ({self.publisher.account.name}): {remaining} requests left in this"
            f" rate-limit window, kept for posting",
            status=429,
            retry_after=wait,
        )
