"""Configuration from environment variables and an env file (``.env`` by default).

Every setting is documented in ``config.example.env``. Accounts come in two forms:

* the default accounts, from ``MASTODON_API_BASE_URL`` + ``MASTODON_ACCESS_TOKEN`` (account
  ``mastodon``) and ``BLUESKY_HANDLE`` + ``BLUESKY_APP_PASSWORD`` (account ``bluesky``);
* any number of named accounts, ``ACCOUNTS__<NAME>__<FIELD>=value``, e.g.
  ``ACCOUNTS__FR__PLATFORM=mastodon`` and ``ACCOUNTS__FR__LANGUAGES=fr``.

With no account at all, :func:`resolve_accounts` returns one dry-run Mastodon and one dry-run
Bluesky account that post every language of ``POST_LANGUAGES``.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError, Problem

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DATA_DIR = PROJECT_ROOT / "data"
BUNDLED_TEMPLATES_DIR = PROJECT_ROOT / "templates"

Platform = Literal["mastodon", "bluesky"]
LanguageMode = Literal["rotate", "all"]
Visibility = Literal["public", "unlisted", "private", "direct"]


def default_database_url() -> str:
    """SQLite under the XDG state folder: ``~/.local/state/leavex-bot/state.sqlite3``."""
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return f"sqlite:///{Path(state_home) / 'leavex-bot' / 'state.sqlite3'}"


def _empty_is_unset(value: object) -> object:
    """``NAME=`` (as config.example.env has it) leaves an optional setting unset."""
    return None if isinstance(value, str) and not value.strip() else value


def _split_list(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _check_languages(codes: list[str] | None) -> list[str] | None:
    if codes is None:
        return None
    if not codes:
        raise ValueError("needs at least one language, e.g. de,en,fr")
    for code in codes:
        if not re.fullmatch(r"[a-z]{2}", code):
            raise ValueError(f"{code!r} is not an ISO 639-1 language code like de, en or fr")
    if len(set(codes)) != len(codes):
        raise ValueError("lists a language twice")
    return codes


_CRON_PART = r"(?:\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/[0-9]+)?"
_CRON_FIELD = re.compile(rf"{_CRON_PART}(?:,{_CRON_PART})*", re.IGNORECASE)


def _check_cron(expression: str | None) -> str | None:
    if expression is None:
        return None
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"{expression!r} is not a 5-field cron expression (minute hour day month weekday),"
            " e.g. '0 10 * * *'"
        )
    bad = [field for field in fields if not _CRON_FIELD.fullmatch(field)]
    if bad:
        raise ValueError(f"{expression!r} is not a valid cron expression: cannot read {bad[0]!r}")
    import datetime as dt

    from apscheduler.triggers.cron import CronTrigger

    try:
        trigger = CronTrigger.from_crontab(expression, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"{expression!r} is not a valid cron expression: {exc}") from None
    if trigger.get_next_fire_time(None, dt.datetime.now(dt.UTC)) is None:
        raise ValueError(f"{expression!r} never fires (no such date)")
    return expression


def _check_language(code: str | None) -> str | None:
    if code is not None and not re.fullmatch(r"[a-z]{2}", code):
        raise ValueError(f"{code!r} is not an ISO 639-1 language code (or empty to skip)")
    return code


def _check_http_url(url: str | None) -> str | None:
    if url is None:
        return None
    url = url.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/?#]+(?::\d+)?(?:/\S*)?", url):
        # Quote the value only if it looks like a URL: a token pasted on the wrong line must
        # not be printed.
        shown = f"{url!r} is" if re.match(r"https?://", url) else "the value is"
        raise ValueError(f"{shown} not an http(s) URL such as https://example.org")
    return url


#: Stands for the account's variable prefix (ACCOUNTS__<NAME>) in validation messages.
ACCOUNT = "<ACCOUNT>"


class AccountSettings(BaseModel):
    """One named account, from ``ACCOUNTS__<NAME>__<FIELD>`` variables."""

    model_config = ConfigDict(extra="forbid")

    platform: Platform
    languages: Annotated[list[str] | None, NoDecode] = None
    schedule: str | None = None
    language_mode: LanguageMode | None = None
    fallback_language: str | None = None
    enabled: bool = True
    # Mastodon
    api_base_url: str | None = None
    access_token: SecretStr | None = None
    visibility: Visibility | None = None
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
        "service_url",
        "handle",
        "app_password",
        mode="before",
    )(_empty_is_unset)
    _split = field_validator("languages", mode="before")(_split_list)
    _langs = field_validator("languages")(_check_languages)
    _cron = field_validator("schedule")(_check_cron)
    _urls = field_validator("api_base_url", "service_url")(_check_http_url)
    _fallback = field_validator("fallback_language")(_check_language)

    @model_validator(mode="after")
    def _credentials(self) -> AccountSettings:
        mastodon_fields = ("api_base_url", "access_token", "visibility")
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
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    mastodon_visibility: Visibility = "public"
    mastodon_api_base_url: str | None = None
    mastodon_access_token: SecretStr | None = Field(default=None, validate_default=True)
    bluesky_service_url: str = "https://bsky.social"
    bluesky_handle: str | None = None
    bluesky_app_password: SecretStr | None = Field(default=None, validate_default=True)
    accounts: dict[str, AccountSettings] = Field(default_factory=dict)
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
        mode="before",
    )(_empty_is_unset)
    _split = field_validator("post_languages", mode="before")(_split_list)
    _cron = field_validator("post_schedule")(_check_cron)
    _urls = field_validator("site_base_url", "mastodon_api_base_url", "bluesky_service_url")(
        _check_http_url
    )

    @field_validator("post_languages")
    @classmethod
    def _langs(cls, codes: list[str]) -> list[str]:
        checked = _check_languages(codes)
        assert checked is not None
        return checked

    _fallback = field_validator("fallback_language")(_check_language)

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
        if (secret is None) != (info.data.get(partner) is None):
            names = f"{partner.upper()} and {str(info.field_name).upper()}"
            raise ValueError(f"{names} must be set together")
        return secret


@dataclass(frozen=True)
class Account:
    """A resolved account: every per-account setting filled in from the global defaults."""

    name: str
    platform: Platform
    languages: tuple[str, ...]
    schedule: str
    language_mode: LanguageMode
    fallback_language: str | None
    dry_run: bool
    api_base_url: str | None = None
    access_token: SecretStr | None = None
    visibility: Visibility = "public"
    service_url: str | None = None
    handle: str | None = None
    app_password: SecretStr | None = None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.platform}{', dry run' if self.dry_run else ''})"


def resolve_accounts(settings: Settings) -> list[Account]:
    """The configured accounts, or the two dry-run demo accounts when none is configured."""
    common: dict[str, Any] = {
        "languages": tuple(settings.post_languages),
        "schedule": settings.post_schedule,
        "language_mode": settings.language_mode,
        "fallback_language": settings.fallback_language,
        "dry_run": settings.dry_run,
    }
    accounts: list[Account] = []
    if settings.mastodon_api_base_url:
        accounts.append(
            Account(
                name="mastodon",
                platform="mastodon",
                api_base_url=settings.mastodon_api_base_url,
                access_token=settings.mastodon_access_token,
                visibility=settings.mastodon_visibility,
                **common,
            )
        )
    if settings.bluesky_handle:
        accounts.append(
            Account(
                name="bluesky",
                platform="bluesky",
                service_url=settings.bluesky_service_url,
                handle=settings.bluesky_handle,
                app_password=settings.bluesky_app_password,
                **common,
            )
        )
    for name, extra in settings.accounts.items():
        if not extra.enabled:
            continue
        accounts.append(
            Account(
                name=name,
                platform=extra.platform,
                languages=tuple(extra.languages or settings.post_languages),
                schedule=extra.schedule or settings.post_schedule,
                language_mode=extra.language_mode or settings.language_mode,
                fallback_language=extra.fallback_language or settings.fallback_language,
                dry_run=settings.dry_run,
                api_base_url=extra.api_base_url,
                access_token=extra.access_token,
                visibility=extra.visibility or settings.mastodon_visibility,
                service_url=extra.service_url or settings.bluesky_service_url,
                handle=extra.handle,
                app_password=extra.app_password,
            )
        )
    if not accounts:
        demo = {**common, "language_mode": "all", "dry_run": True}
        accounts = [
            Account(
                name="mastodon",
                platform="mastodon",
                api_base_url="https://mastodon.example",
                **demo,
            ),
            Account(
                name="bluesky", platform="bluesky", service_url=settings.bluesky_service_url, **demo
            ),
        ]
    names = [a.name for a in accounts]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise ConfigError(
            source=settings.source,
            problems=[
                Problem(
                    f"ACCOUNTS__{name.upper()}",
                    "this name is taken by a default account (MASTODON_*/BLUESKY_*);"
                    " choose another",
                )
                for name in clashes
            ],
        )
    return accounts


def load_settings(env_file: Path | None = None, **overrides: Any) -> Settings:
    """Read the settings; raise :class:`ConfigError` listing every bad variable."""
    path = env_file or Path(".env")
    if env_file is not None and not env_file.is_file():
        raise ConfigError([Problem(str(env_file), "env file not found")])
    source = f"environment and {path}" if path.is_file() else "environment"
    if path.is_file():
        _check_env_file(path)
    try:
        settings = Settings(_env_file=path, **overrides)
    except ValidationError as exc:
        raise ConfigError(list(_problems(exc)), source=source) from None
    settings._source = source
    return settings


def _check_env_file(path: Path) -> None:
    """Refuse an env file that python-dotenv would partly skip (with only a warning)."""
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(str(path), f"not UTF-8 text (byte {exc.start})")]) from None
    except OSError as exc:
        raise ConfigError([Problem(str(path), f"cannot read: {exc.strerror}")]) from None
    problems = []
    for binding in parse_stream(io.StringIO(text)):
        line = f"{path}, line {binding.original.line}"
        if binding.error:
            # Name the variable, never the value (it may be a token).
            name = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)", binding.original.string)
            what = f" ({name.group(1)})" if name else ""
            problems.append(Problem(line + what, "not a NAME=value line (or a quote left open)"))
        elif binding.key is not None and binding.value is None:
            # A bare word: usually the rest of a value wrapped onto the next line. Its text is
            # not shown, as it may be part of a token.
            problems.append(Problem(line, "no '=' on this line (a value wrapped onto two lines?)"))
    if problems:
        raise ConfigError(problems, source=str(path))


def _problems(exc: ValidationError) -> Iterator[Problem]:
    for error in exc.errors(include_url=False, include_input=False):
        variable = "__".join(str(part) for part in error["loc"]).upper()
        message = str(error["msg"]).removeprefix("Value error, ").replace(ACCOUNT, variable)
        if error["type"] == "extra_forbidden":
            message = "unknown setting (see config.example.env for every setting)"
        elif error["type"] == "literal_error":
            message = message.replace("Input should be", "must be")
        yield Problem(variable, message)
