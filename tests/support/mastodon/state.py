"""The Mastodon test server's state: configuration, accounts, statuses, clock, ids, counters."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tests.support.mastodon.media import Media
from tests.support.mastodon.model import Account, RateLimit, Status, iso_us, utcnow

__all__ = ["ServerState"]


class ServerState:
    """What the application knows, without HTTP: the base of :class:`MastodonTestServer`."""

    def __init__(
        self,
        *,
        max_characters: int = 500,
        characters_reserved_per_url: int = 23,
        version: str = "4.6.4",
    ) -> None:
        self.max_characters = max_characters
        self.characters_reserved_per_url = characters_reserved_per_url
        self.version = version
        self.instance_v2_enabled = True
        self.instance_error: int | None = None
        self.delay = 0.0
        self.clock: Callable[[], datetime] = utcnow
        self.idempotency_ttl = 3600.0
        self.rate_limits: dict[str, RateLimit] = {
            "general": RateLimit(300, 300),
            "statuses": RateLimit(300, 3 * 3600),
            "deletes": RateLimit(30, 1800),
            "media": RateLimit(30, 1800),
            "unauthenticated": RateLimit(300, 300),
        }
        self._offset = 0.0
        self._lock = threading.RLock()
        self._accounts: dict[int, Account] = {}
        self._tokens: dict[str, Account] = {}
        self._statuses: dict[int, Status] = {}
        self._media: dict[int, Media] = {}
        #: boosted status id -> booster's account id -> the boost's status id
        self._boosts: dict[int, dict[int, int]] = {}
        #: ``api_versions.mastodon`` in /api/v2/instance (7 and up: quote_approval_policy)
        self.api_version = 11
        self._idempotency: dict[tuple[int, str], tuple[int, datetime]] = {}
        self._counters: dict[tuple[str, str, int], int] = {}
        self._last_id = 0
        self._sequence = itertools.count()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: entities link to it (provided by the HTTP side)."""
        raise NotImplementedError

    @property
    def domain(self) -> str:
        """``127.0.0.1:PORT`` (provided by the HTTP side)."""
        raise NotImplementedError

    # -- clock -----------------------------------------------------------------------------

    def now(self) -> datetime:
        moment = self.clock()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment + timedelta(seconds=self._offset)

    def advance(self, seconds: float) -> None:
        """Move the server's clock forward (rate-limit windows, idempotency expiry)."""
        with self._lock:
            self._offset += seconds

    # -- ids and lookups -------------------------------------------------------------------

    def _next_id(self, now: datetime) -> int:
        candidate = (int(now.timestamp() * 1000) << 16) | (next(self._sequence) & 0xFFFF)
        self._last_id = max(candidate, self._last_id + 1)
        return self._last_id

    def _find_account(self, username: str) -> Account | None:
        for account in self._accounts.values():
            if account.username.lower() == username.lower():
                return account
        return None

    def _live_statuses(self, account: Account) -> list[Status]:
        return [s for s in self._statuses.values() if s.account is account and not s.deleted]

    def _reblogs_of(self, status: Status) -> list[Status]:
        """The live boosts of ``status`` (one per account at most)."""
        boosts = (self._statuses.get(i) for i in self._boosts.get(status.id, {}).values())
        return [s for s in boosts if s is not None and not s.deleted]

    # -- rate-limit counters ---------------------------------------------------------------

    def _window(self, family: str, now: datetime) -> tuple[RateLimit, int]:
        limit = self.rate_limits[family]
        return limit, int(now.timestamp()) // limit.period

    def _count(self, family: str, subject: str, now: datetime, *, hit: bool) -> int:
        _limit, window = self._window(family, now)
        key = (family, subject, window)
        if hit:
            self._counters[key] = self._counters.get(key, 0) + 1
        return self._counters.get(key, 0)

    def _rate_headers(
        self, family: str, count: int, now: datetime, *, exhausted: bool = False
    ) -> list[tuple[str, str]]:
        limit = self.rate_limits[family]
        reset = now + timedelta(seconds=limit.period - int(now.timestamp()) % limit.period)
        remaining = 0 if exhausted else max(0, limit.limit - count)
        return [
            ("X-RateLimit-Limit", str(limit.limit)),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-Reset", iso_us(reset)),
        ]
