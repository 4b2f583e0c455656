"""The cache folder and strings remembered between runs. Neutral: imports nothing of ours.

Loading a Babel locale costs 10-30 ms per language, at every start of every command, for the
few strings a post needs (country names, a date, a list of platforms, the ISO country list).
Those strings are kept in a small JSON file under the cache folder, tagged with the installed
Babel (its location and modification time), so a warm start does not load Babel at all and an
upgraded Babel is asked again. Losing the file only costs time.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/leavex-bot`` (``~/.cache/leavex-bot``): data that can be rebuilt."""
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "leavex-bot"


class _Strings:
    """The cached strings of this process (one instance)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.strings: dict[str, str] | None = None
        self.tag: str | None = None

    def babel_tag(self) -> str:
        if self.tag is None:
            spec = importlib.util.find_spec("babel")
            origin = spec.origin if spec and spec.origin else "?"
            try:
                stamp = os.stat(origin).st_mtime_ns
            except OSError:
                stamp = 0
            self.tag = f"{origin}:{stamp}"
        return self.tag

    def load(self) -> dict[str, str]:
        if self.strings is None:
            self.strings = {}
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(_path().read_text(encoding="utf-8"))
                if isinstance(data, dict) and data.get("babel") == self.babel_tag():
                    strings = data.get("strings")
                    if isinstance(strings, dict):
                        self.strings = {str(k): str(v) for k, v in strings.items()}
        return self.strings

    def save(self) -> None:
        path = _path()
        payload = {"babel": self.babel_tag(), "strings": self.strings or {}}
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            scratch = path.with_suffix(f".{os.getpid()}.tmp")
            scratch.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
            scratch.replace(path)  # atomic: readers see the old or the new file, never half


_STRINGS = _Strings()


def _path() -> Path:
    return cache_dir() / "localized.json"


def remembered(key: str, compute: Callable[[], str]) -> str:
    """The string for ``key``: from the cache, or computed (with Babel) and cached."""
    with _STRINGS.lock:
        known = _STRINGS.load().get(key)
    if known is not None:
        return known
    value = compute()
    with _STRINGS.lock:
        _STRINGS.load()[key] = value
        _STRINGS.save()
    return value


def reset() -> None:
    """Forget what was loaded (tests switch the cache folder)."""
    with _STRINGS.lock:
        _STRINGS.strings = None
