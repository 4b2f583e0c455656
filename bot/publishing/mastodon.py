"""The Mastodon publisher (Mastodon.py). Mastodon.py is imported here and nowhere else.

- Every post carries an ``Idempotency-Key`` derived from (account, slot): the server remembers
  it for an hour after a successful create and returns the original status for a repeat.
- ``ratelimit_method="throw"`` and a bounded ``request_timeout``: Mastodon.py's default waits
  (forever) and times out after 300 s. A 429 becomes a transient error whose ``retry_after`` is
  the server's ``X-RateLimit-Reset`` (an ISO-8601 time, which Mastodon.py converts to epoch).
- The account's limits come from ``GET /api/v2/instance``, then v1, then 500/23; so do the
  media limits (:mod:`bot.publishing.mastodon_media`), the API version and the software version
  the client is made with; asked once per server (:mod:`bot.publishing.mastodon_instance`).
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

import requests
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
from bot.errors import PermanentPublishError, TransientPublishError
from bot.logs import mask
from bot.post import OutgoingPost, PlatformLimits, Published
from bot.publishing.mastodon_instance import DEFAULTS, InstanceInfo, ask_instance, shared_info
from bot.publishing.mastodon_media import MediaLimits, MediaUploader

log = logging.getLogger("bot.publishing.mastodon")
T = TypeVar("T")
REQUEST_TIMEOUT = 30.0
FIND_PAGES = 5  # how many pages of 40 recent statuses reconciliation looks through
#: QUOTE_POLICY → quote_approval_policy; sent from API version 7 (Mastodon 4.5) on.
QUOTE_APPROVAL = {"everyone": "public", "followers": "followers", "nobody": "nobody"}
QUOTES_FROM_API_VERSION = 7
#: The server's version when it does not say (its instance request failed): any Mastodon
#: still running is newer (4.0: /api/v2/media and /api/v2/instance), and it only decides
#: which endpoints Mastodon.py calls.
ASSUMED_VERSION = "4.0.0"
#: After a failed instance request, the account asks its server again this much later.
ASK_AGAIN_S = 300.0


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
        self.request_timeout = request_timeout
        self._own_session = session is None
        self.session = requests.Session() if session is None else session
        self._client: Mastodon | None = None
        self._ask_again_at = 0.0
        self._account_id: str | int | None = None
        self.media = MediaUploader(lambda: self.client, self._translate, account.name, image_root)

    def _new_client(self, version: str | None) -> Mastodon:
        """A client that knows the server's version, or assumes :data:`ASSUMED_VERSION`: left
        to find it itself, Mastodon.py asks the server on the first upload, and when the
        server does not answer it asks again and again until Python's recursion limit."""
        assert self.account.api_base_url
        assert self.account.access_token is not None
        version = version or ASSUMED_VERSION
        client = Mastodon(
            api_base_url=self.account.api_base_url,
            access_token=self.account.access_token.get_secret_value(),
            ratelimit_method="throw",
            request_timeout=self.request_timeout,
            version_check_mode="none",
            mastodon_version=version,  # known: Mastodon.py asks the server nothing itself
            user_agent="leavex-bot/0.1",
            session=self.session,
        )
        # with version_check_mode="none" Mastodon.py would leave it at 1.0.0
        client.mastodon_major, client.mastodon_minor, client.mastodon_patch = (
            int(part) for part in version.split(".")
        )
        return client

    @property
    def client(self) -> Mastodon:
        """The account's client, made once the server's version is known (or not to be had)."""
        if self._client is None:
            self._client = self._new_client(self.instance.version)
        return self._client

    # -- errors -------------------------------------------------------------------------------

    def _translate(self, action: str) -> AbstractContextManager[None]:
        """Map Mastodon.py's exceptions onto the bot's error tree."""
        return translated(f"Mastodon ({self.account.name}) {action}", self.client, self.clock)

    translate = _translate  # for the readers of this account's counts (mastodon_engagement)

    # -- publisher ----------------------------------------------------------------------------

    @property
    def instance(self) -> InstanceInfo:
        """What the account's server says about itself (asked once per server and
        :data:`~bot.publishing.mastodon_instance.KEEP_S`, shared by its accounts)."""
        if time.monotonic() < self._ask_again_at:
            return DEFAULTS
        assert self.account.api_base_url
        info = shared_info(self.account.api_base_url, self._ask_instance)
        if info is DEFAULTS:  # no answer: asked again after a while, not for every use
            self._ask_again_at = time.monotonic() + ASK_AGAIN_S
        return info

    def _ask_instance(self) -> InstanceInfo | None:
        asking = self._client or self._new_client(None)
        where = f"Mastodon ({self.account.name})"
        return ask_instance(
            asking, lambda action: translated(f"{where} {action}", asking, self.clock), self.account
        )

    @property
    def limits(self) -> PlatformLimits:
        """The instance's status limits."""
        return self.instance.limits

    @property
    def media_limits(self) -> MediaLimits:
        """What the instance takes as an image (``configuration.media_attachments``)."""
        return self.instance.media

    @property
    def api_version(self) -> int:
        """``api_versions.mastodon`` of the instance (0: older than 4.3, or unknown)."""
        return self.instance.api_version

    def publish(self, post: OutgoingPost) -> Published:
        options: dict[str, Any] = {}
        if self.account.media:
            options["media_ids"] = self.media.media_ids(post, self.media_limits) or None
        if self.api_version >= QUOTES_FROM_API_VERSION:
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
        if self._own_session:  # a shared one outlives the account
            self.session.close()


def _html_to_text(content: str) -> str:
    """Status HTML back to text: paragraphs and line breaks, tags dropped, entities decoded.
    Mastodon keeps a link's full URL in hidden spans, so the URL text survives."""
    text = re.sub(r"<br\s*/?>", "\n", content)
    text = re.sub(r"</p>\s*<p>", "\n\n", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _normalize(text: str) -> str:
    return " ".join(text.split())
