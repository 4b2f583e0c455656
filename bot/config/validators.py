"""Checks shared by the settings and the named accounts: each returns the value or raises
ValueError with a message an operator can act on (values that may be secrets are not shown)."""

from __future__ import annotations

import re


def empty_is_unset(value: object) -> object:
    """``NAME=`` (as config.example.env has it) leaves an optional setting unset."""
    return None if isinstance(value, str) and not value.strip() else value


def split_list(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def check_languages(codes: list[str] | None) -> list[str] | None:
    if codes is None:
        return None
    if not codes:
        raise ValueError("needs at least one language, e.g. de,en,fr")
    for code in codes:
        if not re.fullmatch(r"[a-z]{2}", code):
            raise ValueError(f"{code!r} is not an ISO 639-1 language code like de, en or fr")
    if len(set(codes)) != len(codes):
        raise ValueError("lists a language twice")
    return codes


_CRON_PART = r"(?:\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/[0-9]+)?"
_CRON_FIELD = re.compile(rf"{_CRON_PART}(?:,{_CRON_PART})*", re.IGNORECASE)


def check_cron(expression: str | None) -> str | None:
    if expression is None:
        return None
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"{expression!r} is not a 5-field cron expression (minute hour day month weekday),"
            " e.g. '0 10 * * *'"
        )
    bad = [field for field in fields if not _CRON_FIELD.fullmatch(field)]
    if bad:
        raise ValueError(f"{expression!r} is not a valid cron expression: cannot read {bad[0]!r}")
    from bot.schedule import check_schedule  # read exactly as the worker will read it

    check_schedule(expression)
    return expression


def check_language(code: str | None) -> str | None:
    if code is not None and not re.fullmatch(r"[a-z]{2}", code):
        raise ValueError(f"{code!r} is not an ISO 639-1 language code (or empty to skip)")
    return code


def check_http_url(url: str | None) -> str | None:
    if url is None:
        return None
    url = url.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/?#]+(?::\d+)?(?:/\S*)?", url):
        # Quote the value only if it looks like a URL: a token pasted on the wrong line must
        # not be printed.
        shown = f"{url!r} is" if re.match(r"https?://", url) else "the value is"
        raise ValueError(f"{shown} not an http(s) URL such as https://example.org")
    return url


def check_server_url(url: str | None) -> str | None:
    """A Mastodon instance or a Bluesky PDS: the server only (both serve their API from the
    root), not a profile page pasted from the browser."""
    url = check_http_url(url)
    if url is None:
        return None
    path = re.sub(r"^https?://[^/?#]+", "", url)
    if path:
        server = url[: len(url) - len(path)]
        raise ValueError(f"{url!r} has a path ({path}): write the server only, e.g. {server}")
    return url


_HANDLE = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE
)
_DID = re.compile(r"did:[a-z]+:[a-zA-Z0-9._:%-]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def check_handle(handle: str | None) -> str | None:
    """A Bluesky login: a handle (``leavex.bsky.social``; a leading '@' as the apps show it
    is dropped), a DID or the account's e-mail address."""
    if handle is None:
        return None
    handle = handle.strip().removeprefix("@")
    if (len(handle) <= 253 and _HANDLE.fullmatch(handle)) or _DID.fullmatch(handle):
        return handle
    if _EMAIL.fullmatch(handle):
        return handle
    raise ValueError(
        f"{handle!r} is not a Bluesky handle such as leavex.bsky.social (nor a DID or an"
        " e-mail address)"
    )


_ACCOUNT_NAME = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?")


def check_account_name(name: str) -> str:
    if not _ACCOUNT_NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} cannot name an account: use 1 to 40 letters, digits, - and _"
            " (ACCOUNTS__<NAME>__PLATFORM=…)"
        )
    return name


#: Stands for the account's variable prefix (ACCOUNTS__<NAME>) in validation messages.
ACCOUNT = "<ACCOUNT>"
