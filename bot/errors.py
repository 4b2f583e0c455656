"""The bot's exception tree.

Everything the bot raises on purpose derives from :class:`BotError`, so the CLI can turn it into
a clean message and an exit code at one place. Platform SDK exceptions (Mastodon.py, atproto) are
translated into this tree inside their publisher; nothing above the publishers imports an SDK.

::

    BotError
    ├── InputError                 bad operator input: exit code 2, nothing posted, no state change
    │   ├── ConfigError            environment variables / env file
    │   ├── DatasetError           data/*.toml
    │   ├── TemplateError          templates/*.j2 (syntax, undefined variables)
    │   └── ImportSiteError        the website's pages given to ``import-site``
    ├── RenderError                an item cannot be rendered within a platform's limits
    ├── StateError                 the state database
    └── PublishError               a platform refused or failed a post
        ├── TransientPublishError  worth retrying (timeouts, 5xx, 429); carries ``retry_after``
        └── PermanentPublishError  retrying cannot help (401/403/422, bad credentials)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class BotError(Exception):
    """Base class of every error the bot raises on purpose."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with operator input: where it is and why it is wrong."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class InputError(BotError):
    """Operator input is malformed. Lists every problem found, not only the first."""

    exit_code = 2
    title = "invalid input"

    def __init__(self, problems: Iterable[Problem] | str, *, source: str = "") -> None:
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        self.problems: list[Problem] = list(problems)
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.title} ({self.source})" if self.source else self.title
        if len(self.problems) == 1:
            return f"{head}: {self.problems[0]}"
        lines = [f"{head}: {len(self.problems)} problems"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class ConfigError(InputError):
    """The configuration (environment variables or env file) is invalid."""

    title = "invalid configuration"


class DatasetError(InputError):
    """The dataset in ``DATA_DIR`` is invalid."""

    title = "invalid dataset"


class TemplateError(InputError):
    """A template in ``TEMPLATES_DIR`` is invalid or uses an undefined variable."""

    title = "invalid template"


class ImportSiteError(InputError):
    """A page given to ``import-site`` cannot be imported."""

    title = "cannot import site"


class RenderError(BotError):
    """An item cannot be rendered within a platform's limits without cutting what must stay."""


class StateError(BotError):
    """The state database cannot be used."""


class PublishError(BotError):
    """A platform refused or failed to publish."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class TransientPublishError(PublishError):
    """A failure that may go away: network errors, timeouts, 5xx, rate limits."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status)


class PermanentPublishError(PublishError):
    """A failure that retrying cannot fix: bad credentials, rejected content."""
