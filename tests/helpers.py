"""Small builders shared by tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from bot.config import Account
from bot.dataset import Dataset, load_dataset
from bot.rendering import Renderer, TemplateSet

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
TEMPLATES = ROOT / "templates"
SITE = "https://leavex.example.org"


def bundled_dataset() -> Dataset:
    return load_dataset(DATA)


def renderer(site: str | None = SITE, today: dt.date | None = None) -> Renderer:
    return Renderer(TemplateSet(TEMPLATES), site_base_url=site, today=today)


def account(name: str = "acct", platform: str = "mastodon", **overrides: Any) -> Account:
    values: dict[str, Any] = {
        "name": name,
        "platform": platform,
        "languages": ("de", "en", "fr"),
        "schedule": "0 10 * * *",
        "language_mode": "rotate",
        "fallback_language": None,
        "dry_run": False,
    }
    values.update(overrides)
    return Account(**values)


def write_item(folder: Path, text: str, name: str = "items.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def retry_waits(records: list[Any]) -> list[float]:
    """The waits the poster decided on, from its ``post.retry`` log lines (caplog.records);
    tests run with stamina's testing switch on, so nothing really waits."""
    return [float(r.fields["wait"]) for r in records if getattr(r, "event", None) == "post.retry"]
