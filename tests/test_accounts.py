"""`leavex-bot accounts [--mark-bot]` and what `check` says about marks and policies."""

from __future__ import annotations

import json
import urllib.request

import pytest
from click.testing import CliRunner

from bot.cli import cli
from tests.support.mastodon_server import MastodonTestServer
from tests.support.pds import PDS

TOKEN = "accounts-token-1234"


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_check_says_which_policies_a_platform_cannot_express(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Mastodon cannot limit replies; Bluesky cannot limit quotes to followers (nobody
    applies there): `check` says so, and still passes."""
    monkeypatch.setenv("REPLY_POLICY", "followers")
    monkeypatch.setenv("QUOTE_POLICY", "followers")
    code, out = _invoke("check")
    assert code == 0, out
    assert "note: mastodon (mastodon, dry run): REPLY_POLICY=followers cannot be expressed" in out
    assert "note: bluesky (bluesky, dry run): QUOTE_POLICY=followers cannot be expressed" in out
    assert "nobody applies (the nearest stricter rule)" in out
    monkeypatch.setenv("REPLY_POLICY", "everyone")
    monkeypatch.setenv("QUOTE_POLICY", "nobody")
    code, out = _invoke("check")
    assert "note:" not in out


def test_accounts_lists_dry_run_accounts_unchecked() -> None:
    """Without configured accounts, the two demo accounts are listed and not checked."""
    code, out = _invoke("accounts")
    assert code == 0
    assert "mastodon     mastodon" in out
    assert out.count("dry run, not checked") == 2


@pytest.mark.slow
def test_accounts_mark_bot_marks_both_kinds(
    monkeypatch: pytest.MonkeyPatch, mastodon: MastodonTestServer, pds: PDS, sqlite_url: str
) -> None:
    """`accounts` shows both accounts unmarked and `check --online` warns; `--mark-bot` sets
    Mastodon's bot flag and Bluesky's self-label; then both show marked and check is quiet."""
    mastodon.add_account(TOKEN, "leavex")
    mastodon.api_version = 6  # older than 4.5: no quote controls
    user = pds.create_account()
    for key, value in {
        "MASTODON_API_BASE_URL": mastodon.base_url,
        "MASTODON_ACCESS_TOKEN": TOKEN,
        "BLUESKY_SERVICE_URL": pds.url,
        "BLUESKY_HANDLE": user.handle,
        "BLUESKY_APP_PASSWORD": user.password,
        "DATABASE_URL": sqlite_url,
        "SITE_BASE_URL": "https://leavex.example.org",
        "QUOTE_POLICY": "nobody",
    }.items():
        monkeypatch.setenv(key, value)
    code, out = _invoke("accounts")
    assert code == 0, out
    assert out.count("NOT marked as automated") == 2
    assert "@leavex" in out and f"@{user.handle}" in out
    code, out = _invoke("check", "--online")
    assert code == 0, out
    assert out.count("warning: not marked as automated") == 2
    assert "mastodon (mastodon): warning: QUOTE_POLICY=nobody cannot be expressed" in out

    code, out = _invoke("accounts", "--mark-bot")
    assert code == 0, out
    assert out.count("marked as automated now") == 2
    assert mastodon.account("leavex")["bot"] is True
    url = (
        f"{pds.url}/xrpc/com.atproto.repo.getRecord?repo={user.did}"
        "&collection=app.bsky.actor.profile&rkey=self"
    )
    with urllib.request.urlopen(url, timeout=30) as response:
        profile = json.loads(response.read())["value"]
    assert profile["labels"]["values"] == [{"val": "bot"}]

    code, out = _invoke("accounts")
    assert out.count("marked as automated") == 2
    assert "NOT" not in out
    code, out = _invoke("check", "--online")
    assert "not marked" not in out


def test_an_unreachable_server_is_named_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Bluesky server nobody answers on: `accounts` says why (the SDK's own error has no
    message), and the app password never shows."""
    monkeypatch.setenv("BLUESKY_SERVICE_URL", "http://127.0.0.1:9")  # discard: nothing listens
    monkeypatch.setenv("BLUESKY_HANDLE", "leavex.bsky.social")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "unreachable-APP-PASSWORD")
    code, out = _invoke("accounts")
    line = next(line for line in out.splitlines() if line.startswith("bluesky "))
    assert "FAILED: Bluesky (bluesky) login (createSession): network error: " in line
    reason = line.split("network error: ", 1)[1].strip()
    assert reason, line
    assert "APP-PASSWORD" not in out
    assert code != 0
