"""The Mastodon API test server (kept as an import path; the code is in tests.support.mastodon).

``from tests.support.mastodon_server import MastodonTestServer`` and the other names below work
as before; see :mod:`tests.support.mastodon` for the server's documentation.
"""

from __future__ import annotations

from tests.support.mastodon import (
    FAULT_KINDS,
    FaultKind,
    InjectedFault,
    MastodonTestServer,
    RateFamily,
    RateLimit,
    RecordedRequest,
    count_status_length,
    render_status_content,
)
from tests.support.mastodon.text import extract_urls as _extract_urls

__all__ = [
    "FAULT_KINDS",
    "FaultKind",
    "InjectedFault",
    "MastodonTestServer",
    "RateFamily",
    "RateLimit",
    "RecordedRequest",
    "_extract_urls",
    "count_status_length",
    "render_status_content",
]
