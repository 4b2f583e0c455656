"""A throw-away PostgreSQL server for the test suite.

The suite starts its own server instead of relying on one that happens to be
running: ``initdb`` into a fresh temporary directory, ``postgres`` listening on
127.0.0.1 only (on a free ephemeral port, Unix socket inside the temporary
directory), trust authentication for a dedicated test superuser, durability
switched off (``fsync=off``) and a small ``shared_buffers``.  Every wait is
bounded; ``stop()`` always removes the directory.

Finding the binaries
    ``initdb`` is looked up on ``PATH`` first; ``postgres`` must sit in the
    same directory as the (symlink-resolved) ``initdb`` so the two always come
    from the same release.  Failing that, ``/usr/lib/postgresql/*/bin`` is
    searched, newest major version first (compared numerically, so 16 beats
    9.6).  That is where Debian/Ubuntu's ``postgresql`` package puts them (they
    are not on ``PATH`` there).  ``.ci/install-postgres.sh`` uses the same
    search and installs the Debian package when it finds nothing.

Running as root
    PostgreSQL refuses to run as root (both ``initdb`` and ``postgres`` exit
    with "cannot be run as root"), and the tests here do run as root.  When
    the effective uid is 0 the server is therefore run as an unprivileged
    system account: ``postgres`` if it exists (the Debian package creates it),
    otherwise ``nobody``.  The temporary directory is created by us and
    ``chown``-ed to that account, and it is placed under a parent the account
    can traverse (``$TMPDIR`` if it can, otherwise ``/tmp`` or ``/var/tmp``).

    The uid switch itself is done with :class:`subprocess.Popen`'s ``user=``,
    ``group=`` and ``extra_groups=[]`` arguments: CPython calls
    ``setgroups``/``setresgid``/``setresuid`` in the child between ``fork`` and
    ``exec``.  That was chosen over ``runuser``/``su``/``setpriv`` because it
    needs no external tool, no PAM session and no login shell (``su`` fails
    for ``nobody``, whose shell is ``nologin``), involves no quoting of a
    command string, and leaves the server as our direct child, so we hold the
    real postmaster PID for signalling and waiting.  Supplementary groups are
    dropped, ``cwd`` is the temporary directory (root's working directory may
    not be readable by the account) and ``PG*`` variables are removed from the
    environment so a developer's ``PGPORT``/``PGDATA`` cannot leak in.

    Not running as root, the binaries are simply run as the current user.

The server runs in its own session (process group), so a Ctrl-C in the
terminal does not reach it directly, and ``stop()`` can kill the postmaster
and all its backends together if the fast shutdown does not finish in time.
An ``atexit`` hook stops a server that was never stopped explicitly.

Usage in a ``conftest.py``::

    from collections.abc import Iterator

    import pytest

    from tests.support.postgres import PostgresServer, postgres_server

    @pytest.fixture(scope="session")
    def pg_server() -> Iterator[PostgresServer]:
        yield from postgres_server()

    @pytest.fixture
    def pg_url(
        pg_server: PostgresServer, request: pytest.FixtureRequest
    ) -> Iterator[str]:
        name = pg_server.unique_database_name(request.node.name)
        url = pg_server.create_database(name)
        yield url
        pg_server.drop_database(name)
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from tests.support.server import LOOPBACK, LoopbackServer, PortTaken, free_ports, wait_until

__all__ = [
    "DEBIAN_PG_ROOT",
    "DEFAULT_SUPERUSER",
    "MISSING_BINARIES_MESSAGE",
    "PostgresBinaries",
    "PostgresNotFoundError",
    "PostgresServer",
    "PostgresStartError",
    "find_postgres_binaries",
    "postgres_server",
]

#: Where Debian/Ubuntu's ``postgresql-NN`` packages install the server binaries.
DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")

#: Superuser created by ``initdb -U`` (trust authentication, no password).
DEFAULT_SUPERUSER = "leavex_test"

MISSING_BINARIES_MESSAGE = "PostgreSQL server binaries not found: apt-get install postgresql"

#: Accounts tried, in order, to run the server when the tests run as root.
_UNPRIVILEGED_USERS = ("postgres", "nobody")

_HOST = LOOPBACK
_DB_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_VERSION_DIR_RE = re.compile(r"(\d+)(?:\.(\d+))?")
# sockaddr_un.sun_path is 108 bytes; postgres appends "/.s.PGSQL.NNNNN".
_MAX_SOCKET_DIR_LEN = 90
_BIND_ATTEMPTS = 3


class PostgresNotFoundError(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


class PostgresStartError(RuntimeError):
    """``initdb`` or ``postgres`` failed, or the server did not become ready in time."""


@dataclass(frozen=True)
class PostgresBinaries:
    """One PostgreSQL installation: ``initdb`` and ``postgres`` from one directory."""

    bindir: Path
    initdb: Path
    postgres: Path
    pg_ctl: Path | None

    def version(self) -> str:
        """``postgres --version`` output, e.g. ``postgres (PostgreSQL) 15.18``."""
        result = subprocess.run(
            [str(self.postgres), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return result.stdout.strip()


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _binaries_in(bindir: Path) -> PostgresBinaries | None:
    initdb = bindir / "initdb"
    postgres = bindir / "postgres"
    if not (_executable(initdb) and _executable(postgres)):
        return None
    pg_ctl = bindir / "pg_ctl"
    return PostgresBinaries(
        bindir=bindir,
        initdb=initdb,
        postgres=postgres,
        pg_ctl=pg_ctl if _executable(pg_ctl) else None,
    )


def _version_key(directory: Path) -> tuple[int, int, int]:
    """Sort key for ``/usr/lib/postgresql/<version>``: numeric, odd names last."""
    match = _VERSION_DIR_RE.fullmatch(directory.name)
    if match is None:
        return (0, -1, -1)
    return (1, int(match.group(1)), int(match.group(2) or 0))


def find_postgres_binaries(
    path: str | None = None, debian_root: Path | None = None
) -> PostgresBinaries | None:
    """Locate ``initdb``/``postgres``: ``PATH``, then ``<debian_root>/*/bin``, newest.

    ``path`` defaults to ``$PATH`` and ``debian_root`` to :data:`DEBIAN_PG_ROOT`
    (read at call time, so tests can patch it).  Returns ``None`` when nothing
    usable is found.
    """
    search_path = os.environ.get("PATH", os.defpath) if path is None else path
    found = shutil.which("initdb", path=search_path)
    if found is not None:
        binaries = _binaries_in(Path(found).resolve().parent)
        if binaries is not None:
            return binaries
    root = DEBIAN_PG_ROOT if debian_root is None else debian_root
    try:
        versions = [entry for entry in root.iterdir() if entry.is_dir()]
    except OSError:
        return None
    for version_dir in sorted(versions, key=_version_key, reverse=True):
        binaries = _binaries_in(version_dir / "bin")
        if binaries is not None:
            return binaries
    return None


@dataclass(frozen=True)
class _Account:
    name: str
    uid: int
    gid: int


def _unprivileged_account(run_as: str | None) -> _Account | None:
    """The account to run the server as, or ``None`` to run it as ourselves."""
    if os.geteuid() != 0:
        if run_as is not None and run_as != pwd.getpwuid(os.geteuid()).pw_name:
            raise PostgresStartError(f"run_as={run_as!r} needs root; running as uid {os.geteuid()}")
        return None
    candidates: Sequence[str] = (run_as,) if run_as is not None else _UNPRIVILEGED_USERS
    for name in candidates:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return _Account(name=name, uid=entry.pw_uid, gid=entry.pw_gid)
    raise PostgresStartError(
        "running as root and PostgreSQL refuses to run as root, but none of the "
        f"unprivileged accounts {', '.join(candidates)} exists"
    )


def _traversable(directory: Path, account: _Account | None) -> bool:
    """Whether ``account`` can reach ``directory`` (search permission on ancestors)."""
    if account is None:
        return True
    current = directory.resolve()
    for part in (current, *current.parents):
        try:
            info = part.stat()
        except OSError:
            return False
        if info.st_uid == account.uid:
            bit = stat.S_IXUSR
        elif info.st_gid == account.gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


def _pick_parent_dir(base_dir: str | Path | None, account: _Account | None) -> Path:
    if base_dir is not None:
        parent = Path(base_dir)
        if account is not None and not _traversable(parent, account):
            raise PostgresStartError(f"{parent} is not traversable by {account.name!r}")
        return parent
    for candidate in (tempfile.gettempdir(), "/tmp", "/var/tmp"):
        parent = Path(candidate)
        if parent.is_dir() and _traversable(parent, account):
            return parent
    raise PostgresStartError("no temporary directory is traversable by the server account")


def _read_from(path: Path, offset: int = 0) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def _tail(path: Path, limit: int = 4000) -> str:
    return _read_from(path)[-limit:]


def _ci_is_set() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


class PostgresServer(LoopbackServer):
    """A private PostgreSQL server in a temp directory, on 127.0.0.1, ephemeral port.

    Use as a context manager (``with PostgresServer() as pg: ...``) or call
    :meth:`start` and :meth:`stop` yourself (both from :class:`LoopbackServer`).  A server
    object is single use: after :meth:`stop` its directory is gone.
    """

    launch_attempts = _BIND_ATTEMPTS

    def __init__(
        self,
        binaries: PostgresBinaries | None = None,
        *,
        superuser: str = DEFAULT_SUPERUSER,
        base_dir: str | Path | None = None,
        run_as: str | None = None,
        initdb_timeout: float = 120.0,
        startup_timeout: float = 30.0,
        shutdown_timeout: float = 10.0,
        extra_settings: dict[str, str] | None = None,
    ) -> None:
        if binaries is None:
            binaries = find_postgres_binaries()
            if binaries is None:
                raise PostgresNotFoundError(MISSING_BINARIES_MESSAGE)
        if not _DB_NAME_RE.fullmatch(superuser):
            raise ValueError(f"superuser must be a plain identifier, got {superuser!r}")
        self.binaries = binaries
        self.superuser = superuser
        self.initdb_timeout = initdb_timeout
        self.ready_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self._base_dir_arg = base_dir
        self._run_as = run_as
        self._extra_settings = dict(extra_settings or {})
        self._account: _Account | None = None
        self._base_dir: Path | None = None
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._server_version = 0
        self._db_counter = 0
        self._stopped = False
        self._log_start = 0
        self._last_error: Exception | None = None

    # -- properties -------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on (only valid once started)."""
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def base_dir(self) -> Path:
        """The temporary directory holding ``data/``, ``sock/`` and ``postgres.log``."""
        if self._base_dir is None:
            raise RuntimeError("server not started")
        return self._base_dir

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "postgres.log"

    @property
    def pid(self) -> int:
        """PID of the postmaster."""
        if self._proc is None:
            raise RuntimeError("server not started")
        return self._proc.pid

    @property
    def run_as(self) -> str | None:
        """The unprivileged account the server runs as if we are root, else ``None``."""
        return None if self._account is None else self._account.name

    @property
    def server_version(self) -> int:
        """``server_version_num`` of the running server, e.g. ``150018``."""
        return self._server_version

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def url(self) -> str:
        """Superuser URL of the maintenance database ``postgres``."""
        return self.url_for("postgres")

    def url_for(self, dbname: str) -> str:
        """``postgresql://<superuser>@127.0.0.1:<port>/<dbname>``, no password."""
        _check_db_name(dbname)
        return f"postgresql://{self.superuser}@{_HOST}:{self.port}/{dbname}"

    # -- lifecycle (start(), stop() and the context manager come from LoopbackServer) -----

    def _launch(self) -> None:
        """First ``initdb`` into a fresh temp dir, then ``postgres`` on a free port.

        Called again (``postgres`` only) when another process took the port meanwhile.
        """
        if self._stopped:
            raise RuntimeError("a PostgresServer can only be started once")
        if self._base_dir is None:
            self._account = _unprivileged_account(self._run_as)
            parent = _pick_parent_dir(self._base_dir_arg, self._account)
            self._base_dir = Path(tempfile.mkdtemp(prefix="leavex-pg-", dir=parent))
            atexit.register(self.stop)
            self._prepare_dirs()
            self._initdb()
        port = free_ports()[0]
        cmd = [str(self.binaries.postgres), "-D", str(self.data_dir)]
        for key, value in self._settings(port).items():
            cmd += ["-c", f"{key}={value}"]
        if self._log is None:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log_start = self._log.tell()
        self._proc = self._run_child(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        self._port = port

    def halt(self) -> None:
        """An outage: stop the postmaster (fast shutdown), keeping its data and its port."""
        proc, self._proc = self._proc, None
        if proc is not None:
            self._terminate(proc)

    def resume(self) -> None:
        """End an outage: start the postmaster again on the same data and port (bounded
        wait until it accepts connections)."""
        assert self._proc is None and self._port is not None, "halt() a running server first"
        cmd = [str(self.binaries.postgres), "-D", str(self.data_dir)]
        for key, value in self._settings(self._port).items():
            cmd += ["-c", f"{key}={value}"]
        assert self._log is not None
        self._log_start = self._log.tell()
        self._proc = self._run_child(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        if not wait_until(self._ready, timeout=self.ready_timeout, interval=self.ready_interval):
            raise self._start_error(f"did not come back within {self.ready_timeout:g} s")

    def _ready(self) -> bool:
        """True once psycopg connects; raises if the postmaster exited meanwhile."""
        assert self._proc is not None
        code = self._proc.poll()
        if code is not None:
            self._proc = None
            log = _read_from(self.log_path, self._log_start)
            message = f"postgres exited with code {code} on start-up:\n{log[-4000:]}"
            if "could not bind" in log or "could not create any TCP/IP" in log:
                raise PortTaken(message)
            raise PostgresStartError(message)
        try:
            with psycopg.connect(self.url, connect_timeout=2) as conn:
                self._server_version = conn.info.server_version
        except psycopg.OperationalError as exc:
            self._last_error = exc
            return False
        return True

    def _start_error(self, problem: str) -> Exception:
        return PostgresStartError(
            f"postgres {problem} (last error: {self._last_error}):\n{_tail(self.log_path)}"
        )

    def _teardown(self) -> None:
        """Fast shutdown (bounded), kill the process group on timeout, remove the dir.

        Idempotent; safe to call on a server that failed to start.
        """
        self._stopped = self._stopped or self._base_dir is not None
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is not None:
            self._terminate(proc)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._base_dir is not None:
            shutil.rmtree(self._base_dir, ignore_errors=True)

    # -- databases --------------------------------------------------------

    def connect(
        self, dbname: str = "postgres", *, autocommit: bool = True
    ) -> psycopg.Connection[TupleRow]:
        """A psycopg connection as the superuser (autocommit by default)."""
        return psycopg.connect(self.url_for(dbname), autocommit=autocommit, connect_timeout=10)

    def create_database(self, name: str) -> str:
        """Create database ``name`` (error if it exists) and return its URL."""
        _check_db_name(name)
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting sessions using it."""
        _check_db_name(name)
        with self.connect() as conn:
            if self._server_version >= 130000:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
            else:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))

    def unique_database_name(self, hint: str = "test") -> str:
        """A database name unique on this server, derived from ``hint``."""
        self._db_counter += 1
        stem = re.sub(r"[^a-z0-9_]+", "_", hint.lower()).strip("_")[:40] or "test"
        if stem[0].isdigit():
            stem = "t_" + stem
        return f"{stem}_{os.getpid()}_{self._db_counter}"

    # -- internals --------------------------------------------------------

    def _child_env(self) -> dict[str, str]:
        """Environment for initdb/postgres: ours minus ``PG*``, C locale, own HOME."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env["LC_ALL"] = "C"
        env["LANG"] = "C"
        if self._account is not None:
            env["HOME"] = str(self.base_dir)
            env["USER"] = env["LOGNAME"] = self._account.name
        return env

    def _run_child(
        self, cmd: list[str], stdout: int | IO[bytes], stderr: int
    ) -> subprocess.Popen[bytes]:
        """Start ``cmd`` in the temp dir, as the unprivileged account if we are root."""
        account = self._account
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            cwd=self.base_dir,
            env=self._child_env(),
            umask=0o077,
            start_new_session=True,
            user=None if account is None else account.uid,
            group=None if account is None else account.gid,
            extra_groups=None if account is None else [],
        )

    def _prepare_dirs(self) -> None:
        sock_dir = self.base_dir / "sock"
        sock_dir.mkdir(mode=0o700)
        if self._account is not None:
            for path in (self.base_dir, sock_dir):
                os.chown(path, self._account.uid, self._account.gid)

    def _initdb(self) -> None:
        cmd = [
            str(self.binaries.initdb),
            "--pgdata",
            str(self.data_dir),
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            f"--username={self.superuser}",
            "--no-sync",
        ]
        proc = self._run_child(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            output, _ = proc.communicate(timeout=self.initdb_timeout)
        except subprocess.TimeoutExpired as exc:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            raise PostgresStartError(
                f"initdb did not finish within {self.initdb_timeout:g}s"
            ) from exc
        if proc.returncode != 0:
            text = output.decode(errors="replace")
            raise PostgresStartError(f"initdb failed (exit {proc.returncode}):\n{text[-4000:]}")

    def _settings(self, port: int) -> dict[str, str]:
        sock_dir = str(self.base_dir / "sock")
        settings = {
            "listen_addresses": _HOST,
            "port": str(port),
            # A too long path makes postgres fail; TCP alone is enough then.
            "unix_socket_directories": (sock_dir if len(sock_dir) <= _MAX_SOCKET_DIR_LEN else ""),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "16MB",
            "max_connections": "100",
            "TimeZone": "UTC",
            "log_min_messages": "warning",
        }
        settings.update(self._extra_settings)
        return settings

    def _terminate(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is not None:
            return
        # SIGINT = "fast" shutdown: roll back sessions, checkpoint, exit.
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=self.shutdown_timeout)
            return
        except subprocess.TimeoutExpired:
            pass
        # The postmaster is not reaped yet, so its PID (= the process group) is ours.
        for sig, grace in ((signal.SIGQUIT, 3.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                continue


def _check_db_name(name: str) -> None:
    if not _DB_NAME_RE.fullmatch(name):
        raise ValueError(f"database name must match {_DB_NAME_RE.pattern}: {name!r}")


def postgres_server(**kwargs: Any) -> Iterator[PostgresServer]:
    """Generator for a session-scoped pytest fixture: yield a started server, stop it.

    Missing binaries: raises :class:`PostgresNotFoundError` when ``CI`` is set
    (to anything but ``""``, ``0``, ``false`` or ``no``), otherwise skips the
    requesting tests.  Keyword arguments go to :class:`PostgresServer`.
    """
    binaries = find_postgres_binaries()
    if binaries is None:
        if _ci_is_set():
            raise PostgresNotFoundError(
                f"{MISSING_BINARIES_MESSAGE} (CI is set, so this is an error, "
                "not a skip; run .ci/install-postgres.sh before the tests)"
            )
        import pytest

        pytest.skip(MISSING_BINARIES_MESSAGE)
    with PostgresServer(binaries, **kwargs) as server:
        yield server
