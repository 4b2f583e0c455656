"""A whole local Bluesky for leavex-bot's tests: PLC, PDS and the real ``bsky`` AppView.

Followers read posts through Bluesky's AppView, not the PDS. This fixture runs the AppView
(``@atproto/dev-env``'s ``TestNetwork``: PLC, PDS, the ``bsky`` dataplane + API + firehose
indexer, bsync and Ozone) from ``tests/appview/serve.mjs`` under Node 22, with a throwaway
PostgreSQL server from :mod:`tests.support.postgres`. Everything listens on 127.0.0.1 on free
ports; every start has fresh state that ``stop()`` deletes.

Install: the same npm packages as the test PDS (``@atproto/dev-env`` holds ``TestNetwork``),
so :func:`install` is :func:`tests.support.pds.install` (cached in ``~/.cache/leavex-bot-tests``;
``python -m tests.support.appview install`` for CI). About 6 s to start, ~400 MB of memory.

Use::

    @pytest.fixture(scope="module")
    def appview() -> Iterator[AppView]:
        yield from appview_server()

    def test_timeline(appview: AppView) -> None:
        bot = appview.create_account()
        ...
        appview.process_all()                        # the AppView has indexed everything
        appview.get("app.bsky.feed.getTimeline", token=follower.token)

When the install or PostgreSQL is missing: skipped outside CI, an error under ``CI``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn, cast

from tests.support import pds as pds_install
from tests.support.postgres import PostgresServer, find_postgres_binaries
from tests.support.server import (
    LoopbackServer,
    PortTaken,
    free_ports,
    require_loopback,
    stop_process,
)

LAUNCHER = Path(__file__).resolve().parent.parent / "appview" / "serve.mjs"
START_TIMEOUT_S = 120.0  # about 6 s; the first start after boot may take longer
STOP_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 30.0


class AppViewError(RuntimeError):
    """The AppView stack failed to start, or answered an error."""


@dataclass(frozen=True)
class User:
    """An account on the stack's PDS, logged in (``token``: its access JWT)."""

    handle: str
    password: str
    did: str
    token: str


def install() -> Path:
    """Node 22 + @atproto/dev-env, shared with the PDS fixture (one install, one pin)."""
    return pds_install.install()


class AppView(LoopbackServer):
    """PLC + PDS + AppView on 127.0.0.1 with their own PostgreSQL; a context manager."""

    ready_timeout = START_TIMEOUT_S
    ready_interval = 0.1
    launch_attempts = 3

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._pg: PostgresServer | None = None
        self._dir: Path | None = None
        self._log: IO[bytes] | None = None
        self._info: dict[str, Any] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _launch(self) -> None:
        self._teardown()
        app_dir = install()
        self._dir = Path(tempfile.mkdtemp(prefix="leavex-appview-"))
        (self._dir / "tmp").mkdir()
        self._pg = PostgresServer(extra_settings={"max_connections": "200"}).start()
        database = self._pg.create_database("bsky")
        ports = free_ports(5)
        env = {
            "PATH": str(pds_install.node_binary(app_dir).parent),
            "HOME": str(self._dir),
            "APP_DIR": str(app_dir),
            "PLC_PORT": str(ports[0]),
            "PDS_PORT": str(ports[1]),
            "BSKY_PORT": str(ports[2]),
            "OZONE_PORT": str(ports[3]),
            "CTL_PORT": str(ports[4]),
            "DB_POSTGRES_URL": database,
            "DB_POSTGRES_SCHEMA": "appview",
            "INFO_FILE": str(self._dir / "info.json"),
            "EXIT_ON_STDIN_EOF": "1",
            "TMPDIR": str(self._dir / "tmp"),
            "LOG_ENABLED": "false",
        }
        self._log = (self._dir / "server.log").open("wb")
        self._proc = subprocess.Popen(
            [str(pds_install.node_binary(app_dir)), str(LAUNCHER)],
            cwd=app_dir,
            env=env,
            stdin=subprocess.PIPE,  # closes when this process dies: the launcher then exits
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _ready(self) -> bool:
        assert self._proc is not None and self._dir is not None
        info_file = self._dir / "info.json"
        if info_file.is_file():
            info = cast(dict[str, Any], json.loads(info_file.read_text(encoding="utf-8")))
            for key in ("pdsUrl", "appviewUrl", "controlUrl", "plcUrl"):
                require_loopback(str(info[key]))
            self._info = info
            return True
        code = self._proc.poll()
        if code is not None:
            tail = self._tail()
            if "EADDRINUSE" in tail:
                raise PortTaken(tail)
            raise AppViewError(f"the AppView stack exited with code {code}:\n{tail}")
        return False

    def _tail(self) -> str:
        if self._dir is None:
            return ""
        with contextlib.suppress(OSError):
            lines = (self._dir / "server.log").read_text(errors="replace").splitlines()
            return "\n".join(lines[-30:])
        return ""

    def _start_error(self, problem: str) -> Exception:
        return AppViewError(f"the AppView stack {problem}:\n{self._tail()}")

    def _teardown(self) -> None:
        proc, self._proc = self._proc, None
        stop_process(proc, STOP_TIMEOUT_S)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._pg is not None:
            self._pg.stop()
            self._pg = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._info = None

    # -- facts and helpers -----------------------------------------------------------------

    @property
    def info(self) -> dict[str, Any]:
        if self._info is None:
            raise AppViewError("the AppView stack is not running")
        return self._info

    @property
    def pds_url(self) -> str:
        return str(self.info["pdsUrl"])

    @property
    def appview_url(self) -> str:
        return str(self.info["appviewUrl"])

    def call(
        self,
        method: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        token: str | None = None,
        base: str | None = None,
    ) -> dict[str, Any]:
        """An XRPC call on the PDS (or ``base``): GET with ``params``, POST with ``body``."""
        url = f"{base or self.pds_url}/xrpc/{method}"
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
                return cast(dict[str, Any], json.loads(response.read() or b"{}"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")
            raise AppViewError(f"{method} answered {exc.code}: {detail}") from exc

    def create_account(self, handle: str | None = None) -> User:
        """A new account (random ``*.test`` handle unless given), logged in."""
        handle = handle or f"u{secrets.token_hex(5)}.test"
        password = secrets.token_urlsafe(16)
        created = self.call(
            "com.atproto.server.createAccount",
            body={"handle": handle, "email": f"{handle}@example.com", "password": password},
        )
        return User(str(created["handle"]), password, str(created["did"]), created["accessJwt"])

    def follow(self, follower: User, subject: User) -> None:
        """``follower`` follows ``subject`` (an app.bsky.graph.follow record)."""
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        self.call(
            "com.atproto.repo.createRecord",
            body={
                "repo": follower.did,
                "collection": "app.bsky.graph.follow",
                "record": {"subject": subject.did, "createdAt": now},
            },
            token=follower.token,
        )

    def process_all(self) -> float:
        """Wait until the AppView has indexed everything the PDS emitted; milliseconds."""
        request = urllib.request.Request(f"{self.info['controlUrl']}/process-all", method="POST")
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            return float(json.loads(response.read())["ms"])


def _ci() -> bool:
    return pds_install._ci()


def _unavailable(reason: str) -> NoReturn:
    if _ci():
        raise AppViewError(f"CI is set, so a missing AppView stack is an error: {reason}")
    import pytest

    pytest.skip(f"AppView stack unavailable: {reason}")


def appview_server() -> Iterator[AppView]:
    """Generator for a pytest fixture: installs if needed, yields a running stack, stops it."""
    try:
        install()
    except pds_install.PDSUnavailable as exc:
        _unavailable(str(exc))
    if find_postgres_binaries() is None:
        _unavailable("no PostgreSQL server binaries (run .ci/install-postgres.sh)")
    with AppView() as server:
        yield server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.appview", description="leavex-bot's local Bluesky AppView"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install", help="install (or verify) Node 22 + @atproto/dev-env")
    serve = sub.add_parser("serve", help="run the stack in the foreground and print its info")
    serve.add_argument("--seconds", type=float, default=600.0)
    args = parser.parse_args(argv)
    if args.command == "install":
        try:
            print(install())
        except pds_install.PDSUnavailable as exc:
            print(f"AppView: install failed: {exc}", file=sys.stderr)
            return 1
        return 0
    with AppView() as server:
        print(json.dumps(server.info), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            deadline = time.monotonic() + args.seconds
            while server.running and time.monotonic() < deadline:
                time.sleep(0.5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
