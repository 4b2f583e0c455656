"""Shared fixtures. Tests never read the operator's env file or state: the environment is
cleared of every setting, the working folder is a temporary one, and the state goes there too."""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3.util.connection  # noqa: F401  # see _Guard: its IPv6 probe binds ("::1", 0)

from bot.config import Settings

pytest_plugins = ["pytester"]  # tests/test_slow_marker.py runs a small session of its own

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def _setting_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


@pytest.fixture(scope="session")
def shared_cards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Share cards drawn by any test: a card's file is named by everything it shows (and the
    drawing code, fonts and Pillow), so tests can share them; drawing one takes 0.3 s."""
    return tmp_path_factory.mktemp("shared-cards")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared_cards: Path) -> Path:
    """Every test starts with no bot settings, in an empty folder, with its own state and
    cache dirs (the cards folder in it is shared: :func:`shared_cards`; a test that needs an
    empty one sets ``XDG_CACHE_HOME`` itself)."""
    names = _setting_names()
    for key in list(os.environ):
        if key.upper() in names or key.upper().startswith("ACCOUNTS__"):
            monkeypatch.delenv(key, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "cache" / "leavex-bot").mkdir(parents=True)
    (tmp_path / "cache" / "leavex-bot" / "cards").symlink_to(shared_cards, target_is_directory=True)
    from bot.publishing import mastodon_instance
    from bot.rendering import localized

    localized.reset()
    mastodon_instance.forget_all()  # a later test's server may listen on an earlier one's port
    return work


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.sqlite3'}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    from tests.support.postgres import postgres_server

    yield from postgres_server()


@pytest.fixture
def pg_url(pg_server: object, request: pytest.FixtureRequest) -> Iterator[str]:
    from tests.support.postgres import PostgresServer

    assert isinstance(pg_server, PostgresServer)
    name = pg_server.unique_database_name(request.node.name)
    url = pg_server.create_database(name)
    yield url
    pg_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="session")
def pds() -> Iterator[object]:
    """A real Bluesky PDS on 127.0.0.1 (rate limits off), shared by the session."""
    from tests.support.pds import pds_server

    yield from pds_server()


@pytest.fixture(scope="session")
def pds_rate_limited() -> Iterator[object]:
    """A second real PDS with its production rate limits on (30 logins per 5 minutes)."""
    from tests.support.pds import pds_server

    yield from pds_server(rate_limits=True)


@pytest.fixture
def mastodon() -> Iterator[object]:
    """The project's Mastodon API test server on 127.0.0.1, fresh for each test."""
    from tests.support.mastodon_server import MastodonTestServer

    with MastodonTestServer() as server:
        yield server


@pytest.fixture(autouse=True)
def no_retry_waits(request: pytest.FixtureRequest) -> Iterator[None]:
    """Retries do not wait in tests (stamina's testing switch); the attempt counts still
    apply. A test that needs real waiting is marked ``real_retry_waits``."""
    import stamina

    if request.node.get_closest_marker("real_retry_waits"):
        yield
        return
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


# -- the ``slow`` marker: a test that starts a server is slow, and only such a test may -------
#
# Servers here: the PDS (Node), PostgreSQL, the in-process Mastodon test server, FaultProxy,
# the AppView (Node) and atproto's RichText (a Node process). ``pytest -m 'not slow'`` then
# starts none of them. Tests are marked automatically when they use a server fixture (below);
# any other test that starts a server fails with a message saying so.

#: The server fixtures of this file.
SERVER_FIXTURES = frozenset({"pds", "pds_rate_limited", "pg_server", "pg_url", "mastodon"})
#: A fixture whose own code calls one of these starts a server too (the fixtures that test
#: modules define for themselves: a module-scoped Mastodon server, a FaultProxy, ...).
SERVER_STARTERS = (
    "pds_server(",
    "postgres_server(",
    "PostgresServer(",
    "MastodonTestServer(",
    "FaultProxy(",
    "appview_server(",
    "AppView(",
    "richtext_process(",
    "RichText(",
)
#: Programs that are servers (or run one), refused to tests that are not marked slow.
SERVER_PROGRAMS = frozenset(
    {"node", "nodejs", "npm", "npx", "postgres", "postmaster", "initdb", "pg_ctl", "pg_ctlcluster"}
)


@functools.cache
def _starts_a_server(func: Any) -> bool:
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        return False
    return any(starter in source for starter in SERVER_STARTERS)


def server_fixtures(item: pytest.Item) -> list[str]:
    """The server fixtures ``item`` uses, directly or through other fixtures (including the
    PostgreSQL case of the parametrized ``database_url``)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    found = []
    for name in info.names_closure:
        definitions = info.name2fixturedefs.get(name, ())
        if name in SERVER_FIXTURES or any(_starts_a_server(d.func) for d in definitions):
            found.append(name)
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("database_url") == "postgresql":
        found.append("database_url[postgresql]")
    return found


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that uses a server fixture is ``slow``."""
    for item in items:
        if not item.get_closest_marker("slow") and server_fixtures(item):
            item.add_marker(pytest.mark.slow)


class _Guard:
    """The test being set up or run when it is not marked slow (None otherwise). urllib3
    probes for IPv6 at import by binding ("::1", 0): it is imported above, before any test,
    so the probe is not taken for a test starting a server."""

    nodeid: str | None = None


def _program_names(event: str, args: tuple[Any, ...]) -> set[str]:
    """The programs an audited process launch runs (a shell's command too)."""
    # subprocess.Popen, os.exec, os.posix_spawn: (path, argv, ...); os.spawn: (mode, path, ...)
    executable, argv = args[1:3] if event == "os.spawn" else args[0:2]
    names = {Path(os.fsdecode(executable)).name} if executable is not None else set()
    argv = [os.fsdecode(a) for a in argv] if isinstance(argv, (list, tuple)) else []
    if len(argv) >= 3 and argv[1] == "-c" and Path(argv[0]).name in {"sh", "bash", "dash"}:
        names.update(Path(word).name for word in argv[2].split()[:1])
    return names


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Refuses, in a test not marked slow, a network socket's bind and a server program's
    launch: :func:`pytest.fail` (not an Exception, so no ``except Exception`` can hide it)."""
    nodeid = _Guard.nodeid
    if nodeid is None or event not in _AUDITED:
        return
    if event == "socket.bind":
        sock, address = args
        if getattr(sock, "family", None) in (socket.AF_INET, socket.AF_INET6):
            _refuse(nodeid, f"binds a socket to {address!r}")
        return
    try:
        programs = _program_names(event, args) & SERVER_PROGRAMS
    except (TypeError, ValueError):  # arguments the launch itself will refuse
        return
    if programs:
        _refuse(nodeid, f"launches {sorted(programs)[0]!r}")


_AUDITED = frozenset({"socket.bind", "subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn"})
sys.addaudithook(_audit)


def _refuse(nodeid: str, what: str) -> None:
    pytest.fail(
        f"{nodeid} is not marked slow but {what}. A test that starts a server must be marked"
        " @pytest.mark.slow, or get the server from a fixture (pds, pg_url, mastodon, ...),"
        " which marks it slow by itself (tests/conftest.py)",
        pytrace=False,
    )


@contextlib.contextmanager
def _guarding(item: pytest.Item) -> Iterator[None]:
    _Guard.nodeid = None if item.get_closest_marker("slow") else item.nodeid
    try:
        yield
    finally:
        _Guard.nodeid = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    """The guard holds while a test's fixtures are set up (module- and session-scoped ones
    too) and while it runs; not at teardown, where servers of earlier tests are stopped."""
    with _guarding(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _guarding(item):
        return (yield)
