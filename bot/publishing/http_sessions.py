"""One HTTP connection pool per Mastodon server, shared by every account on it.

Each account used to open its own pool, so 50 accounts on one instance kept 50 connections to
it. A shared session keeps at most ``POST_CONCURRENCY_PER_SERVER`` (the lanes never send more
at once to one server); the token travels per request, so accounts never see each other's.

Proxy settings are read from the environment once per server instead of on every request
(requests would scan the whole environment twice per request: with hundreds of
``ACCOUNTS__*`` variables that was most of the worker's CPU in the many-accounts benchmark).
"""

from __future__ import annotations

import os
import threading
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

_SESSIONS: dict[str, requests.Session] = {}
_LOCK = threading.Lock()


def session_for(base_url: str, pool_size: int) -> requests.Session:
    """The shared session for ``base_url``'s host (created on first use)."""
    host = urlsplit(base_url).netloc.lower()
    with _LOCK:
        session = _SESSIONS.get(host)
        if session is None:
            session = requests.Session()
            session.proxies.update(requests.utils.get_environ_proxies(base_url))
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            if bundle:
                session.verify = bundle
            session.trust_env = False  # read above, once; not on every request
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, pool_size))
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            _SESSIONS[host] = session
        return session


def close_all() -> None:
    """Close every shared session (the process is done with the servers)."""
    with _LOCK:
        sessions = list(_SESSIONS.values())
        _SESSIONS.clear()
    for session in sessions:
        session.close()
