"""Secrets (Mastodon tokens, Bluesky app passwords, Bluesky session strings, database passwords)
never appear in CLI output, log records or exception text: known secret values are run through
the CLI's scenarios, and everything captured is searched for them, and for any piece of them."""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot import logs
from bot.cli import cli
from tests.helpers import SITE
from tests.support.mastodon_server import MastodonTestServer
from tests.support.pds import PDS

#: The slots the scenarios post, one per step, so every step really talks to the platform.
SLOTS = [f"2026-03-{day:02d}T10:00" for day in range(1, 10)]
#: Log output as operators run it: default text, and JSON with debug details.
LOG_MODES = {"text": ([], "text"), "json-debug": (["-v"], "json")}
#: A leak of this many consecutive characters of a secret counts (a wrapped or cut token).
FRAGMENT = 12


def _secret(label: str) -> str:
    """A fresh secret value, unique to this test (so nothing another test registered for
    masking can hide a leak)."""
    return f"{label}{secrets.token_hex(16)}"


@pytest.fixture(autouse=True)
def unmasked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a fresh process does: no secret registered for masking yet."""
    monkeypatch.setattr(logs, "_secrets", set())


class Transcript:
    """Runs CLI commands and keeps everything they showed: stdout, stderr, the text of any
    exception, and every log record (raw, and as the bot's formatters print it)."""

    def __init__(self, caplog: pytest.LogCaptureFixture, options: list[str]) -> None:
        self.caplog = caplog
        self.options = options
        self.outputs: list[tuple[str, str]] = []

    def run(self, *args: str) -> Result:
        result = CliRunner().invoke(cli, [*self.options, *args])
        where = " ".join(args)
        self.outputs += [(f"{where}: stdout", result.stdout), (f"{where}: stderr", result.stderr)]
        if result.exc_info is not None and not isinstance(result.exception, SystemExit):
            text = "".join(traceback.format_exception(*result.exc_info))
            self.outputs.append((f"{where}: exception", text))
        return result

    def _records(self) -> Iterator[tuple[str, str]]:
        text, data = logs.TextFormatter(), logs.JsonFormatter()
        plain = logging.Formatter()
        for record in self.caplog.records:
            where = f"log record {getattr(record, 'event', record.msg)!r}"
            yield where, record.getMessage()
            yield where, json.dumps(getattr(record, "fields", {}), default=str)
            yield where, repr(record.args)
            if record.exc_info:
                yield where, plain.formatException(record.exc_info)
            yield where, text.format(record)
            yield where, data.format(record)

    def assert_clean(self, values: list[str], db: Path | None = None) -> None:
        """No secret value, and no piece of one, in anything captured (nor in the posts
        table, whose errors `history` shows)."""
        haystack = [*self.outputs, *self._records()]
        if db is not None:
            haystack += [("posts table", row) for row in _posts(db)]
        for value in values:
            for fragment in _fragments(value):
                for where, text in haystack:
                    at = text.find(fragment)
                    assert at < 0, f"secret shown in {where}: …{text[max(0, at - 80) : at + 80]}…"


def _fragments(value: str) -> set[str]:
    """The value and every run of FRAGMENT characters of it; for a JWT, its signature; for a
    session string only the whole (its handle and DID are public; its tokens are checked on
    their own)."""
    pieces = {value}
    if value.count(".") == 2 and value.startswith("eyJ"):
        pieces.add(value.rsplit(".", 1)[1])
    elif ":::" not in value:
        pieces |= {value[i : i + FRAGMENT] for i in range(max(0, len(value) - FRAGMENT) + 1)}
    return pieces


def _posts(db: Path) -> list[str]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return [repr(row) for row in conn.execute("SELECT * FROM posts")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def _kv(db: Path, key: str) -> str | None:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    finally:
        conn.close()
    return None if row is None else str(row[0])


def _set_kv(db: Path, key: str, value: str) -> None:
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute("UPDATE kv SET value = ? WHERE key = ?", (value, key))
    finally:
        conn.close()


def _session_secrets(session: str) -> list[str]:
    """The session string and the access and refresh tokens in it."""
    return [session, *(part for part in session.split(":::") if part.startswith("eyJ"))]


# --- configuration errors ----------------------------------------------------------------------

COMMANDS = [
    ["run", "--once"],
    ["post"],
    ["check"],
    ["check", "--online"],
    ["preview"],
    ["history"],
    ["retract", "helloquitx"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_bad_configuration_never_shows_secrets(
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    sqlite_url: str,
) -> None:
    """With a bad TIMEZONE next to a Mastodon token, a Bluesky app password and a named
    account's token, every command stops with exit 2, naming TIMEZONE and no secret."""
    values = [_secret("mtok"), _secret("bpass"), _secret("xtok")]
    monkeypatch.setenv("MASTODON_API_BASE_URL", "https://social.example")
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", values[0])
    monkeypatch.setenv("BLUESKY_HANDLE", "bot.example.org")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", values[1])
    monkeypatch.setenv("ACCOUNTS__X__PLATFORM", "twitter")
    monkeypatch.setenv("ACCOUNTS__X__ACCESS_TOKEN", values[2])
    monkeypatch.setenv("TIMEZONE", "Nowhere/Land")
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    transcript = Transcript(caplog, ["-v"])
    result = transcript.run(*command)
    assert result.exit_code == 2
    assert "TIMEZONE" in result.stderr and "ACCOUNTS__X__PLATFORM" in result.stderr
    transcript.assert_clean(values)


ENV_FILE_MISTAKES = {
    # the = forgotten: python-dotenv cannot parse the line
    "no-equals-sign": "MASTODON_API_BASE_URL=https://social.example\nMASTODON_ACCESS_TOKEN {s}\n",
    "quote-left-open": (
        "MASTODON_API_BASE_URL=https://social.example\nMASTODON_ACCESS_TOKEN='{s}\nDRY_RUN=false\n"
    ),
    "token-on-its-own-line": "MASTODON_API_BASE_URL=https://social.example\n{s}\n",
    "token-wrapped-onto-next-line": (
        "MASTODON_API_BASE_URL=https://social.example\nMASTODON_ACCESS_TOKEN={head}\n{tail}\n"
        "TIMEZONE=Nowhere/Land\n"
    ),
    "token-in-unknown-variable": "MASTODON_TOKEN={s}\n",
    "token-in-choice-variable": "MASTODON_VISIBILITY={s}\n",
    "password-without-handle": "BLUESKY_APP_PASSWORD={s}\n",
    "account-token-bad-platform": "ACCOUNTS__X__PLATFORM=twitter\nACCOUNTS__X__ACCESS_TOKEN={s}\n",
    "account-password-missing-handle": (
        "ACCOUNTS__X__PLATFORM=bluesky\nACCOUNTS__X__APP_PASSWORD={s}\n"
    ),
    "not-utf8": (
        "MASTODON_API_BASE_URL=https://social.example\nMASTODON_ACCESS_TOKEN={s}\n# f\xfcr\n"
    ),
    "database-password-unreachable": "DATABASE_URL=postgresql://bot:{s}@127.0.0.1:1/bot\n",
    "database-password-unsupported": "DATABASE_URL=mysql://bot:{s}@db.example/bot\n",
    "token-in-url-variable": (
        "MASTODON_API_BASE_URL={s}\nMASTODON_ACCESS_TOKEN=https://social.example\n"
    ),
}


@pytest.mark.parametrize(
    "mistake",
    [pytest.param(name) for name in ENV_FILE_MISTAKES],
)
@pytest.mark.parametrize("command", [["check"], ["run", "--once"]], ids=" ".join)
def test_env_file_mistakes_never_show_secrets(
    mistake: str,
    command: list[str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    sqlite_url: str,
) -> None:
    """A secret in a malformed env file (a line the parser skips, a quote left open, a token
    wrapped onto the next line, a token in the wrong variable, a database URL's password, a
    file that is not UTF-8) is never shown, whatever the command says about the file."""
    value = _secret("envsecret")
    # a wrapped token's second line starts with a letter, so it reads like a variable name
    head, tail = value[:20], "Wrapped" + value[20:]
    text = ENV_FILE_MISTAKES[mistake].format(s=value, head=head, tail=tail)
    env = tmp_path / "bot.env"
    env.write_bytes(text.encode("latin-1"))
    if "DATABASE_URL" not in text:
        monkeypatch.setenv("DATABASE_URL", sqlite_url)
    transcript = Transcript(caplog, ["--env-file", str(env)])
    result = transcript.run(*command)
    assert result.exit_code in (0, 1, 2)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    transcript.assert_clean([value, head + tail])


# --- Mastodon ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(LOG_MODES))
def test_mastodon_tokens_never_shown(
    mode: str,
    mastodon: MastodonTestServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    """A token the server rejects, then the right one: posting, `run --once`, `check --online`,
    `history` and `retract` never show either token, in text logs or in JSON debug logs."""
    good, rejected = _secret("goodtok"), _secret("badtok")
    mastodon.add_account(good, "leavex")
    db = tmp_path / "state.sqlite3"
    options, log_format = LOG_MODES[mode]
    monkeypatch.setenv("MASTODON_API_BASE_URL", mastodon.base_url)
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", rejected)
    monkeypatch.setenv("SITE_BASE_URL", SITE)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("LOG_FORMAT", log_format)
    transcript = Transcript(caplog, options)

    assert transcript.run("post", "--slot", SLOTS[0]).exit_code == 1
    assert transcript.run("run", "--once").exit_code == 1
    assert transcript.run("check", "--online").exit_code == 1
    shown = transcript.run("history")
    assert "failed" in shown.stdout and "access token was rejected" in shown.stdout

    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", good)
    assert transcript.run("post", "--slot", SLOTS[1]).exit_code == 0
    assert transcript.run("check", "--online").exit_code == 0
    assert transcript.run("history").exit_code == 0
    item = next(r for r in _posts(db) if "'posted'" in r).split(", ")[6].strip("'")
    assert transcript.run("retract", item).exit_code == 0

    seen = {(r.username, r.status) for r in mastodon.requests if r.method == "POST"}
    assert (None, 401) in seen and ("leavex", 200) in seen  # the bot really used both tokens
    transcript.assert_clean([good, rejected], db)


# --- Bluesky -----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(LOG_MODES))
def test_bluesky_passwords_and_sessions_never_shown(
    mode: str,
    pds: PDS,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    """Against a real PDS: a wrong app password, then the right one (a session is saved in the
    state's kv table and reused), then a corrupt stored session: posting, `check --online`,
    `history` and `retract` never show a password, a session string or its tokens."""
    password, wrong = _secret("apppass"), _secret("wrongpass")
    user = pds.create_account(password=password)
    db = tmp_path / "state.sqlite3"
    options, log_format = LOG_MODES[mode]
    monkeypatch.setenv("BLUESKY_SERVICE_URL", pds.url)
    monkeypatch.setenv("BLUESKY_HANDLE", user.handle)
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", wrong)
    monkeypatch.setenv("SITE_BASE_URL", SITE)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("LOG_FORMAT", log_format)
    transcript = Transcript(caplog, options)
    key = f"bluesky.session:bluesky:{user.handle}"

    assert transcript.run("post", "--slot", SLOTS[0]).exit_code == 1
    assert transcript.run("check", "--online").exit_code == 1
    shown = transcript.run("history")
    assert "failed" in shown.stdout and "app password" in shown.stdout
    assert _kv(db, key) is None

    monkeypatch.setenv("BLUESKY_APP_PASSWORD", password)
    assert transcript.run("post", "--slot", SLOTS[1]).exit_code == 0
    first_session = _kv(db, key)
    assert first_session is not None and user.did in first_session
    assert transcript.run("post", "--slot", SLOTS[2]).exit_code == 0  # reuses the session
    assert transcript.run("check", "--online").exit_code == 0

    parts = first_session.split(":::")
    parts[2], parts[3] = parts[2][:-6] + "AAAAAA", parts[3][:-6] + "AAAAAA"
    planted = ":::".join(parts)  # a stored session the server rejects
    _set_kv(db, key, planted)
    assert transcript.run("post", "--slot", SLOTS[3]).exit_code == 0  # logs in again
    last_session = _kv(db, key)
    assert last_session is not None and last_session != planted
    assert transcript.run("history").exit_code == 0
    assert transcript.run("retract", "helloquitx").exit_code in (0, 1)

    values: list[Any] = [password, wrong]
    for session in (first_session, planted, last_session):
        values += _session_secrets(session)
    transcript.assert_clean(values, db)


@pytest.mark.slow
def test_corrupt_stored_session_is_replaced_not_shown(
    pds: PDS,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    """A stored session string that is not a session at all (its tokens are not JWTs) is never
    shown; the bot drops it, logs in once and posts."""
    password = _secret("apppass")
    user = pds.create_account(password=password)
    db = tmp_path / "state.sqlite3"
    monkeypatch.setenv("BLUESKY_SERVICE_URL", pds.url)
    monkeypatch.setenv("BLUESKY_HANDLE", user.handle)
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", password)
    monkeypatch.setenv("SITE_BASE_URL", SITE)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    transcript = Transcript(caplog, ["-v"])
    assert transcript.run("post", "--slot", SLOTS[0]).exit_code == 0
    key = f"bluesky.session:bluesky:{user.handle}"
    planted = ":::".join([user.handle, user.did, _secret("acc"), _secret("ref"), pds.url])
    _set_kv(db, key, planted)
    result = transcript.run("post", "--slot", SLOTS[1])
    transcript.assert_clean([password, planted, *planted.split(":::")[2:4]], db)
    assert result.exit_code == 0, result.stderr
    assert _kv(db, key) != planted
