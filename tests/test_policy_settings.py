"""REPLY_POLICY, QUOTE_POLICY and MASTODON_MEDIA: global settings that an account can override."""

from __future__ import annotations

import pytest

from bot.config import load_settings, resolve_accounts
from bot.errors import ConfigError


def test_policies_and_media_are_global_with_per_account_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unset account fields take the global value; set ones win."""
    monkeypatch.setenv("REPLY_POLICY", "followers")
    monkeypatch.setenv("QUOTE_POLICY", "nobody")
    monkeypatch.setenv("MASTODON_MEDIA", "false")
    monkeypatch.setenv("MASTODON_API_BASE_URL", "https://social.example")
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "t")
    monkeypatch.setenv("ACCOUNTS__OPEN__PLATFORM", "mastodon")
    monkeypatch.setenv("ACCOUNTS__OPEN__API_BASE_URL", "https://other.example")
    monkeypatch.setenv("ACCOUNTS__OPEN__ACCESS_TOKEN", "u")
    monkeypatch.setenv("ACCOUNTS__OPEN__MEDIA", "true")
    monkeypatch.setenv("ACCOUNTS__OPEN__REPLY_POLICY", "everyone")
    monkeypatch.setenv("ACCOUNTS__SKY__PLATFORM", "bluesky")
    monkeypatch.setenv("ACCOUNTS__SKY__HANDLE", "sky.example.org")
    monkeypatch.setenv("ACCOUNTS__SKY__APP_PASSWORD", "p")
    monkeypatch.setenv("ACCOUNTS__SKY__QUOTE_POLICY", "everyone")
    accounts = {a.name: a for a in resolve_accounts(load_settings(None))}
    got = {n: (a.reply_policy, a.quote_policy, a.media) for n, a in accounts.items()}
    assert got == {
        "mastodon": ("followers", "nobody", False),
        "open": ("everyone", "nobody", True),
        "sky": ("followers", "everyone", False),
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [("REPLY_POLICY", "friends"), ("QUOTE_POLICY", "following"), ("MASTODON_MEDIA", "maybe")],
)
def test_bad_policy_values_are_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """A value outside the documented ones is refused, naming the variable."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings(None)
    assert name in str(error.value)


def test_media_is_not_a_bluesky_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """ACCOUNTS__X__MEDIA on a Bluesky account is refused (its picture is the card's)."""
    monkeypatch.setenv("ACCOUNTS__SKY__PLATFORM", "bluesky")
    monkeypatch.setenv("ACCOUNTS__SKY__HANDLE", "sky.example.org")
    monkeypatch.setenv("ACCOUNTS__SKY__APP_PASSWORD", "p")
    monkeypatch.setenv("ACCOUNTS__SKY__MEDIA", "false")
    with pytest.raises(ConfigError) as error:
        load_settings(None)
    assert "ACCOUNTS__SKY__MEDIA" in str(error.value)
