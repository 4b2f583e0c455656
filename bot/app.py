"""Wiring: settings, accounts, dataset, templates, store and publishers for one process."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.cache import cache_dir
from bot.config import Account, Settings, load_settings, resolve_accounts
from bot.dataset import Dataset, load_dataset
from bot.errors import ConfigError, Problem
from bot.logs import register_secret
from bot.publishing.base import Publisher
from bot.rendering.render import Renderer, TemplateSet
from bot.state import Store, StoreVault


@dataclass
class App:
    """Everything a command needs, loaded and validated up front (nothing posted before)."""

    settings: Settings
    accounts: list[Account]
    dataset: Dataset
    templates: TemplateSet
    renderer: Renderer
    #: Publisher factory; tests and embedders replace it (the httpx ``transport=`` idea).
    publisher_factory: Callable[[Account, Settings, TextIO, dt.tzinfo], Publisher] | None = None
    _publishers: dict[str, Publisher] = field(default_factory=dict)

    @classmethod
    def load(cls, env_file: Path | None = None, **overrides: object) -> App:
        settings = load_settings(env_file, **overrides)
        accounts = resolve_accounts(settings)
        for account in accounts:
            for secret in (account.access_token, account.app_password):
                register_secret(secret.get_secret_value() if secret else None)
        dataset = load_dataset(settings.data_dir)
        templates = TemplateSet(settings.templates_dir, cache_dir=cache_dir() / "templates")
        languages = sorted(
            {lang for a in accounts for lang in a.languages}
            | {a.fallback_language for a in accounts if a.fallback_language}
        )
        templates.check_all(languages)
        renderer = Renderer(templates, site_base_url=settings.site_base_url)
        return cls(settings, accounts, dataset, templates, renderer)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def now(self) -> dt.datetime:
        return dt.datetime.now(self.tz)

    def today(self) -> dt.date:
        return self.now().date()

    def select(self, name: str | None) -> list[Account]:
        if name is None:
            return self.accounts
        chosen = [a for a in self.accounts if a.name == name]
        if not chosen:
            known = ", ".join(a.name for a in self.accounts)
            raise ConfigError(
                [Problem("--account", f"no account named {name!r} (accounts: {known})")]
            )
        return chosen

    def open_store(self) -> Store:
        return Store(self.settings.database_url)

    def publisher(self, account: Account, stream: TextIO | None = None) -> Publisher:
        """The account's publisher, created once per process and reused."""
        if account.name not in self._publishers:
            factory = self.publisher_factory or default_publisher
            self._publishers[account.name] = factory(
                account, self.settings, stream or sys.stdout, self.tz
            )
        return self._publishers[account.name]

    def close(self) -> None:
        for publisher in self._publishers.values():
            publisher.close()
        self._publishers.clear()


def default_publisher(
    account: Account, settings: Settings, stream: TextIO, tz: dt.tzinfo | None = None
) -> Publisher:
    if account.dry_run:
        from bot.publishing.console import ConsolePublisher

        return ConsolePublisher(account.platform, stream=stream, tz=tz)
    if account.platform == "mastodon":
        from bot.publishing.http_sessions import session_for
        from bot.publishing.mastodon import MastodonPublisher

        assert account.api_base_url is not None
        session = session_for(account.api_base_url, settings.post_concurrency_per_server)
        return MastodonPublisher(account, image_root=settings.data_dir, session=session)
    from bot.publishing.bluesky import BlueskyPublisher

    return BlueskyPublisher(
        account, StoreVault(settings.database_url), image_root=settings.data_dir
    )
