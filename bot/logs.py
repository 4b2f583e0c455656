"""Structured logging: stable event names with key=value fields, or JSON lines for log drains.

    log_event(logger, "post.published", account="fr", item="helloquitx", url=...)

renders as ``post.published account=fr item=helloquitx url=...`` (text) or as one JSON object
per line (``LOG_FORMAT=json``). Secrets are never passed as fields; as a second line of defence
every registered secret value is masked: in each part of a line before it is quoted or encoded,
and in the final line.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Any

#: Every registered secret, as written and as JSON and ``repr()`` escape it (a field value that
#: is quoted, a JSON line, an exception message quoting a value), longest first so that a secret
#: containing another one is masked whole. Never changed in place: :func:`register_secret` swaps
#: in a new tuple under the lock, so :func:`mask` (which runs without the lock, in any thread)
#: iterates a snapshot that cannot change under it.
_secrets: tuple[str, ...] = ()
_lock = threading.Lock()


def _written_forms(secret: str) -> set[str]:
    return {
        secret,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret)[1:-1],
        repr(secret)[1:-1],
    }


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever it would appear in a log line."""
    global _secrets  # noqa: PLW0603 - replaced whole under the lock, never mutated
    if value and len(value) >= 4:
        with _lock:
            if value not in _secrets:
                forms = {*_secrets, *_written_forms(value)}
                _secrets = tuple(sorted(forms, key=lambda form: (-len(form), form)))


def mask(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in _secrets:  # the tuple of this moment; registering meanwhile replaces it
        if secret in text:
            text = text.replace(secret, "***")
    return text


def _quote(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="\n'):
        return json.dumps(text, ensure_ascii=False)
    return text


def _masked(value: Any) -> Any:
    return mask(value) if isinstance(value, str) else value


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        event = getattr(record, "event", None) or record.getMessage()
        stamp = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
        parts = [stamp, record.levelname.lower(), mask(event)]
        # Masked before quoting too: quoting escapes a secret's quotes and backslashes.
        parts += [
            f"{key}={_quote(mask(str(value)))}"
            for key, value in fields.items()
            if value is not None
        ]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + mask(self.formatException(record.exc_info))
        return mask(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # Every value is masked before it is encoded (JSON escapes a secret's quotes and
        # backslashes), and the encoded line once more.
        payload: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "event": mask(getattr(record, "event", None) or record.getMessage()),
            "logger": record.name,
        }
        fields = getattr(record, "fields", {})
        payload.update({k: _masked(v) for k, v in fields.items() if v is not None})
        if record.exc_info:
            payload["exception"] = mask(self.formatException(record.exc_info))
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
