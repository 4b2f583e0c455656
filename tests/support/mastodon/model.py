"""The Mastodon test server's data: public types, internal records, messages and helpers.

The fault kinds are shared with the proxy: see :mod:`tests.support.faults`.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from tests.support.faults import FaultKind

# --------------------------------------------------------------------------------------------
# Languages and localized error messages
# --------------------------------------------------------------------------------------------

_ISO_639_1_TEXT = (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu "
    "cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi "
    "ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks "
    "ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl "
    "nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl "
    "sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve "
    "vi vo wa wo xh yi yo za zh zu"
)
_ISO_639_1 = frozenset(_ISO_639_1_TEXT.split())
# Mastodon's SUPPORTED_LOCALES also has some ISO 639-3 codes and regional variants.
_EXTRA_LANGUAGES_TEXT = (
    "ast chr ckb cnr csb gsw jbo kab kmr ldn lfn moh nds pdc sco sma smj szl tai tok zba zgh "
    "es-AR es-MX fr-CA fr-QC pt-BR pt-PT sr-Latn zh-CN zh-HK zh-TW"
)
SUPPORTED_LANGUAGES = _ISO_639_1 | frozenset(_EXTRA_LANGUAGES_TEXT.split())

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "validation": "Validation failed: {}",
        "blank": "Text can't be blank",
        "too_long": "Text character limit of {max} exceeded",
        "visibility": "Visibility is not included in the list",
        "media_not_found": "Media {ids} not found or already attached to another post",
    },
    "de": {
        "validation": "Gültigkeitsprüfung ist fehlgeschlagen: {}",
        "blank": "Text muss ausgefüllt werden",
        "too_long": "Text Begrenzung von {max} Zeichen überschritten",
        "visibility": "Visibility ist kein gültiger Wert",
        "media_not_found": "Die Medien {ids} gibt es nicht, oder sie gehören zu einem Beitrag",
    },
    "ja": {
        "validation": "バリデーションに失敗しました: {}",
        "blank": "Textを入力してください",
        "too_long": "Text上限は{max}文字です",
        "visibility": "Visibilityは一覧にありません",
        "media_not_found": "メディア ({ids}) が存在しないか、すでに添付して投稿されています",
    },
}
NOT_FOUND = "Record not found"
INVALID_TOKEN = "The access token is invalid"
WWW_AUTHENTICATE = (
    'Bearer realm="Doorkeeper", error="invalid_token", '
    'error_description="The access token is invalid"'
)
REPLY_NOT_FOUND = "The post you are trying to reply to does not appear to exist."
VISIBILITIES = ("public", "unlisted", "private", "direct")

# --------------------------------------------------------------------------------------------
# Public data types
# --------------------------------------------------------------------------------------------

RateFamily = Literal["general", "statuses", "deletes", "media", "unauthenticated"]


@dataclass
class RateLimit:
    """A fixed-window limit: ``limit`` requests per ``period`` seconds (windows epoch-aligned)."""

    limit: int
    period: int


@dataclass
class InjectedFault:
    """A queued fault; see :meth:`MastodonTestServer.inject`."""

    kind: FaultKind
    method: str | None
    path: str
    remaining: int
    delay: float = 0.0
    reset_in: float = 60.0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        pattern = normalize_path(self.path)
        if any(c in pattern for c in "*?["):
            return fnmatch.fnmatchcase(path, pattern)
        return path == pattern


@dataclass
class RecordedRequest:
    """One request as the server saw it (the Authorization value is redacted)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, Any]
    time: datetime
    username: str | None = None
    fault: str | None = None
    status: int | None = None  # None: no response was sent (dropped connection)


# --------------------------------------------------------------------------------------------
# Internal state
# --------------------------------------------------------------------------------------------


@dataclass
class Account:
    id: int
    username: str
    locale: str
    display_name: str
    bot: bool
    default_language: str | None
    default_visibility: str
    default_sensitive: bool
    app_name: str
    created_at: datetime
    tokens: set[str] = field(default_factory=set)


@dataclass
class Status:
    id: int
    account: Account
    text: str
    spoiler_text: str
    visibility: str
    language: str | None
    sensitive: bool
    created_at: datetime
    content: str
    mentions: list[dict[str, Any]]
    tags: list[dict[str, Any]]
    application: str
    in_reply_to_id: int | None = None
    in_reply_to_account_id: int | None = None
    replies_count: int = 0
    deleted: bool = False
    media_ids: list[int] = field(default_factory=list)
    #: quote_approval_policy: public | followers | nobody (Mastodon 4.5, API version 7)
    quote_policy: str = "public"
    #: ids of the accounts that favourited it
    favourited_by: set[int] = field(default_factory=set)
    #: a boost: the id of the boosted status (this status has no text of its own)
    reblog_of_id: int | None = None


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    params: dict[str, Any]
    headers: dict[str, str]
    client_ip: str


@dataclass
class Response:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


Result = tuple[int, Any, list[tuple[str, str]]]


@dataclass
class Call:
    request: Request
    account: Account | None
    now: datetime
    args: tuple[str, ...]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def normalize_path(path: str) -> str:
    return path.rstrip("/") or "/"


def iso_ms(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_us(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def truthy(value: Any) -> bool:
    """Rails' boolean casting of a request parameter."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("", "0", "f", "false", "off")


def as_int(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def utcnow() -> datetime:
    return datetime.now(UTC)


BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
UNAVAILABLE_HTML = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
JSON_TYPE = "application/json; charset=utf-8"
INSTANCE_CACHE_CONTROL = "max-age=300, public, stale-while-revalidate=30, stale-if-error=86400"
