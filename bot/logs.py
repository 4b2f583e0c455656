"""Structured logging: stable event names with key=value fields, or JSON lines for log drains.

    log_event(logger, "post.published", account="fr", item="helloquitx", url=...)

renders as ``post.published account=fr item=helloquitx url=...`` (text) or as one JSON object
per line (``LOG_FORMAT=json``). Secrets are never passed as fields; as a second line of defence
every registered secret value is masked in the final line.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Any

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever it would appear in a log line."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def mask(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def _quote(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="\n'):
        return json.dumps(text, ensure_ascii=False)
    return text


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        event = getattr(record, "event", None) or record.getMessage()
        stamp = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
        parts = [stamp, record.levelname.lower(), event]
        parts += [f"{key}={_quote(value)}" for key, value in fields.items() if value is not None]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return mask(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", None) or record.getMessage(),
            "logger": record.name,
        }
        payload.update({k: v for k, v in getattr(record, "fields", {}).items() if v is not None})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return mask(json.dumps(payload, ensure_ascii=False, default=str))


def setup(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.set_name("leavex-bot")
    root = logging.getLogger()
    # Replace our own handler from an earlier call; leave others (pytest's caplog) alone.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "leavex-bot"] + [handler]
    root.setLevel(level)
    # Third-party libraries log request details (URLs, sometimes headers) at DEBUG/INFO.
    for noisy in ("httpx", "httpcore", "urllib3", "apscheduler", "requests"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    logger.log(level, event, extra={"event": event, "fields": fields})
