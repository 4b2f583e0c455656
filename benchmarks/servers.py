"""The local servers the posting benchmarks run against, each in its own process.

The Mastodon test server runs in a child process (``python -m benchmarks.servers mastodon``), so
that neither its CPU time nor its memory (it keeps every status and request) is counted in the
measured process. The PDS is the real one from ``tests/support/pds.py`` (Node, its own process).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from benchmarks.common import PYTHON, ROOT

MASTODON_TOKEN = "bench-token"  # a throw-away token of the loopback test server


@dataclass(frozen=True)
class MastodonInfo:
    base_url: str
    token: str
    username: str


@contextmanager
def mastodon_server() -> Iterator[MastodonInfo]:
    """A Mastodon test server on 127.0.0.1 in a child process, rate limits raised so that
    thousands of posts fit; stopped (stdin closed) on exit."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "benchmarks.servers", "mastodon"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the Mastodon test server did not start")
        info = json.loads(line)
        yield MastodonInfo(info["base_url"], info["token"], info["username"])
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@dataclass(frozen=True)
class BlueskyInfo:
    url: str
    handle: str
    password: str


@contextmanager
def pds_server() -> Iterator[tuple[Any, BlueskyInfo]]:
    """The real test PDS (installed in ~/.cache/leavex-bot-tests) with one account."""
    sys.path.insert(0, str(ROOT))
    from tests.support.pds import PDS

    with PDS(log=None) as pds:
        account = pds.create_account()
        yield pds, BlueskyInfo(pds.url, account.handle, account.password)


def _serve_mastodon() -> None:
    from tests.support.mastodon_server import MastodonTestServer

    server = MastodonTestServer()
    for family in ("general", "statuses", "deletes", "unauthenticated"):
        server.set_rate_limit(family, 10_000_000)  # type: ignore[arg-type]
    server.add_account(MASTODON_TOKEN, "bench")
    server.start()
    try:
        print(
            json.dumps({"base_url": server.base_url, "token": MASTODON_TOKEN, "username": "bench"}),
            flush=True,
        )
        sys.stdin.read()  # until the parent closes our stdin (or dies)
    finally:
        server.stop()


if __name__ == "__main__":
    if sys.argv[1:] != ["mastodon"]:
        raise SystemExit("usage: python -m benchmarks.servers mastodon")
    _serve_mastodon()
