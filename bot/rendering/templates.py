"""The Jinja2 templates of a folder: ``<language>/<kind>.j2``, with an optional platform variant
``<kind>.<platform>.j2`` where the text must differ; compiled once, checked with sample contexts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from bot.errors import TemplateError
from bot.post import PLATFORMS

KINDS = ("initiative", "petition")


class TemplateSet:
    """The Jinja2 templates of one folder, loaded with ``StrictUndefined``."""

    def __init__(self, folder: Path, cache_dir: Path | None = None) -> None:
        self.folder = folder
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(folder)),
            bytecode_cache=_bytecode_cache(cache_dir),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # noqa: S701 -- plain text, not HTML: the platforms escape it
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,
        )
        self._chosen: dict[tuple[str, str, str], jinja2.Template] = {}

    def languages(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir() if p.is_dir() and len(p.name) == 2)

    def get(self, language: str, kind: str, platform: str) -> jinja2.Template:
        """The template for a post (the platform variant if there is one); looked up once."""
        key = (language, kind, platform)
        if key not in self._chosen:
            self._chosen[key] = self._find(language, kind, platform)
        return self._chosen[key]

    def _find(self, language: str, kind: str, platform: str) -> jinja2.Template:
        names = [f"{language}/{kind}.{platform}.j2", f"{language}/{kind}.j2"]
        for name in names:
            try:
                return self.env.get_template(name)
            except jinja2.TemplateNotFound:
                continue
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateError(
                    f"{self.folder / (exc.name or name)}, line {exc.lineno}: {exc.message}"
                ) from None
            except UnicodeDecodeError as exc:
                raise TemplateError(
                    f"{self.folder / name}: not UTF-8 text (byte {exc.start})"
                ) from None
        raise TemplateError(
            f"no template for language {language!r}, kind {kind!r}: create {self.folder / names[1]}"
        )

    def check_all(self, languages: list[str]) -> None:
        """Compile every template the given languages need and render each with a sample
        context (every optional value present, then every one absent), so a misspelt variable
        or attribute is refused at start, not when some item happens to need that branch."""
        for language in languages:
            for kind in KINDS:
                for platform in PLATFORMS:
                    template = self.get(language, kind, platform)
                    for context in _sample_contexts(language, kind, platform):
                        try:
                            template.render(context)
                        except Exception as exc:  # any failure here is the template's
                            line = error_line(exc)
                            where = f"{template.filename}{f', line {line}' if line else ''}"
                            message = getattr(exc, "message", None) or str(exc)
                            raise TemplateError(f"{where}: {message}") from None


def _sample_contexts(language: str, kind: str, platform: str) -> list[dict[str, Any]]:
    full = {
        "item_id": "sample",
        "kind": kind,
        "platform": platform,
        "language": language,
        "name": "Sample",
        "aliases": ["Other name"],
        "country": "Country",
        "url": "https://example.org/a",
        "urls": ["https://example.org/a", "https://example.org/b"],
        "departure": {"date": "1 January 2025", "platforms": "Mastodon, Bluesky", "past": True},
        "description": "Sample text.",
        "hashtags": ["#Sample"],
    }
    bare = {
        **full,
        "aliases": [],
        "country": None,
        "urls": ["https://example.org/a"],
        "departure": None,
        "description": None,
        "hashtags": [],
    }
    return [full, bare]


def error_line(exc: BaseException) -> int | None:
    """The template line of a render-time error, from the traceback Jinja2 rewrites."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(".j2"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _bytecode_cache(folder: Path | None) -> jinja2.BytecodeCache | None:
    """Compiled templates kept between runs (keyed by the source's checksum, so an edited
    template is recompiled): saves compiling every template on every start."""
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only home: compile every time
    return jinja2.FileSystemBytecodeCache(str(folder))
