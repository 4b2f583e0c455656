"""Tests of the self-started PostgreSQL server in tests/support/postgres.py."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support import postgres
from tests.support.postgres import (
    MISSING_BINARIES_MESSAGE,
    PostgresNotFoundError,
    PostgresServer,
    find_postgres_binaries,
    postgres_server,
)


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    yield from postgres_server()


def _process_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[2])  # real, effective, saved, fs
    raise AssertionError(f"no Uid line for pid {pid}")


def _make_fake_install(bindir: Path) -> None:
    bindir.mkdir(parents=True)
    for name in ("initdb", "postgres", "pg_ctl"):
        exe = bindir / name
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(0o755)


@pytest.mark.slow
def test_server_accepts_psycopg_connection_on_loopback(pg: PostgresServer) -> None:
    """The server accepts psycopg over TCP on 127.0.0.1 as the trust-auth superuser."""
    url = pg.create_database("conn_check")
    user = postgres.DEFAULT_SUPERUSER
    assert url == f"postgresql://{user}@127.0.0.1:{pg.port}/conn_check"
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT host(inet_server_addr()), current_user, current_database(),"
            " current_setting('listen_addresses'), current_setting('server_encoding'),"
            " current_setting('fsync'), current_setting('is_superuser')"
        ).fetchone()
    assert row == (
        "127.0.0.1",
        postgres.DEFAULT_SUPERUSER,
        "conn_check",
        "127.0.0.1",
        "UTF8",
        "off",
        "on",
    )
    pg.drop_database("conn_check")


@pytest.mark.slow
def test_server_runs_unprivileged_with_data_dir_in_temp(pg: PostgresServer) -> None:
    """The postmaster never runs as root; its data and socket live in the temp dir."""
    uid = _process_uid(pg.pid)
    assert uid != 0
    if os.geteuid() == 0:
        assert pg.run_as is not None
        assert uid == pg.data_dir.stat().st_uid
    else:
        assert uid == os.geteuid()
    with pg.connect() as conn:
        row = conn.execute("SELECT current_setting('data_directory')").fetchone()
    assert row is not None
    assert Path(row[0]).resolve() == pg.data_dir.resolve()
    assert (pg.base_dir / "sock" / f".s.PGSQL.{pg.port}").is_socket()


@pytest.mark.slow
def test_databases_are_isolated(pg: PostgresServer) -> None:
    """Two databases on the same server do not see each other's tables or rows."""
    url_a = pg.create_database("iso_a")
    url_b = pg.create_database("iso_b")
    try:
        with psycopg.connect(url_a) as conn:
            conn.execute("CREATE TABLE state (key text PRIMARY KEY, value text)")
            conn.execute("INSERT INTO state VALUES ('who', 'a')")
        with psycopg.connect(url_b) as conn:
            found = conn.execute("SELECT to_regclass('public.state')").fetchone()
            assert found == (None,)
            conn.execute("CREATE TABLE state (key text PRIMARY KEY, value text)")
            conn.execute("INSERT INTO state VALUES ('who', 'b')")
        with psycopg.connect(url_a) as conn:
            assert conn.execute("SELECT * FROM state").fetchall() == [("who", "a")]
        with psycopg.connect(url_b) as conn:
            assert conn.execute("SELECT * FROM state").fetchall() == [("who", "b")]
    finally:
        pg.drop_database("iso_a")
        pg.drop_database("iso_b")


@pytest.mark.slow
def test_drop_database_removes_it_even_with_open_session(pg: PostgresServer) -> None:
    """drop_database works while a session is still connected, and the DB is gone."""
    name = pg.unique_database_name("drop me")
    url = pg.create_database(name)
    lingering = psycopg.connect(url)
    try:
        pg.drop_database(name)
        pg.drop_database(name)  # idempotent
    finally:
        lingering.close()
    with pg.connect() as conn:
        query = "SELECT count(*) FROM pg_database WHERE datname = %s"
        assert conn.execute(query, (name,)).fetchone() == (0,)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=5).close()


@pytest.mark.slow
def test_stop_removes_data_dir_and_frees_port() -> None:
    """Leaving the context manager stops the server, removes its dir, frees the port."""
    binaries = find_postgres_binaries()
    if binaries is None:
        pytest.skip(MISSING_BINARIES_MESSAGE)
    with PostgresServer(binaries) as server:
        port = server.port
        base_dir = server.base_dir
        pid = server.pid
        client = psycopg.connect(server.url)  # an open session must not block stop()
        assert base_dir.is_dir()
        assert server.running
    client.close()
    assert not server.running
    assert not base_dir.exists()
    assert not Path(f"/proc/{pid}").exists()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(5)
        with pytest.raises(ConnectionRefusedError):
            probe.connect(("127.0.0.1", port))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        # SO_REUSEADDR, as postgres uses: TIME_WAIT leftovers pass, a listener not.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
    server.stop()  # idempotent


@pytest.mark.slow
def test_port_taken_meanwhile_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """A port taken between picking and binding costs one more launch, not a failed start."""
    binaries = find_postgres_binaries()
    if binaries is None:
        pytest.skip(MISSING_BINARIES_MESSAGE)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy_port = taken.getsockname()[1]
        picks: list[int] = []
        real_free_ports = postgres.free_ports

        def first_pick_is_taken(count: int = 1) -> list[int]:
            picks.append(count)
            return [busy_port] if len(picks) == 1 else real_free_ports(count)

        monkeypatch.setattr(postgres, "free_ports", first_pick_is_taken)
        with PostgresServer(binaries) as server:
            assert len(picks) == 2
            assert server.port != busy_port
            assert server.start() is server  # a running server is returned as it is
            with server.connect() as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(RuntimeError, match="only be started once"):
        server.start()


def test_binary_search_prefers_path_then_newest_debian_version(tmp_path: Path) -> None:
    """initdb on PATH wins, else the numerically newest /usr/lib/postgresql/*/bin."""
    root = tmp_path / "lib"
    for version in ("9.6", "16", "15", "notaversion"):
        _make_fake_install(root / version / "bin")
    (root / "17").mkdir()  # a version directory without binaries is skipped
    found = find_postgres_binaries(path=str(tmp_path / "empty"), debian_root=root)
    assert found is not None
    assert found.bindir == root / "16" / "bin"
    assert found.pg_ctl == root / "16" / "bin" / "pg_ctl"

    on_path = tmp_path / "custom" / "bin"
    _make_fake_install(on_path)
    search_path = f"{tmp_path / 'empty'}{os.pathsep}{on_path}"
    found = find_postgres_binaries(path=search_path, debian_root=root)
    assert found is not None
    assert found.bindir == on_path

    assert find_postgres_binaries(path="", debian_root=tmp_path / "missing") is None


def test_missing_binaries_skip_outside_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without server binaries and without CI, the fixture skips with the apt hint."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(postgres, "DEBIAN_PG_ROOT", tmp_path / "missing")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install postgresql"):
        next(postgres_server())


def test_missing_binaries_fail_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without server binaries and with CI set, the fixture raises, not skips."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(postgres, "DEBIAN_PG_ROOT", tmp_path / "missing")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(PostgresNotFoundError, match="CI is set"):
        next(postgres_server())
