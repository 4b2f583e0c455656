"""Accounts resolved from the settings: every per-account setting filled in from the global
defaults, or the two dry-run demo accounts when none is configured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from bot.config.settings import LanguageMode, QuotePolicy, ReplyPolicy, Settings, Visibility
from bot.errors import ConfigError, Problem
from bot.post import Platform


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
    #: Mastodon: attach the post's picture as media (else Mastodon shows its link preview)
    media: bool = True
    reply_policy: ReplyPolicy = "everyone"
    quote_policy: QuotePolicy = "everyone"

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
        "reply_policy": settings.reply_policy,
        "quote_policy": settings.quote_policy,
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
                media=settings.mastodon_media,
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
                media=settings.mastodon_media if extra.media is None else extra.media,
                reply_policy=extra.reply_policy or settings.reply_policy,
                quote_policy=extra.quote_policy or settings.quote_policy,
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
