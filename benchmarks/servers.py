"""The local servers the posting benchmarks run against, each in its own process.

The Mastodon test server runs in a child process (``python -m benchmarks.servers mastodon``), so
that neither its CPU time nor its memory (it keeps every status and request) is counted in the
measured process. The PDS is the real one from ``tests/support/pds.py`` (Node, its own process).

A fleet of Mastodon test servers (``python -m benchmarks.servers mastodon-fleet JSON``) runs in
one child process too: N servers, each answering every request after ``delay`` seconds, with
the accounts spread over them; on a ``report`` line it prints what each server saw (requests by
path, statuses, TCP connections opened, the most requests handled at once).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
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


class Fleet:
    """Mastodon test servers in a child process: ``accounts`` is a list of
    ``{"name", "base_url", "token"}``; :meth:`report` asks the servers what they saw."""

    def __init__(self, proc: subprocess.Popen[str], accounts: list[dict[str, str]]) -> None:
        self._proc = proc
        self.accounts = accounts

    def report(self) -> dict[str, Any]:
        """``servers``: per server ``base_url``, ``requests`` (``"METHOD /path": count``),
        ``statuses``, ``connections_opened``, ``peak_in_flight``, ``internal_errors``;
        ``cpu_seconds``: the CPU time of the servers' process so far; ``peak_in_flight``: the
        most requests all servers handled at once."""
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._proc.stdin.write("report\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the Mastodon test servers stopped")
        return dict(json.loads(line))


@contextmanager
def mastodon_fleet(servers: int, accounts: int, delay: float) -> Iterator[Fleet]:
    """``servers`` Mastodon test servers on 127.0.0.1 in one child process, each answering
    every request after ``delay`` seconds, with ``accounts`` accounts spread round-robin over
    them (rate limits raised); stopped (stdin closed) on exit."""
    config = {"servers": servers, "accounts": accounts, "delay": delay}
    proc = subprocess.Popen(
        [PYTHON, "-m", "benchmarks.servers", "mastodon-fleet", json.dumps(config)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the Mastodon test servers did not start")
        yield Fleet(proc, json.loads(line))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


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


def _count_in_flight() -> dict[int, list[int]]:
    """Count the requests each server handles at once: ``{id(server): [now, peak]}``, and
    all servers together under the key 0."""
    from tests.support.mastodon.httpd import Handler

    counts: dict[int, list[int]] = {}
    lock = threading.Lock()
    handle = Handler._handle

    def counting(self: Any) -> None:
        keys = (id(self.app), 0)  # this server, and all of them (0)
        with lock:
            for key in keys:
                count = counts.setdefault(key, [0, 0])
                count[0] += 1
                count[1] = max(count[1], count[0])
        try:
            handle(self)
        finally:
            with lock:
                for key in keys:
                    counts[key][0] -= 1

    Handler._handle = counting  # type: ignore[method-assign]
    return counts


def _serve_fleet(config: dict[str, Any]) -> None:
    from tests.support.mastodon_server import MastodonTestServer

    in_flight = _count_in_flight()
    fleet = [MastodonTestServer() for _ in range(int(config["servers"]))]
    accounts = []
    for server in fleet:
        for family in ("general", "statuses", "deletes", "unauthenticated"):
            server.set_rate_limit(family, 10_000_000)  # type: ignore[arg-type]
        server.delay = float(config["delay"])
    for index in range(int(config["accounts"])):
        server = fleet[index % len(fleet)]
        name = f"member{index:04d}"
        token = f"fleet-token-{index:04d}-0123456789"
        server.add_account(token, name)
        accounts.append({"name": name, "base_url": server.base_url, "token": token})
    for server in fleet:
        server.start()
    try:
        print(json.dumps(accounts), flush=True)
        for line in sys.stdin:  # until the parent closes our stdin (or dies)
            if line.strip() != "report":
                continue
            report = []
            for server in fleet:
                requests = Counter(f"{r.method} {r.path}" for r in server.requests)
                report.append(
                    {
                        "base_url": server.base_url,
                        "requests": dict(requests),
                        "statuses": len(server.statuses()),
                        "connections_opened": server.connections_opened,
                        "peak_in_flight": in_flight.get(id(server), [0, 0])[1],
                        "internal_errors": len(server.internal_errors),
                    }
                )
            cpu = time.process_time()
            peak = in_flight.get(0, [0, 0])[1]
            print(
                json.dumps({"servers": report, "cpu_seconds": cpu, "peak_in_flight": peak}),
                flush=True,
            )
    finally:
        for server in fleet:
            server.stop()


if __name__ == "__main__":
    if sys.argv[1:] == ["mastodon"]:
        _serve_mastodon()
    elif sys.argv[1:2] == ["mastodon-fleet"] and len(sys.argv) == 3:
        _serve_fleet(json.loads(sys.argv[2]))
    else:
        raise SystemExit(
            "usage: python -m benchmarks.servers mastodon | mastodon-fleet JSON-CONFIG"
        )
