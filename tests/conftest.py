"""Shared fixtures. Tests never read the operator's env file or state: the environment is
cleared of every setting, the working folder is a temporary one, and the state goes there too."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def _setting_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every test starts with no bot settings, in an empty folder, with its own state dir."""
    names = _setting_names()
    for key in list(os.environ):
        if key.upper() in names or key.upper().startswith("ACCOUNTS__"):
            monkeypatch.delenv(key, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    from bot.rendering import localized

    localized.reset()
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
