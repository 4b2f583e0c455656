"""Alerts through the worker's own path (``run_once`` and the worker's missed slots) and real
Apprise, to a JSON webhook receiver on 127.0.0.1: one alert per kind of problem, however often
it happens, a recovery note when the account posts again, and never a secret in the text."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any, TextIO

import pytest

from bot.alerts import classify
from bot.app import App
from bot.config import Account, Settings
from bot.errors import PermanentPublishError, TransientPublishError
from bot.post import DEFAULT_LIMITS, OutgoingPost, Published
from bot.poster import Outcome
from bot.worker import Worker, run_once
from tests.helpers import SITE, write_item
from tests.support.webhook import WebhookReceiver

pytestmark = pytest.mark.slow  # starts the webhook receiver

TOKEN = "alert-test-token-SECRET-0987"
ITEMS = """
[open-call]
kind = "initiative"
name = "Open Call"
urls = ["https://open.example.org/call"]
hashtags = ["LeaveX"]

[open-call.description]
en = "An initiative that is still open."
"""


class Scripted:
    """A publisher whose every call raises ``fail`` (or posts when it is ``None``)."""

    def __init__(self, platform: str) -> None:
        self.limits = DEFAULT_LIMITS[platform]
        self.fail: Exception | None = None
        self.sent: list[OutgoingPost] = []

    def publish(self, post: OutgoingPost) -> Published:
        self.sent.append(post)
        if self.fail is not None:
            raise self.fail
        return Published(
            remote_id=str(len(self.sent)), url=f"https://social.example/{len(self.sent)}"
        )

    def close(self) -> None:
        pass


@pytest.fixture
def hook() -> Any:
    with WebhookReceiver() as receiver:
        yield receiver


def _app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, alert_urls: str
) -> tuple[App, dict[str, Scripted]]:
    write_item(tmp_path / "data", ITEMS)
    for name, value in {
        "POST_SCHEDULE": "0 * * * *",
        "POST_LANGUAGES": "en",
        "TIMEZONE": "UTC",
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'state.sqlite3'}",
        "SITE_BASE_URL": SITE,
        "ALERT_URLS": alert_urls,
        "ACCOUNTS__M1__PLATFORM": "mastodon",
        "ACCOUNTS__M1__API_BASE_URL": "https://social.example",
        "ACCOUNTS__M1__ACCESS_TOKEN": TOKEN,
        # No text in German: nothing is eligible for this account.
        "ACCOUNTS__SILENT__PLATFORM": "mastodon",
        "ACCOUNTS__SILENT__API_BASE_URL": "https://social.example",
        "ACCOUNTS__SILENT__ACCESS_TOKEN": TOKEN + "-2",
        "ACCOUNTS__SILENT__LANGUAGES": "de",
    }.items():
        monkeypatch.setenv(name, value)
    app = App.load()
    publishers: dict[str, Scripted] = {}

    def factory(account: Account, settings: Settings, stream: TextIO, tz: dt.tzinfo) -> Scripted:
        return publishers.setdefault(account.name, Scripted(account.platform))

    app.publisher_factory = factory  # type: ignore[assignment]
    return app, publishers


def test_each_kind_is_alerted_once_and_its_recovery_noted(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    hook: WebhookReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app, _ = _app(monkeypatch, tmp_path, hook.apprise_url(userinfo="alertuser:alertpass-SECRET"))
    m1, silent = app.select("m1")[0], app.select("silent")[0]
    now = app.now().replace(minute=0, second=0, microsecond=0)
    slots = [now + dt.timedelta(hours=h) for h in range(12)]
    scripted = app.publisher(m1)
    assert isinstance(scripted, Scripted)

    # login_failed: the token is rejected (the platform's error even quotes it), twice.
    scripted.fail = PermanentPublishError(f"the access token {TOKEN} was rejected", status=401)
    for slot in slots[0:2]:
        assert [o.status for o in run_once(app, [m1], slot)] == ["failed"]
    # post_failed: the platform refuses the content, twice.
    scripted.fail = PermanentPublishError("Validation failed: text too long", status=422)
    for slot in slots[2:4]:
        assert [o.status for o in run_once(app, [m1], slot)][-1] == "refused"
    # retries_exhausted: no answer to any attempt, twice.
    scripted.fail = TransientPublishError("server error: 503", status=503)
    for slot in slots[4:6]:
        assert [o.status for o in run_once(app, [m1], slot)][-1] == "unknown"
    # nothing_eligible: the German account has nothing to post, twice.
    for slot in slots[0:2]:
        assert [o.status for o in run_once(app, [silent], slot)] == ["nothing-to-post"]
    # slot_missed: the worker could not start two slots within the grace.
    worker = Worker(app)
    for hours in (3, 2):
        worker._slot(m1, now - dt.timedelta(hours=hours), [])
    alerts = hook.wait_for(5)
    titles = sorted(p["title"] for p in alerts)
    assert titles == [
        "leavex-bot: m1: a due slot passed without a post",
        "leavex-bot: m1: a post failed",
        "leavex-bot: m1: a post got no answer after every retry",
        "leavex-bot: m1: the login failed or the token was revoked",
        "leavex-bot: silent: nothing eligible to post: the account stays silent",
    ]
    assert {p["type"] for p in alerts} == {"failure"}

    # m1 posts again: one recovery note naming what cleared.
    scripted.fail = None
    outcomes = run_once(app, [m1], slots[6])
    assert "posted" in [o.status for o in outcomes]
    payloads = hook.wait_for(6)
    assert len(payloads) == 6
    note = payloads[-1]
    assert note["title"] == "leavex-bot: m1 is posting again"
    assert note["type"] == "success"
    for cleared in ("a post failed", "login failed", "no answer", "without a post"):
        assert cleared in note["message"]
    # Posting on: no more notes.
    run_once(app, [m1], slots[7])
    assert len(hook.wait_for(7, timeout=1.0)) == 6

    # Never a secret: not the token (quoted by the platform's error), not ALERT_URLS.
    for _, _, body in hook.raw:
        assert TOKEN.encode() not in body
        assert b"alertpass-SECRET" not in body
    assert "alertpass-SECRET" not in caplog.text
    assert TOKEN not in caplog.text


def test_without_alert_urls_nothing_is_sent_or_recorded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hook: WebhookReceiver
) -> None:
    app, _ = _app(monkeypatch, tmp_path, "")
    run_once(app, app.select("silent"), app.now())
    with app.open_store() as store:
        assert store.open_alerts() == []
    assert hook.wait_for(1, timeout=0.5) == []


def test_a_dead_receiver_never_fails_a_slot(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Alerts that cannot be delivered are logged; the slot's outcome is unchanged."""
    with WebhookReceiver() as receiver:
        url = receiver.apprise_url()
    app, _ = _app(monkeypatch, tmp_path, url)  # nobody listens there any more
    assert [o.status for o in run_once(app, app.select("silent"), app.now())] == ["nothing-to-post"]


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        ("posted", None, "recovered"),
        ("already-posted", None, None),
        ("claimed", None, None),
        ("nothing-to-post", None, "nothing_eligible"),
        ("unknown", "no answer", "retries_exhausted"),
        ("refused", "422 too long", "post_failed"),
        ("failed", "401 the access token was rejected", "login_failed"),
        ("failed", "publish: the server rejected handle 'x'", "login_failed"),
        ("failed", "abandoned: not on the platform", "post_failed"),
        ("failed", "interrupted by shutdown; will be reconciled", None),
    ],
)
def test_classify(status: Any, error: str | None, kind: str | None) -> None:
    assert classify(Outcome("a", "2026-05-04T10:00:00Z", status, error=error)) == kind
