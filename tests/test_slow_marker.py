"""The ``slow`` marker means what it says: tests that use a server fixture are marked slow by
themselves, and a test that is not marked slow cannot start a server (tests/conftest.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests import conftest

SESSION = r"""
import os, socket, subprocess, sys
import pytest

@pytest.fixture
def own_server():
    from tests.support.mastodon_server import MastodonTestServer
    with MastodonTestServer() as server:
        yield server

def test_mastodon(mastodon): pass
def test_own_server(own_server): pass
def test_database(database_url): pass

def test_binds():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))

def test_node():
    subprocess.run(["node", "--version"], check=False)

def test_initdb_in_a_shell():
    subprocess.run("initdb --version", shell=True, check=False)

def test_python_and_a_unix_socket():
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(f"\0leavex-slow-marker-{os.getpid()}")  # abstract: no file

@pytest.mark.slow
def test_marked(): pass
"""


def test_server_tests_are_marked_and_others_cannot_start_servers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session with this conftest and ``-m 'not slow'``: the tests with a server fixture
    (the conftest's, a module's own, database_url's PostgreSQL case) are deselected with the
    marked one; binding a TCP socket or launching node or initdb fails the test, saying why."""
    monkeypatch.setattr(conftest._Guard, "nodeid", None)  # the inner session guards itself
    pytester.makeconftest(Path(conftest.__file__).read_text())
    pytester.makeini("[pytest]\nmarkers =\n    slow: starts a server\n")
    pytester.makepyfile(test_inner=SESSION)
    result = pytester.runpytest_inprocess("-m", "not slow", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=3, deselected=4)
    result.stdout.fnmatch_lines_random(
        [
            "*test_binds is not marked slow but binds a socket to ('127.0.0.1', 0)*",
            "*test_node is not marked slow but launches 'node'*",
            "*test_initdb_in_a_shell is not marked slow but launches 'initdb'*",
        ]
    )


def test_this_test_cannot_start_a_server() -> None:
    with socket.socket() as sock, pytest.raises(pytest.fail.Exception, match="not marked slow"):
        sock.bind(("127.0.0.1", 0))
    with pytest.raises(pytest.fail.Exception, match="launches 'postgres'"):
        subprocess.run(["/usr/lib/postgresql/17/bin/postgres", "--version"], check=False)
    subprocess.run([sys.executable, "-c", "pass"], check=True)  # other programs are fine


@pytest.mark.slow
def test_a_slow_test_may() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
