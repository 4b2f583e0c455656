"""Configuration: every bad variable reported at once, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_settings, resolve_accounts
from bot.errors import ConfigError


def test_defaults_give_two_dry_run_accounts() -> None:
    """With nothing configured, one Mastodon and one Bluesky dry-run account post every language."""
    accounts = resolve_accounts(load_settings())
    assert [(a.name, a.platform, a.dry_run, a.language_mode) for a in accounts] == [
        ("mastodon", "mastodon", True, "all"),
        ("bluesky", "bluesky", True, "all"),
    ]
    assert accounts[0].languages == ("de", "en", "fr")


def test_default_accounts_from_platform_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """MASTODON_* and BLUESKY_* variables make the two default accounts."""
    monkeypatch.setenv("MASTODON_API_BASE_URL", "https://social.example/")
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "tok-123456")
    monkeypatch.setenv("BLUESKY_HANDLE", "bot.example.org")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "aaaa-bbbb-cccc-dddd")
    monkeypatch.setenv("POST_LANGUAGES", "fr, de")
    accounts = resolve_accounts(load_settings())
    assert [(a.name, a.dry_run, a.languages) for a in accounts] == [
        ("mastodon", False, ("fr", "de")),
        ("bluesky", False, ("fr", "de")),
    ]
    assert accounts[0].api_base_url == "https://social.example"
    assert accounts[1].service_url == "https://bsky.social"


def test_named_accounts(monkeypatch: pytest.MonkeyPatch) -> None:
    """ACCOUNTS__<NAME>__<FIELD> adds accounts with their own languages and schedules."""
    monkeypatch.setenv("ACCOUNTS__FR_MASTO__PLATFORM", "mastodon")
    monkeypatch.setenv("ACCOUNTS__FR_MASTO__API_BASE_URL", "https://piaille.example")
    monkeypatch.setenv("ACCOUNTS__FR_MASTO__ACCESS_TOKEN", "secret-token-1")
    monkeypatch.setenv("ACCOUNTS__FR_MASTO__LANGUAGES", "fr")
    monkeypatch.setenv("ACCOUNTS__FR_MASTO__SCHEDULE", "30 8 * * 1-5")
    monkeypatch.setenv("ACCOUNTS__DE_SKY__PLATFORM", "bluesky")
    monkeypatch.setenv("ACCOUNTS__DE_SKY__HANDLE", "de.example.org")
    monkeypatch.setenv("ACCOUNTS__DE_SKY__APP_PASSWORD", "pw-1234")
    monkeypatch.setenv("ACCOUNTS__DE_SKY__LANGUAGE_MODE", "all")
    accounts = {a.name: a for a in resolve_accounts(load_settings())}
    assert accounts["fr_masto"].languages == ("fr",)
    assert accounts["fr_masto"].schedule == "30 8 * * 1-5"
    assert accounts["de_sky"].language_mode == "all"
    assert accounts["de_sky"].schedule == "0 10 * * *"


def test_env_file_is_read(tmp_path: Path) -> None:
    """Settings come from the env file given."""
    env = tmp_path / "bot.env"
    env.write_text("POST_LANGUAGES=en\nTIMEZONE=Europe/Paris\n")
    settings = load_settings(env)
    assert settings.post_languages == ["en"]
    assert settings.timezone == "Europe/Paris"


def test_every_bad_variable_is_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    """One error lists every bad variable with its reason."""
    monkeypatch.setenv("POST_SCHEDULE", "every day")
    monkeypatch.setenv("TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("POST_LANGUAGES", "de,english")
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    monkeypatch.setenv("DRY_RUN", "perhaps")
    monkeypatch.setenv("LANGUAGE_MODE", "sometimes")
    monkeypatch.setenv("MASTODON_API_BASE_URL", "https://social.example")
    with pytest.raises(ConfigError) as info:
        load_settings()
    text = str(info.value)
    for name in (
        "POST_SCHEDULE",
        "TIMEZONE",
        "POST_LANGUAGES",
        "DATABASE_URL",
        "DRY_RUN",
        "LANGUAGE_MODE",
        "MASTODON_ACCESS_TOKEN",
    ):
        assert f"  - {name}:" in text, name
    assert "5-field cron" in text
    assert "IANA time zone" in text
    assert "'english' is not an ISO 639-1" in text
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("POST_SCHEDULE", "0 25 * * *", "not a valid cron expression"),
        ("DATA_DIR", "/nonexistent/data", "is not a folder"),
        ("SITE_BASE_URL", "leavex.example", "not an http(s) URL"),
        ("FALLBACK_LANGUAGE", "english", "ISO 639-1"),
        ("CATCH_UP_GRACE", "-5", "greater than or equal to 0"),
        ("LOG_FORMAT", "xml", "must be 'text' or 'json'"),
        ("ACCOUNTS__X__PLATFORM", "twitter", "must be 'mastodon' or 'bluesky'"),
        (
            "MASTODON_API_BASE_URL",
            "https://mastodon.social/@leavex",
            "has a path (/@leavex): write the server only, e.g. https://mastodon.social",
        ),
        ("BLUESKY_HANDLE", "LeaveX Network", "is not a Bluesky handle such as"),
        ("ACCOUNTS__A B__PLATFORM", "bluesky", "'a b' cannot name an account"),
        ("ACCOUNTS____PLATFORM", "bluesky", "'' cannot name an account"),
    ],
)
def test_each_bad_value_has_a_reason(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    """Each kind of bad value names the variable and says why."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert variable in str(info.value)
    assert message in str(info.value)


def test_named_account_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """A named account missing its credentials says which ones."""
    monkeypatch.setenv("ACCOUNTS__FR__PLATFORM", "bluesky")
    monkeypatch.setenv("ACCOUNTS__FR__HANDLE", "fr.example.org")
    with pytest.raises(ConfigError, match=r"ACCOUNTS__FR: .*needs ACCOUNTS__FR__APP_PASSWORD"):
        load_settings()


def test_unknown_variable_in_env_file(tmp_path: Path) -> None:
    """A misspelt variable in the env file is reported, not silently ignored."""
    env = tmp_path / "bot.env"
    env.write_text("POST_SHEDULE=0 9 * * *\n")
    with pytest.raises(ConfigError, match="POST_SHEDULE: unknown setting"):
        load_settings(env)


def test_missing_env_file(tmp_path: Path) -> None:
    """An env file that does not exist is an error, not silently skipped."""
    with pytest.raises(ConfigError, match="env file not found"):
        load_settings(tmp_path / "nope.env")


def test_secrets_are_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens and passwords never appear in settings' repr or in configuration errors."""
    monkeypatch.setenv("MASTODON_API_BASE_URL", "https://social.example")
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "SUPERSECRETTOKEN")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "SUPERSECRETPASSWORD")  # no handle: an error
    monkeypatch.setenv("TIMEZONE", "Nowhere/Land")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "SUPERSECRET" not in str(info.value)
    monkeypatch.delenv("BLUESKY_APP_PASSWORD")
    monkeypatch.delenv("TIMEZONE")
    settings = load_settings()
    assert "SUPERSECRETTOKEN" not in repr(settings)
    assert "SUPERSECRETTOKEN" not in repr(resolve_accounts(settings))


def test_postgres_urls_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """DATABASE_URL takes the postgres:// form hosting platforms hand out."""
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example:5432/bot")
    assert load_settings().database_url.startswith("postgres://")


def test_config_example_env_loads_as_it_is(tmp_path: Path) -> None:
    """config.example.env copied unchanged is a valid configuration (the two dry-run
    accounts), and documents every setting the bot has."""
    from tests.helpers import ROOT

    example = ROOT / "config.example.env"
    settings = load_settings(example)
    assert [a.name for a in resolve_accounts(settings)] == ["mastodon", "bluesky"]
    text = example.read_text(encoding="utf-8")
    from bot.config import Settings

    for name in Settings.model_fields:
        if name != "accounts":
            assert name.upper() in text, name
    assert "ACCOUNTS__" in text


def test_a_handle_as_the_apps_show_it_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """'@leavex.bsky.social' (as Bluesky shows it), a DID or an e-mail address log in; the
    server's error is not doubled by the partner variable's."""
    for handle, login in [
        ("@leavex.bsky.social", "leavex.bsky.social"),
        ("did:plc:z72i7hdynmk6r22z27h6tvur", "did:plc:z72i7hdynmk6r22z27h6tvur"),
        ("team@leavex.example.org", "team@leavex.example.org"),
    ]:
        monkeypatch.setenv("BLUESKY_HANDLE", handle)
        monkeypatch.setenv("BLUESKY_APP_PASSWORD", "app-password")
        [account] = [a for a in resolve_accounts(load_settings()) if a.platform == "bluesky"]
        assert account.handle == login
    monkeypatch.setenv("MASTODON_API_BASE_URL", "https://mastodon.social/@leavex")
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "token")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.problems[0].where.startswith("MASTODON_API_BASE_URL")
    assert len(info.value.problems) == 1
