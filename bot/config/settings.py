"""The settings: environment variables and the env file, one field per variable."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.config.validators import (
    ACCOUNT,
    check_account_name,
    check_cron,
    check_handle,
    check_http_url,
    check_language,
    check_languages,
    check_server_url,
    empty_is_unset,
    split_list,
)
from bot.post import Platform

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
BUNDLED_DATA_DIR = PROJECT_ROOT / "data"
BUNDLED_TEMPLATES_DIR = PROJECT_ROOT / "templates"

LanguageMode = Literal["rotate", "all"]
Visibility = Literal["public", "unlisted", "private", "direct"]
#: Who may reply to the bot's posts, and who may quote them (REPLY_POLICY, QUOTE_POLICY).
ReplyPolicy = Literal["everyone", "followers", "following", "mentioned", "nobody"]
QuotePolicy = Literal["everyone", "followers", "nobody"]


def default_database_url() -> str:
    """SQLite under the XDG state folder: ``~/.local/state/leavex-bot/state.sqlite3``."""
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return f"sqlite:///{Path(state_home) / 'leavex-bot' / 'state.sqlite3'}"


class AccountSettings(BaseModel):
    """One named account, from ``ACCOUNTS__<NAME>__<FIELD>`` variables."""

    model_config = ConfigDict(extra="forbid")

    platform: Platform
    languages: Annotated[list[str] | None, NoDecode] = None
    schedule: str | None = None
    language_mode: LanguageMode | None = None
    fallback_language: str | None = None
    enabled: bool = True
    reply_policy: ReplyPolicy | None = None
    quote_policy: QuotePolicy | None = None
    # Mastodon
    api_base_url: str | None = None
    access_token: SecretStr | None = None
    visibility: Visibility | None = None
    media: bool | None = None
    # Bluesky
    service_url: str | None = None
    handle: str | None = None
    app_password: SecretStr | None = None

    _unset = field_validator(
        "schedule",
        "language_mode",
        "fallback_language",
        "api_base_url",
        "access_token",
        "visibility",
        "media",
        "reply_policy",
        "quote_policy",
        "service_url",
        "handle",
        "app_password",
        mode="before",
    )(empty_is_unset)
    _split = field_validator("languages", mode="before")(split_list)
    _langs = field_validator("languages")(check_languages)
    _cron = field_validator("schedule")(check_cron)
    _urls = field_validator("api_base_url", "service_url")(check_server_url)
    _handle = field_validator("handle")(check_handle)
    _fallback = field_validator("fallback_language")(check_language)

    @model_validator(mode="after")
    def _credentials(self) -> AccountSettings:
        mastodon_fields = ("api_base_url", "access_token", "visibility", "media")
        bluesky_fields = ("service_url", "handle", "app_password")
        own, other = (
            (mastodon_fields, bluesky_fields)
            if self.platform == "mastodon"
            else (bluesky_fields, mastodon_fields)
        )
        foreign = [
            f"{ACCOUNT}__{name.upper()}" for name in other if getattr(self, name) is not None
        ]
        if foreign:
            raise ValueError(f"{', '.join(foreign)}: not a setting of a {self.platform} account")
        needed = own[:2] if self.platform == "mastodon" else own[1:]
        missing = [f"{ACCOUNT}__{name.upper()}" for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.platform} account needs {' and '.join(missing)}")
        return self


class Settings(BaseSettings):
    """All settings. Field names are the environment variable names, lower-cased."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    post_schedule: str = "0 10 * * *"
    timezone: str = "Europe/Berlin"
    post_languages: Annotated[list[str], NoDecode] = Field(default=["de", "en", "fr"])
    language_mode: LanguageMode = "rotate"
    fallback_language: str | None = None
    database_url: str = Field(default_factory=default_database_url)
    data_dir: Path = BUNDLED_DATA_DIR
    templates_dir: Path = BUNDLED_TEMPLATES_DIR
    site_base_url: str | None = None
    dry_run: bool = False
    catch_up_grace: int = Field(default=3600, ge=0)
    post_concurrency: int = Field(default=16, ge=1, le=1000)
    post_concurrency_per_server: int = Field(default=4, ge=1, le=100)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    mastodon_visibility: Visibility = "public"
    mastodon_media: bool = True
    reply_policy: ReplyPolicy = "everyone"
    quote_policy: QuotePolicy = "everyone"
    mastodon_api_base_url: str | None = None
    mastodon_access_token: SecretStr | None = Field(default=None, validate_default=True)
    bluesky_service_url: str = "https://bsky.social"
    bluesky_handle: str | None = None
    bluesky_app_password: SecretStr | None = Field(default=None, validate_default=True)
    accounts: dict[str, AccountSettings] = Field(default_factory=dict)
    #: the status page (``leavex-bot web``) and alerts
    web_user: str = Field(default="admin", min_length=1)
    web_password: SecretStr | None = None
    port: int = Field(default=8000, ge=1, le=65535)
    alert_urls: SecretStr | None = None
    #: engagement counts (``leavex-bot stats``): when the worker refreshes them, how far back
    stats_schedule: str = "0 * * * *"
    stats_days: int = Field(default=30, ge=1, le=3650)
    #: where the settings came from, for error messages (not a setting)
    _source: str = PrivateAttr("environment")

    @property
    def source(self) -> str:
        return self._source

    _unset = field_validator(
        "fallback_language",
        "site_base_url",
        "mastodon_api_base_url",
        "mastodon_access_token",
        "bluesky_handle",
        "bluesky_app_password",
        "web_password",
        "alert_urls",
        mode="before",
    )(empty_is_unset)
    _split = field_validator("post_languages", mode="before")(split_list)
    _cron = field_validator("post_schedule", "stats_schedule")(check_cron)
    _site = field_validator("site_base_url")(check_http_url)
    _servers = field_validator("mastodon_api_base_url", "bluesky_service_url")(check_server_url)
    _handle = field_validator("bluesky_handle")(check_handle)

    @field_validator("accounts", mode="before")
    @classmethod
    def _account_names(cls, accounts: object) -> object:
        for name, fields in accounts.items() if isinstance(accounts, dict) else ():
            first = next(iter(fields), "PLATFORM") if isinstance(fields, dict) else "PLATFORM"
            try:
                check_account_name(str(name))
            except ValueError as exc:
                raise ValueError(f"ACCOUNTS__{str(name).upper()}__{first.upper()}: {exc}") from None
        return accounts

    @field_validator("post_languages")
    @classmethod
    def _langs(cls, codes: list[str]) -> list[str]:
        checked = check_languages(codes)
        assert checked is not None
        return checked

    _fallback = field_validator("fallback_language")(check_language)

    @field_validator("alert_urls")
    @classmethod
    def _alert_urls(cls, urls: SecretStr | None) -> SecretStr | None:
        if urls is None:
            return None
        from bot.alerts.send import split_urls, unknown_urls

        entries = len(split_urls(urls.get_secret_value()))
        unknown = unknown_urls(urls.get_secret_value())
        if unknown:  # named by position: the URLs hold tokens and passwords
            which = ", ".join(str(p) for p in unknown)
            raise ValueError(
                f"entry {which} of {entries} is not a URL Apprise knows (e.g. ntfy://topic,"
                " mailtos://user:pass@example.org, json://host/path; see"
                " https://github.com/caronc/apprise/wiki)"
            )
        return urls

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{name!r} is not an IANA time zone such as Europe/Berlin") from None
        return name

    @field_validator("database_url")
    @classmethod
    def _database(cls, url: str) -> str:
        if not re.match(r"(sqlite:///.|postgres(ql)?(\+psycopg)?://.)", url):
            raise ValueError("must be sqlite:///PATH (a file) or postgresql://… (or postgres://…)")
        return url

    @field_validator("data_dir", "templates_dir")
    @classmethod
    def _folder(cls, path: Path) -> Path:
        if not path.is_dir():
            raise ValueError(f"{str(path)!r} is not a folder")
        return path

    @field_validator("mastodon_access_token", "bluesky_app_password")
    @classmethod
    def _pairs(cls, secret: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        partner = {
            "mastodon_access_token": "mastodon_api_base_url",
            "bluesky_app_password": "bluesky_handle",
        }[str(info.field_name)]
        if secret is not None and partner not in info.data:
            return secret  # the partner is set but invalid: that error is reported
        if (secret is None) != (info.data.get(partner) is None):
            names = f"{partner.upper()} and {str(info.field_name).upper()}"
            raise ValueError(f"{names} must be set together")
        return secret
