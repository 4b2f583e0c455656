"""What a Mastodon server says about itself, asked once per server and shared by every account on
it: the status limits, the image limits, the API version and the software version.

``GET /api/v2/instance`` is asked (``/api/v1/instance`` when v2 is missing or says nothing of
the limits) by the first account that needs it; the others on the same server wait for that
answer instead of asking again, and it is kept for :data:`KEEP_S` (limits change with a server's
upgrade, not between two slots). A failed request is not kept: the next account asks again, and
the post meanwhile counts with Mastodon's defaults (500 characters, 23 per link).

The software version is what Mastodon.py needs to choose its endpoints (``/api/v2/media``
from 3.1.4): given to the client, it spares every account the two instance requests Mastodon.py
would make itself. With 500 accounts on 10 servers that was 1,000 requests of 2,500 in a slot.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from bot.config import Account
from bot.errors import PublishError
from bot.logs import log_event
from bot.post import MASTODON_DEFAULT_LIMITS, PlatformLimits
from bot.publishing.mastodon_media import MediaLimits, api_version, media_limits

log = logging.getLogger("bot.publishing.mastodon")
#: How long a server's answer is used (seconds).
KEEP_S = 6 * 3600.0
_VERSION = re.compile(r"\d+\.\d+\.\d+")


@dataclass(frozen=True)
class InstanceInfo:
    limits: PlatformLimits
    media: MediaLimits
    api_version: int
    #: "4.3.2" (Mastodon-compatible servers report such a version first); ``None`` if unknown
    version: str | None


DEFAULTS = InstanceInfo(MASTODON_DEFAULT_LIMITS, MediaLimits(), 0, None)


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def limits_from(info: Any) -> PlatformLimits | None:
    """The status limits in an instance entity (v2 or v1); ``None`` if it gives none."""
    statuses = _get(_get(info, "configuration"), "statuses")
    maximum = _get(statuses, "max_characters") or _get(info, "max_toot_chars")
    per_url = _get(statuses, "characters_reserved_per_url")
    if not isinstance(maximum, int) or maximum <= 0:
        return None
    if not isinstance(per_url, int) or per_url < 0:
        per_url = 23
    return PlatformLimits(max_graphemes=maximum, url_length=per_url)


def info_from(entity: Any, v2: bool) -> InstanceInfo | None:
    """What an instance entity says; ``None`` if it does not give the status limits."""
    limits = limits_from(entity)
    if limits is None:
        return None
    version = _VERSION.search(str(_get(entity, "version") or ""))
    return InstanceInfo(
        limits,
        media_limits(entity),
        api_version(entity) if v2 else 0,
        version.group() if version else None,
    )


def ask_instance(
    client: Any, translate: Callable[[str], AbstractContextManager[None]], account: Account
) -> InstanceInfo | None:
    """Ask the server with ``client``: v2, else v1; ``None`` if neither answers with limits."""
    for version in ("v2", "v1"):
        try:
            with translate(f"GET /api/{version}/instance"):
                entity = client.instance_v2() if version == "v2" else client.instance_v1()
        except PublishError as exc:
            log_event(
                log,
                "mastodon.instance_unavailable",
                logging.WARNING,
                account=account.name,
                version=version,
                error=str(exc),
            )
            continue
        info = info_from(entity, v2=version == "v2")
        if info is not None:
            return info
    return None


class _Entry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.info: InstanceInfo | None = None
        self.until = 0.0


_ENTRIES: dict[str, _Entry] = {}
_ENTRIES_LOCK = threading.Lock()


def shared_info(
    base_url: str,
    ask: Callable[[], InstanceInfo | None],
    clock: Callable[[], float] = time.monotonic,
) -> InstanceInfo:
    """The server's info: kept from an earlier ``ask`` (by any account on ``base_url``), or
    asked now; :data:`DEFAULTS` when the server did not answer (not kept)."""
    key = base_url.rstrip("/").lower()
    with _ENTRIES_LOCK:
        entry = _ENTRIES.setdefault(key, _Entry())
    with entry.lock:  # one account asks; the others on this server wait for its answer
        if entry.info is not None and clock() < entry.until:
            return entry.info
        info = ask()
        if info is None:
            return DEFAULTS
        entry.info, entry.until = info, clock() + KEEP_S
        return info


def forget_all() -> None:
    """Forget every server's answer (tests start each server afresh)."""
    with _ENTRIES_LOCK:
        _ENTRIES.clear()
