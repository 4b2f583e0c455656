"""Small builders shared by tests."""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from pathlib import Path
from typing import Any

from bot.config import Account
from bot.dataset import Dataset, load_dataset
from bot.post import DEFAULT_LIMITS, OutgoingPost, Published
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


def png(size: int = 100) -> bytes:
    """A valid PNG padded with an ancillary chunk to about ``size`` bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    pixels = chunk(b"IDAT", zlib.compress(b"\x00\x00"))
    padding = chunk(b"tEXt", b"c\x00" + b"x" * max(0, size - 80))
    return b"\x89PNG\r\n\x1a\n" + header + padding + pixels + chunk(b"IEND", b"")


class RecordingPublisher:
    """A publisher test double that records what it was asked to publish."""

    def __init__(self, platform: str = "mastodon", failures: list[Exception] | None = None) -> None:
        self.limits = DEFAULT_LIMITS[platform]
        self.sent: list[OutgoingPost] = []
        self.failures = failures or []

    def publish(self, post: OutgoingPost) -> Published:
        self.sent.append(post)
        if self.failures:
            raise self.failures.pop(0)
        return Published(
            remote_id=str(len(self.sent)), url=f"https://social.example/{len(self.sent)}"
        )

    def close(self) -> None:
        pass
