"""Contract test: the Mastodon test server against real recorded Mastodon responses.

The cassettes in ``../shared/mastodon/cassettes`` are Mastodon.py's VCR recordings of a real
Mastodon 4.6.4 (plus two GETs from production mastodon.social).  Every interaction is one test
case: the interactions before it are replayed against a fresh server (so ids and state line
up), then its request is sent and the answer compared with the recording:

* the status code;
* the JSON shape: the same keys at every level and compatible value types (null matches any
  type, an empty list matches any list); values are not compared.  The production cassette is
  compared one way only (every recorded key must exist), because it shows another server
  version and remote accounts;
* headers: Content-Type and Cache-Control equal; X-RateLimit-Limit equal, Remaining a number
  within it, Reset an ISO-8601 timestamp with microseconds and ``Z`` aligned to the same
  rate-limit family's window as the recording (5 min, 30 min for deletes, 3 h for posting);
  WWW-Authenticate equal on 401; Deprecation and Link present exactly when recorded; never a
  Retry-After.

Skipped interactions (listed as skipped cases, with the reason):

* video uploads (``POST /api/v2/media`` answered 202, then ``GET /api/v1/media/:id``): the test
  server takes images only, as the bot posts pictures only (image uploads are replayed);
* posts with a video's ``media_ids[]``: replayed without ``media_ids[]`` as stand-ins so that
  later interactions (deleting them) still line up and are compared;
* ``test_scheduled_status.yaml``: scheduled statuses are not implemented (the bot schedules
  its posts itself).

The test server answers an unknown ``GET /api/v1/statuses/:id`` with ``Record not found``,
while the recording of ``/api/v1/statuses/0`` says ``Not Found``; only the shape is compared.
"""

from __future__ import annotations

import http.client
import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from tests.support.mastodon_server import MastodonTestServer

yaml = pytest.importorskip("yaml")

CASSETTES = Path(__file__).resolve().parents[1].parent / "shared" / "mastodon" / "cassettes"
# Recorded against production mastodon.social (another version, remote accounts).
PRODUCTION_CASSETTES = frozenset({"test_entity_status.yaml"})
MAIN_TOKEN = "__MASTODON_PY_TEST_ACCESS_TOKEN"
# token in the cassettes -> (username, locale, default posting language)
ACCOUNTS: dict[str, tuple[str, str, str | None]] = {
    "__MASTODON_PY_TEST_ACCESS_TOKEN": ("mastodonpy_test", "ja", "en"),
    "__MASTODON_PY_TEST_ACCESS_TOKEN_2": ("admin", "en", None),
    "__MASTODON_PY_TEST_ACCESS_TOKEN_3": ("mastodonpy_test_2", "ja", None),
}
RESET_FORMAT = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")
STATUS_PATH = re.compile(r"/api/v1/statuses/(\d+)")

MEDIA_SKIP = "video uploads (processed asynchronously, 202) are not implemented by the test server"
MEDIA_POST_SKIP = (
    "needs a video attachment (not implemented); replayed without "
    "media_ids[] only so that later interactions line up"
)
SCHEDULED_SKIP = "scheduled statuses are not implemented (the bot schedules its posts itself)"


@dataclass(frozen=True)
class Interaction:
    cassette: str
    index: int
    method: str
    path: str
    query: str
    request_headers: dict[str, str]
    request_body: str | bytes | None
    status: int
    response_headers: dict[str, str]
    response_body: str

    @property
    def body_text(self) -> str:
        return self.request_body if isinstance(self.request_body, str) else ""

    @property
    def skip_reason(self) -> str | None:
        if self.path.startswith(("/api/v2/media", "/api/v1/media")) and self.video:
            return MEDIA_SKIP
        if "scheduled" in self.path or "scheduled_at=" in self.body_text:
            return SCHEDULED_SKIP
        if self.is_media_post and self.status == 200 and _video_cassette(self.cassette):
            return MEDIA_POST_SKIP
        return None

    @property
    def video(self) -> bool:
        """A media request of a video (images are implemented; videos are not)."""
        body = self.request_body
        return (isinstance(body, bytes) and b"Content-Type: video/" in body) or (
            '"type":"video"' in self.response_body
        )

    @property
    def is_media_post(self) -> bool:
        return self.method == "POST" and "media_ids" in self.body_text

    @property
    def production(self) -> bool:
        return self.cassette in PRODUCTION_CASSETTES


def _video_cassette(name: str) -> bool:
    return any(i.video for i in load_cassette(name))


def _first(values: Any) -> str:
    if isinstance(values, list):
        return str(values[0]) if values else ""
    return str(values)


@cache
def load_cassette(name: str) -> tuple[Interaction, ...]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with (CASSETTES / name).open(encoding="utf-8") as stream:
        data = yaml.load(stream, Loader=loader)
    interactions = []
    for index, item in enumerate(data["interactions"]):
        request, response = item["request"], item["response"]
        split = urlsplit(request["uri"])
        body = response["body"].get("string", "")
        interactions.append(
            Interaction(
                cassette=name,
                index=index,
                method=request["method"],
                path=split.path,
                query=split.query,
                request_headers={k: _first(v) for k, v in request["headers"].items()},
                request_body=request["body"],
                status=int(response["status"]["code"]),
                response_headers={k.lower(): _first(v) for k, v in response["headers"].items()},
                response_body=body.decode("utf-8") if isinstance(body, bytes) else body,
            )
        )
    return tuple(interactions)


def _case_id(interaction: Interaction) -> str:
    stem = interaction.cassette.removesuffix(".yaml").removeprefix("test_")
    label = f"{stem}-{interaction.index}-{interaction.method}-{interaction.path}"
    return re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_")


def _cases() -> list[Any]:
    if not CASSETTES.is_dir():
        return [pytest.param(None, id="cassettes-missing")]
    cases = []
    for path in sorted(CASSETTES.glob("*.yaml")):
        for interaction in load_cassette(path.name):
            reason = interaction.skip_reason
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            cases.append(pytest.param(interaction, id=_case_id(interaction), marks=marks))
    return cases


# -- replay -----------------------------------------------------------------------------------


class Replayer:
    """Sends recorded requests to a fresh server, translating recorded ids to its ids."""

    def __init__(self, server: MastodonTestServer) -> None:
        self.server = server
        self.ids: dict[str, str] = {}
        for token, (username, locale, language) in ACCOUNTS.items():
            server.add_account(token, username, locale=locale, default_language=language)

    def translate(self, text: str) -> str:
        for recorded, ours in self.ids.items():
            text = text.replace(recorded, ours)
        return text

    def seed_missing_status(self, interaction: Interaction) -> None:
        """Create a stand-in for a status the recording GETs but never created."""
        match = STATUS_PATH.fullmatch(interaction.path)
        if interaction.method != "GET" or match is None or interaction.status != 200:
            return
        if match.group(1) in self.ids:
            return
        recorded = json.loads(interaction.response_body)
        token = interaction.request_headers.get("Authorization", "").removeprefix("Bearer ")
        owner = ACCOUNTS.get(token, ACCOUNTS[MAIN_TOKEN])[0]
        if "application" not in recorded:  # another account's status
            owner = recorded["account"]["username"]
            self.server.add_account(f"seed-{owner}", owner)
        created = self.server.create_status(owner, "seeded stand-in")
        self.ids[match.group(1)] = created["id"]

    def send(self, interaction: Interaction) -> tuple[int, dict[str, str], str]:
        self.seed_missing_status(interaction)
        body = interaction.request_body
        if isinstance(body, str):
            if interaction.skip_reason == MEDIA_POST_SKIP:
                pairs = parse_qsl(body, keep_blank_values=True)
                body = urlencode([(k, v) for k, v in pairs if not k.startswith("media_ids")])
            body = self.translate(body)
        headers = {
            name: value
            for name, value in interaction.request_headers.items()
            if name in ("Authorization", "Content-Type")
        }
        if headers.get("Authorization") == "DUMMY":  # the production recording's filtered token
            headers["Authorization"] = f"Bearer {MAIN_TOKEN}"
        target = self.translate(interaction.path)
        if interaction.query:
            target += "?" + interaction.query
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            data = body.encode("utf-8") if isinstance(body, str) else body
            connection.request(interaction.method, target, body=data, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8")
            response_headers = {name.lower(): value for name, value in response.getheaders()}
        finally:
            connection.close()
        self.remember_ids(interaction, text)
        return response.status, response_headers, text

    def remember_ids(self, interaction: Interaction, ours: str) -> None:
        if not interaction.path.startswith(("/api/v1/statuses", "/api/v2/media")):
            return
        try:
            recorded_body, our_body = json.loads(interaction.response_body), json.loads(ours)
        except json.JSONDecodeError:
            return
        both = isinstance(recorded_body, dict) and isinstance(our_body, dict)
        if both and "id" in recorded_body and "id" in our_body:
            self.ids.setdefault(str(recorded_body["id"]), str(our_body["id"]))


# -- comparison -------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def shape_mismatches(
    recorded: Any, ours: Any, where: str = "$", *, exact: bool = True
) -> list[str]:
    """Differences between two JSON values' shapes (keys and types), ignoring values."""
    if recorded is None or ours is None:
        return []
    if _kind(recorded) != _kind(ours):
        return [f"{where}: recorded {_kind(recorded)}, server {_kind(ours)}"]
    problems: list[str] = []
    if isinstance(recorded, dict):
        missing = sorted(set(recorded) - set(ours))
        extra = sorted(set(ours) - set(recorded)) if exact else []
        problems += [f"{where}.{key}: missing" for key in missing]
        problems += [f"{where}.{key}: not in the recording" for key in extra]
        for key in sorted(set(recorded) & set(ours)):
            problems += shape_mismatches(recorded[key], ours[key], f"{where}.{key}", exact=exact)
    elif isinstance(recorded, list) and recorded and ours:
        for index, item in enumerate(ours):
            problems += shape_mismatches(recorded[0], item, f"{where}[{index}]", exact=exact)
    return problems


def family_period(method: str, path: str) -> int:
    """The window of the rate-limit family whose headers Mastodon sends for a request."""
    if method == "POST" and path == "/api/v1/statuses":
        return 3 * 3600
    if method == "DELETE" and STATUS_PATH.fullmatch(path):
        return 30 * 60
    if method == "POST" and path in ("/api/v1/media", "/api/v2/media"):
        return 30 * 60
    return 5 * 60


def _reset(value: str) -> datetime:
    assert RESET_FORMAT.match(value), (
        f"X-RateLimit-Reset {value!r} is not like 2026-08-01T15:00:00.627625Z"
    )
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def header_mismatches(interaction: Interaction, ours: dict[str, str], now: datetime) -> list[str]:
    recorded = interaction.response_headers
    problems = []
    for name in ("content-type", "cache-control", "x-ratelimit-limit", "www-authenticate"):
        if recorded.get(name) != ours.get(name):
            problems.append(f"{name}: recorded {recorded.get(name)!r}, server {ours.get(name)!r}")
    for name in ("deprecation", "link", "x-ratelimit-remaining", "x-ratelimit-reset"):
        if (name in recorded) != (name in ours):
            problems.append(f"{name}: recorded {name in recorded}, server {name in ours}")
    if "retry-after" in ours:
        problems.append("retry-after: Mastodon never sends it")
    if "x-ratelimit-remaining" in ours and "x-ratelimit-limit" in ours:
        remaining, limit = ours["x-ratelimit-remaining"], ours["x-ratelimit-limit"]
        if not (remaining.isdigit() and int(remaining) <= int(limit)):
            problems.append(f"x-ratelimit-remaining {remaining!r} not within {limit}")
    if "x-ratelimit-reset" in ours and "x-ratelimit-reset" in recorded:
        period = family_period(interaction.method, interaction.path)
        recorded_reset = _reset(recorded["x-ratelimit-reset"])
        our_reset = _reset(ours["x-ratelimit-reset"])
        assert int(recorded_reset.timestamp()) % period == 0, "the recording's own window"
        if int(our_reset.timestamp()) % period != 0:
            problems.append(f"x-ratelimit-reset {our_reset} not on a {period} s window")
        if not 0 < (our_reset - now).total_seconds() <= period:
            problems.append(f"x-ratelimit-reset {our_reset} not within {period} s of {now}")
    return problems


# -- tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("interaction", _cases())
@pytest.mark.slow  # starts a Mastodon test server per recorded interaction
def test_recorded_interaction(interaction: Interaction | None) -> None:
    """The server answers a recorded request with the recorded status, shape and headers."""
    if interaction is None:
        pytest.skip(f"cassettes not available at {CASSETTES}")
    with MastodonTestServer() as server:
        replayer = Replayer(server)
        for earlier in load_cassette(interaction.cassette)[: interaction.index]:
            if earlier.skip_reason in (None, MEDIA_POST_SKIP):
                replayer.send(earlier)
        status, headers, body = replayer.send(interaction)
        now = server.now()
    assert server.internal_errors == []
    assert status == interaction.status, body
    problems = shape_mismatches(
        json.loads(interaction.response_body), json.loads(body), exact=not interaction.production
    )
    problems += header_mismatches(interaction, headers, now)
    assert problems == []


def test_shape_comparison_detects_differences() -> None:
    """The shape comparison reports missing keys, extra keys and changed types."""
    recorded = {"id": "1", "n": 1, "flag": True, "items": [{"a": 1}], "maybe": None}
    assert shape_mismatches(recorded, dict(recorded)) == []
    assert shape_mismatches(recorded, {**recorded, "maybe": {"x": 1}, "items": []}) == []
    assert shape_mismatches(recorded, {**recorded, "n": 1.5}) == []
    assert shape_mismatches(recorded, {**recorded, "flag": 1}) == [
        "$.flag: recorded bool, server number"
    ]
    assert shape_mismatches(recorded, {**recorded, "items": [{"b": 1}]}) == [
        "$.items[0].a: missing",
        "$.items[0].b: not in the recording",
    ]
    without_id = {k: v for k, v in recorded.items() if k != "id"}
    assert shape_mismatches(recorded, without_id) == ["$.id: missing"]
    assert shape_mismatches(recorded, {**recorded, "new": 1}, exact=False) == []


def test_recorded_windows_match_family_periods() -> None:
    """Rate-limit families are identified by request, as the recordings' Reset values show."""
    assert family_period("POST", "/api/v1/statuses") == 10800
    assert family_period("DELETE", "/api/v1/statuses/1") == 1800
    assert family_period("GET", "/api/v1/statuses/1") == 300
