"""Loading the settings: the env file checked line by line first, then every bad variable
reported at once (a :class:`ConfigError`), never a value that may be a secret."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.config.settings import Settings
from bot.config.validators import ACCOUNT
from bot.errors import ConfigError, Problem


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
