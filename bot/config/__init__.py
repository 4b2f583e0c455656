"""Configuration from environment variables and an env file (``.env`` by default).

Every setting is documented in ``config.example.env``. Accounts come in two forms:

* the default accounts, from ``MASTODON_API_BASE_URL`` + ``MASTODON_ACCESS_TOKEN`` (account
  ``mastodon``) and ``BLUESKY_HANDLE`` + ``BLUESKY_APP_PASSWORD`` (account ``bluesky``);
* any number of named accounts, ``ACCOUNTS__<NAME>__<FIELD>=value``, e.g.
  ``ACCOUNTS__FR__PLATFORM=mastodon`` and ``ACCOUNTS__FR__LANGUAGES=fr``.

With no account at all, :func:`resolve_accounts` returns one dry-run Mastodon and one dry-run
Bluesky account that post every language of ``POST_LANGUAGES``.
"""

from bot.config.accounts import Account, resolve_accounts
from bot.config.loading import load_settings
from bot.config.settings import (
    BUNDLED_DATA_DIR,
    BUNDLED_TEMPLATES_DIR,
    PROJECT_ROOT,
    AccountSettings,
    LanguageMode,
    QuotePolicy,
    ReplyPolicy,
    Settings,
    Visibility,
    default_database_url,
)
from bot.post import Platform

__all__ = [
    "BUNDLED_DATA_DIR",
    "BUNDLED_TEMPLATES_DIR",
    "PROJECT_ROOT",
    "Account",
    "AccountSettings",
    "LanguageMode",
    "Platform",
    "QuotePolicy",
    "ReplyPolicy",
    "Settings",
    "Visibility",
    "default_database_url",
    "load_settings",
    "resolve_accounts",
]
