"""Sending an alert through Apprise to every URL of ``ALERT_URLS`` (e-mail, ntfy, Matrix,
Slack, Telegram, a JSON webhook …).

Apprise is imported only when an alert is sent. The URLs usually hold a token or a password:
they are registered as secrets (masked in every log line) and never shown. A URL Apprise does
not understand is reported by its position in the list, not by its text.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import Any, Literal

from bot.logs import log_event, register_secret

log = logging.getLogger("bot.alerts")
Level = Literal["failure", "success", "info"]


def split_urls(value: str) -> list[str]:
    """The URLs of ``ALERT_URLS``: separated by spaces, commas or new lines."""
    return [url for url in re.split(r"[\s,]+", value) if url]


def unknown_urls(value: str) -> list[int]:
    """The positions (from 1) of the entries of ``ALERT_URLS`` that Apprise does not know,
    checked offline (nothing is sent)."""
    import apprise

    logging.getLogger("apprise").setLevel(logging.CRITICAL)  # its own error names the URL
    return [
        position
        for position, url in enumerate(split_urls(value), 1)
        if apprise.Apprise.instantiate(url) is None
    ]


@cache
def _apprise(urls: tuple[str, ...]) -> Any:
    import apprise

    # Apprise logs request details at debug level; ours are masked, its own are not needed.
    logging.getLogger("apprise").setLevel(logging.WARNING)
    notifier = apprise.Apprise()
    for position, url in enumerate(urls, 1):
        register_secret(url)
        if not notifier.add(url):
            log_event(
                log,
                "alert.bad_url",
                logging.ERROR,
                position=position,
                error="ALERT_URLS: this entry is not a URL Apprise knows (see its services)",
            )
    return notifier


def send(urls: str, title: str, body: str, level: Level = "failure") -> bool:
    """Send one notification to every URL; ``False`` if any of them failed (logged)."""
    from apprise import NotifyType

    notifier = _apprise(tuple(split_urls(urls)))
    if not len(notifier):
        return False
    kind = {
        "failure": NotifyType.FAILURE,
        "success": NotifyType.SUCCESS,
        "info": NotifyType.INFO,
    }[level]
    ok = bool(notifier.notify(body=body, title=title, notify_type=kind))
    log_event(
        log,
        "alert.sent" if ok else "alert.failed",
        logging.INFO if ok else logging.ERROR,
        title=title,
    )
    return ok
