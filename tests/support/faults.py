"""The faults the test servers inject: one list for the Mastodon test server and the proxy.

``MastodonTestServer.inject(kind, ...)`` and ``FaultProxy.inject(kind, ...)`` take the same
kind names (plain strings), with the same meaning:

* ``rate_limit``: answered 429 (with the server's rate-limit headers); nothing happens;
* ``error_500`` / ``error_502`` / ``error_503``: answered with that status; nothing happens;
* ``drop``: the connection is closed without an answer; nothing happens;
* ``lost_response``: the request IS processed (a post is made), then the connection is closed
  without an answer, like a reply lost on the way back;
* ``lost_response_502``: processed, then answered 502, like a gateway that lost the reply;
* ``delay``: processed and answered normally, only late (the ``delay`` given to ``inject``).

"Nothing happens" means the request never reaches the server's application (for the proxy:
the real server behind it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

__all__ = [
    "ANSWER_STATUS",
    "FAULT_KINDS",
    "NO_ANSWER",
    "REACHES_SERVER",
    "FaultKind",
    "fault_kind",
]

FaultKind = Literal[
    "rate_limit",
    "error_500",
    "error_502",
    "error_503",
    "drop",
    "lost_response",
    "lost_response_502",
    "delay",
]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
"""Every fault kind, in the order above."""

REACHES_SERVER: frozenset[FaultKind] = frozenset({"lost_response", "lost_response_502", "delay"})
"""Faults whose request is processed anyway (the others never reach the server)."""

NO_ANSWER: frozenset[FaultKind] = frozenset({"drop", "lost_response"})
"""Faults answered by closing the connection without a response."""

ANSWER_STATUS: Mapping[FaultKind, int] = {
    "rate_limit": 429,
    "error_500": 500,
    "error_502": 502,
    "error_503": 503,
    "lost_response_502": 502,
}
"""The status a fault answers with instead of the server's own answer."""


def fault_kind(kind: str) -> FaultKind:
    """``kind`` if it names a fault; ValueError ("unknown fault ...") otherwise."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
    return kind
