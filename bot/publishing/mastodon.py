"""The Mastodon publisher (Mastodon.py). Mastodon.py is imported here and nowhere else.

- Every post carries an ``Idempotency-Key`` derived from (account, slot): the server remembers
  it for an hour after a successful create and returns the original status for a repeat.
- ``ratelimit_method="throw"`` and a bounded ``request_timeout``: Mastodon.py's default waits
  (forever) and times out after 300 s. A 429 becomes a transient error whose ``retry_after`` is
  the server's ``X-RateLimit-Reset`` (an ISO-8601 time, which Mastodon.py converts to epoch).
- The account's limits come from ``GET /api/v2/instance``, then v1, then 500/23; so do the
  media limits (:mod:`bot.publishing.mastodon_media`) and the API version.
- The post's picture is attached as media with its alt text (unless ``MASTODON_MEDIA=false``);
  ``quote_approval_policy`` is sent when the instance's API version is 7 or more (4.5+).
- ``bot_mark``/``mark_bot``: the account's ``bot`` flag (``update_credentials``).
- Exceptions are translated here: ``MastodonRatelimitError`` is not a ``MastodonAPIError``.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from bot.config import Account
from bot.errors import PermanentPublishError, PublishError, TransientPublishError
from bot.logs import log_event, mask
from bot.post import MASTODON_DEFAULT_LIMITS, OutgoingPost, PlatformLimits, Published
from bot.publishing.mastodon_media import MediaLimits, MediaUploader, api_version, media_limits

log = logging.getLogger("bot.publishing.mastodon")
T = TypeVar("T")
REQUEST_TIMEOUT = 30.0
FIND_PAGES = 5  # how many pages of 40 recent statuses reconciliation looks through
#: QUOTE_POLICY → quote_approval_policy; sent from API version 7 (Mastodon 4.5) on.
QUOTE_APPROVAL = {"everyone": "public", "followers": "followers", "nobody": "nobody"}
QUOTES_FROM_API_VERSION = 7


def _status_code(exc: MastodonAPIError) -> int | None:
    args = exc.args
    return args[1] if len(args) > 1 and isinstance(args[1], int) else None


def _server_message(exc: MastodonAPIError) -> str:
    args = exc.args
    if len(args) > 3 and args[3]:
        return str(args[3])
    return str(args[0]) if args else type(exc).__name__


@contextmanager
def translated(where: str, client: Mastodon, clock: Callable[[], float]) -> Iterator[None]:
    """Map Mastodon.py's exceptions onto the bot's error tree (``where`` names the request)."""
    try:
        yield
    except MastodonRatelimitError:
        reset = client.ratelimit_reset
        wait = max(0.0, float(reset) - clock()) if reset else None
        raise TransientPublishError(
            f"{where}: rate limited", status=429, retry_after=wait
        ) from None
    except MastodonNetworkError as exc:
        raise TransientPublishError(f"{where}: network error: {mask(str(exc))}") from None
    except MastodonServerError as exc:
        status = _status_code(exc)
        raise TransientPublishError(
            f"{where}: server error: {_server_message(exc)}", status=status
        ) from None
    except MastodonUnauthorizedError as exc:
        raise PermanentPublishError(
            f"{where}: the access token was rejected ({_server_message(exc)});"
            " check MASTODON_ACCESS_TOKEN and its write:statuses scope",
            status=401,
        ) from None
    except MastodonAPIError as exc:
        status = _status_code(exc)
        message = f"{where}: {_server_message(exc)}"
        if status in (408, 425):
            raise TransientPublishError(message, status=status) from None
        raise PermanentPublishError(message, status=status) from None
    except MastodonError as exc:
        raise PermanentPublishError(f"{where}: {mask(str(exc))}") from None


class MastodonPublisher:
    """Publishes to one Mastodon account."""

    def __init__(
        self,
        account: Account,
        *,
        request_timeout: float = REQUEST_TIMEOUT,
        clock: Callable[[], float] = time.time,
        image_root: Path | None = None,
        session: Any = None,
    ) -> None:
        if not account.api_base_url or account.access_token is None:
            raise PermanentPublishError(f"account {account.name}: no Mastodon instance or token")
        self.account = account
        self.clock = clock
        self.client = Mastodon(
            api_base_url=account.api_base_url,
            access_token=account.access_token.get_secret_value(),
            ratelimit_method="throw",
            request_timeout=request_timeout,
            version_check_mode="none",
            user_agent="leavex-bot/0.1",
            session=session,
        )
        self._own_session = session is None
        self._limits: PlatformLimits | None = None
        self._media_limits = MediaLimits()
        self._api_version = 0
        self._account_id: str | int | None = None
        self.media = MediaUploader(self.client, self._translate, account.name, image_root)

    # -- errors -------------------------------------------------------------------------------

    def _translate(self, action: str) -> AbstractContextManager[None]:
        """Map Mastodon.py's exceptions onto the bot's error tree."""
        return translated(f"Mastodon ({self.account.name}) {action}", self.client, self.clock)

    translate = _translate  # for the readers of this account's counts (mastodon_engagement)

    # -- publisher ----------------------------------------------------------------------------

    @property
    def limits(self) -> PlatformLimits:
        """The instance's status limits (read once per process)."""
        if self._limits is None:
            self._limits = self._fetch_limits()
        return self._limits

    def _fetch_limits(self) -> PlatformLimits:
        for version in ("v2", "v1"):
            try:
                with self._translate(f"GET /api/{version}/instance"):
                    info = (
                        self.client.instance_v2() if version == "v2" else self.client.instance_v1()
                    )
            except PublishError as exc:
                log_event(
                    log,
                    "mastodon.instance_unavailable",
                    logging.WARNING,
                    account=self.account.name,
                    version=version,
                    error=str(exc),
                )
                continue
            limits = _limits_from(info)
            if limits is not None:
                self._media_limits = media_limits(info)
                self._api_version = api_version(info) if version == "v2" else 0
                return limits
        return MASTODON_DEFAULT_LIMITS

    @property
    def media_limits(self) -> MediaLimits:
        """What the instance takes as an image (``configuration.media_attachments``)."""
        _ = self.limits
        return self._media_limits

    @property
    def api_version(self) -> int:
        """``api_versions.mastodon`` of the instance (0: older than 4.3, or unknown)."""
        _ = self.limits
        return self._api_version

    def publish(self, post: OutgoingPost) -> Published:
        options: dict[str, Any] = {}
        _ = self.limits  # the instance's media limits and API version come with them
        if self.account.media:
            options["media_ids"] = self.media.media_ids(post, self._media_limits) or None
        if self._api_version >= QUOTES_FROM_API_VERSION:
            options["quote_approval_policy"] = QUOTE_APPROVAL[self.account.quote_policy]
        with self._translate("POST /api/v1/statuses"):
            status = self.client.status_post(
                post.text,
                language=post.language,
                visibility=self.account.visibility,
                idempotency_key=post.key,
                **options,
            )
        return Published(remote_id=str(status["id"]), url=status.get("url") or status.get("uri"))

    def find(self, post: OutgoingPost, since: dt.datetime) -> Published | None:
        """Look for the post among the account's own recent statuses (text and language),
        once the server may have forgotten its Idempotency-Key."""
        wanted = _normalize(post.text)
        horizon = since - dt.timedelta(minutes=10)
        with self._translate("GET /api/v1/accounts/:id/statuses"):
            if self._account_id is None:
                self._account_id = self.client.account_verify_credentials()["id"]
            page = self.client.account_statuses(
                self._account_id, limit=40, exclude_replies=True, exclude_reblogs=True
            )
            for _ in range(FIND_PAGES):
                if not page:
                    break
                for status in page:
                    text = _normalize(_html_to_text(status["content"]))
                    if text == wanted and status.get("language") in (post.language, None):
                        return Published(str(status["id"]), status.get("url") or status.get("uri"))
                oldest = page[-1]["created_at"]
                if isinstance(oldest, dt.datetime) and oldest < horizon:
                    break
                page = self.client.fetch_next(page)
        return None

    def delete(self, remote_id: str) -> bool:
        """Delete a status; ``False`` if it was already gone."""
        return self._unless_missing("DELETE /api/v1/statuses", self.client.status_delete, remote_id)

    def exists(self, remote_id: str) -> bool:
        return self._unless_missing("GET /api/v1/statuses", self.client.status, remote_id)

    def _unless_missing(self, action: str, call: Callable[[str], object], remote_id: str) -> bool:
        """Run ``call``; ``False`` if the status does not exist (404)."""
        try:
            with self._translate(action):
                call(remote_id)
        except PermanentPublishError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def verify(self) -> dict[str, Any]:
        """Check the credentials without posting: who we are and the instance's limits."""
        with self._translate("GET /api/v1/accounts/verify_credentials"):
            me = self.client.account_verify_credentials()
        limits = self.limits
        return {
            "user": f"@{me['acct']}",
            "max_characters": limits.max_graphemes,
            "characters_reserved_per_url": limits.url_length,
        }

    def bot_mark(self) -> tuple[str, bool]:
        """The account's handle and whether it is marked as automated (the ``bot`` flag)."""
        with self._translate("GET /api/v1/accounts/verify_credentials"):
            me = self.client.account_verify_credentials()
        return f"@{me['acct']}", bool(me.get("bot"))

    def mark_bot(self) -> bool:
        """Set the ``bot`` flag (other profile fields stay); ``False`` if it was set already."""
        if self.bot_mark()[1]:
            return False
        with self._translate("PATCH /api/v1/accounts/update_credentials"):
            self.client.account_update_credentials(bot=True)
        return True

    def close(self) -> None:
        session = getattr(self.client, "session", None)
        if session is not None and self._own_session:  # a shared one outlives the account
            session.close()


def _html_to_text(content: str) -> str:
    """Status HTML back to text: paragraphs and line breaks, tags dropped, entities decoded.
    Mastodon keeps a link's full URL in hidden spans, so the URL text survives."""
    text = re.sub(r"<br\s*/?>", "\n", content)
    text = re.sub(r"</p>\s*<p>", "\n\n", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _normalize(text: str) -> str:
    return " ".join(text.split())


def _limits_from(info: Any) -> PlatformLimits | None:
    def get(obj: Any, key: str) -> Any:
        if obj is None:
            return None
        return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)

    statuses = get(get(info, "configuration"), "statuses")
    maximum = get(statuses, "max_characters") or get(info, "max_toot_chars")
    per_url = get(statuses, "characters_reserved_per_url")
    if not isinstance(maximum, int) or maximum <= 0:
        return None
    if not isinstance(per_url, int) or per_url < 0:
        per_url = 23
    return PlatformLimits(max_graphemes=maximum, url_length=per_url)
