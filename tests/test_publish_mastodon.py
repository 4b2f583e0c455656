"""Publishing to Mastodon, end to end: the real Mastodon.py against the project's test server."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections import Counter

import pytest
from click.testing import CliRunner

from bot.app import App
from bot.cli import cli
from bot.errors import PermanentPublishError, TransientPublishError
from bot.post import OutgoingPost
from bot.poster import Poster, RetryPolicy
from bot.publishing import mastodon_instance
from bot.publishing.mastodon import MastodonPublisher
from bot.rendering import text as rt
from bot.state import Store
from tests.helpers import SITE, account, bundled_dataset, renderer, retry_waits
from tests.support.mastodon_server import MastodonTestServer

TOKEN = "masto-token-0123456789"
START = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)


def _env(
    monkeypatch: pytest.MonkeyPatch, server: MastodonTestServer, sqlite_url: str, **extra: str
) -> None:
    server.add_account(TOKEN, "leavex")
    monkeypatch.setenv("MASTODON_API_BASE_URL", server.base_url)
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("SITE_BASE_URL", SITE)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    for key, value in extra.items():
        monkeypatch.setenv(key, value)


def _post(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["post", *args], catch_exceptions=False)
    return result.exit_code, result.output


def _slot(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def _plain(content: str) -> str:
    text = re.sub(r"<br\s*/?>", "\n", content)
    text = re.sub(r"</p><p>", "\n\n", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _publisher(server: MastodonTestServer) -> MastodonPublisher:
    acct = account(name="m", api_base_url=server.base_url, access_token=_secret(TOKEN))
    return MastodonPublisher(acct, request_timeout=5)


def _secret(value: str) -> object:
    from pydantic import SecretStr

    return SecretStr(value)


def test_every_item_and_language_is_published(
    monkeypatch: pytest.MonkeyPatch, mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """`leavex-bot post` publishes every item in every language with the right language tag,
    the rendered text, clickable links, its picture as media with the alt text in the post's
    language as description, and records each status's id and URL."""
    _env(monkeypatch, mastodon, sqlite_url, LANGUAGE_MODE="all")
    mastodon.set_rate_limit("media", 100)  # 33 uploads at once; real instances take 30/30 min
    for i in range(11):
        code, output = _post("--slot", _slot(i))
        assert code == 0, output
    statuses = mastodon.statuses("leavex")
    dataset = bundled_dataset()
    expected = {
        (i.id, lang)
        for i in dataset
        for lang in ("de", "en", "fr")
        if i.languages() is None or lang in (i.languages() or ())
    }
    with Store(sqlite_url) as store:
        rows = store.history(limit=1000)
    assert {(r.item_id, r.language) for r in rows} == expected
    assert len(expected) == 31
    assert len(statuses) == len(rows) == 33  # 11 slots x 3 languages; German has 9 items
    by_id = {str(s["id"]): s for s in statuses}
    for row in rows:
        status = by_id[row.remote_id or ""]
        assert row.status == "posted"
        assert status["language"] == row.language
        assert status["visibility"] == "public"
        assert status["url"] == row.remote_url
        assert _plain(status["content"]) == row.text
        item = dataset.by_id[row.item_id]
        url = renderer().absolute(item.url)
        assert f'href="{html.escape(url or "")}"' in status["content"]
        picture = renderer().render(item, row.language, "mastodon").picture
        assert picture is not None
        [media] = status["media_attachments"]
        assert media["type"] == "image"
        assert media["description"] == picture.alt
        assert media["meta"]["original"]["width"] == 1200
        assert media["meta"]["focus"] == {"x": 0.0, "y": 0.15}


def test_same_slot_twice_posts_once(
    monkeypatch: pytest.MonkeyPatch, mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """Running `post` twice for one slot makes one status."""
    _env(monkeypatch, mastodon, sqlite_url)
    assert _post("--slot", _slot(0))[0] == 0
    assert _post("--slot", _slot(0))[0] == 0
    assert len(mastodon.statuses("leavex")) == 1


def test_idempotency_key_is_stable_and_sent(
    monkeypatch: pytest.MonkeyPatch, mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """Every status request carries the Idempotency-Key derived from account and slot."""
    from bot.publishing.base import idempotency_key

    _env(monkeypatch, mastodon, sqlite_url)
    _post("--slot", _slot(0))
    posts = [r for r in mastodon.requests if r.method == "POST" and r.path == "/api/v1/statuses"]
    assert posts[0].headers.get("Idempotency-Key") == idempotency_key(
        "mastodon", "2026-03-01T10:00:00Z"
    )


def test_lost_response_is_retried_without_duplicate(
    mastodon: MastodonTestServer, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """If the server saved the status but the answer was lost, the retry with the same
    Idempotency-Key returns the original status: one status, recorded as posted."""
    caplog.set_level("INFO")
    mastodon.add_account(TOKEN, "leavex")
    mastodon.inject("lost_response")
    mastodon.inject("error_502")
    with Store(sqlite_url) as store:
        poster = Poster(store, bundled_dataset(), renderer(), today=START.date)
        acct = account(name="m", api_base_url=mastodon.base_url, access_token=_secret(TOKEN))
        outcome = poster.run_slot(acct, _publisher(mastodon), START)[0]
        assert outcome.status == "posted"
        assert len(mastodon.statuses("leavex")) == 1
        assert outcome.url == mastodon.statuses("leavex")[0]["url"]
        assert len(retry_waits(caplog.records)) == 2


def test_rate_limit_waits_until_reset(
    mastodon: MastodonTestServer, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A 429 (no Retry-After) waits until X-RateLimit-Reset, then posts."""
    caplog.set_level("INFO")
    mastodon.add_account(TOKEN, "leavex")
    mastodon.inject("rate_limit", reset_in=40)
    with Store(sqlite_url) as store:
        poster = Poster(store, bundled_dataset(), renderer(), today=START.date)
        acct = account(name="m", api_base_url=mastodon.base_url, access_token=_secret(TOKEN))
        assert poster.run_slot(acct, _publisher(mastodon), START)[0].status == "posted"
    waits = retry_waits(caplog.records)
    assert len(waits) == 1
    assert 35 <= waits[0] <= 41


def test_rate_limit_beyond_budget_fails_the_slot(
    mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """A rate limit resetting in 3 hours fails the slot with the reason instead of hanging."""
    mastodon.add_account(TOKEN, "leavex")
    mastodon.inject("rate_limit", reset_in=3 * 3600)
    with Store(sqlite_url) as store:
        poster = Poster(
            store,
            bundled_dataset(),
            renderer(),
            today=START.date,
            retry=RetryPolicy(budget=300),
        )
        acct = account(name="m", api_base_url=mastodon.base_url, access_token=_secret(TOKEN))
        outcome = poster.run_slot(acct, _publisher(mastodon), START)[0]
    assert outcome.status == "failed"
    assert outcome.error is not None and "429" in outcome.error


def test_error_mapping(mastodon: MastodonTestServer) -> None:
    """5xx and dropped connections are transient; a bad token and 422 are permanent."""
    mastodon.add_account(TOKEN, "leavex")
    publisher = _publisher(mastodon)
    post = OutgoingPost("m", "mastodon", "x", "en", START, "hello", (), None, key="k1")
    for fault in ("error_500", "error_503", "drop"):
        mastodon.inject(fault)  # type: ignore[arg-type]
        with pytest.raises(TransientPublishError):
            publisher.publish(post)
    mastodon.max_characters = 5
    with pytest.raises(PermanentPublishError) as info:
        publisher.publish(
            OutgoingPost("m", "mastodon", "x", "en", START, "too long text", (), None, key="k2")
        )
    assert info.value.status == 422
    bad = MastodonPublisher(
        account(name="m", api_base_url=mastodon.base_url, access_token=_secret("wrong-token")),
        request_timeout=5,
    )
    with pytest.raises(PermanentPublishError, match="access token was rejected") as info:
        bad.publish(post)
    assert info.value.status == 401


def test_instance_limits_drive_rendering(mastodon: MastodonTestServer, sqlite_url: str) -> None:
    """An instance allowing 1000 characters gets full descriptions; one allowing 300 gets
    shortened ones that it accepts."""
    mastodon.add_account(TOKEN, "leavex")
    mastodon.max_characters = 1000
    assert _publisher(mastodon).limits.max_graphemes == 1000
    mastodon.max_characters = 300
    assert _publisher(mastodon).limits.max_graphemes == 1000  # the server's answer is kept
    mastodon_instance.forget_all()  # … for KEEP_S (six hours)
    publisher = _publisher(mastodon)
    assert publisher.limits.max_graphemes == 300
    with Store(sqlite_url) as store:
        poster = Poster(store, bundled_dataset(), renderer(), today=START.date)
        acct = account(
            name="m", languages=("en",), api_base_url=mastodon.base_url, access_token=_secret(TOKEN)
        )
        for i in range(11):
            assert poster.run_slot(acct, publisher, START + dt.timedelta(days=i))[0].status == (
                "posted"
            )
    for status in mastodon.statuses("leavex"):
        assert rt.mastodon_length(_plain(status["content"])) <= 300


def test_instance_fallbacks(mastodon: MastodonTestServer) -> None:
    """Without /api/v2/instance the v1 limits are used; without either, 500/23."""
    mastodon.add_account(TOKEN, "leavex")
    mastodon.max_characters = 777
    mastodon.instance_v2_enabled = False
    assert _publisher(mastodon).limits.max_graphemes == 777
    mastodon.instance_error = 503
    mastodon_instance.forget_all()
    limits = _publisher(mastodon).limits
    assert (limits.max_graphemes, limits.url_length) == (500, 23)


def test_failing_account_does_not_stop_others(
    monkeypatch: pytest.MonkeyPatch, mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """A rejected token is recorded as failed with the server's error and shown in history,
    while the other account posts."""
    _env(monkeypatch, mastodon, sqlite_url)
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "revoked-token-xyz")
    monkeypatch.setenv("ACCOUNTS__GOOD__PLATFORM", "mastodon")
    monkeypatch.setenv("ACCOUNTS__GOOD__API_BASE_URL", mastodon.base_url)
    monkeypatch.setenv("ACCOUNTS__GOOD__ACCESS_TOKEN", TOKEN)
    code, _ = _post("--slot", _slot(0))
    assert code == 1
    assert len(mastodon.statuses("leavex")) == 1
    result = CliRunner().invoke(cli, ["history"], catch_exceptions=False)
    assert re.search(r"mastodon\s+failed .*401 .*access token is invalid", result.output)
    assert re.search(r"good\s+posted .*http://127\.0\.0\.1:\d+/@leavex/\d+", result.output)
    assert "revoked-token-xyz" not in result.output


def test_statuses_are_spread_over_languages(
    monkeypatch: pytest.MonkeyPatch, mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """In rotate mode consecutive slots post de, en, fr in turn, each tagged accordingly."""
    _env(monkeypatch, mastodon, sqlite_url)
    for i in range(6):
        assert _post("--slot", _slot(i))[0] == 0
    langs = [s["language"] for s in mastodon.statuses("leavex")]
    assert langs == ["de", "en", "fr", "de", "en", "fr"]
    assert Counter(langs) == {"de": 2, "en": 2, "fr": 2}


def test_app_uses_real_publisher(
    monkeypatch: pytest.MonkeyPatch, mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """With credentials configured, the app builds a Mastodon publisher, not the console."""
    _env(monkeypatch, mastodon, sqlite_url)
    app = App.load()
    publisher = app.publisher(app.accounts[0])
    assert isinstance(publisher, MastodonPublisher)
    app.close()


def test_check_online_reports_account_and_limits(
    monkeypatch: pytest.MonkeyPatch, mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """`check --online` verifies the token, reports the instance's limits, renders with them,
    and posts nothing."""
    _env(monkeypatch, mastodon, sqlite_url)
    mastodon.max_characters = 640
    result = CliRunner().invoke(cli, ["check", "--online"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "mastodon (mastodon): ok, user @leavex, max_characters 640" in result.output
    assert re.search(r"^helloquitx\s+en\s+\d+/640", result.output, re.MULTILINE)
    assert mastodon.statuses("leavex") == []
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "not-the-token")
    result = CliRunner().invoke(cli, ["check", "--online"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "FAILED" in result.output
    assert "not-the-token" not in result.output


def test_retract_deletes_and_marks(
    monkeypatch: pytest.MonkeyPatch, mastodon: MastodonTestServer, sqlite_url: str
) -> None:
    """`retract ITEM` deletes that item's statuses and marks them retracted; others stay."""
    _env(monkeypatch, mastodon, sqlite_url, LANGUAGE_MODE="all")
    _post("--slot", _slot(0))
    _post("--slot", _slot(1))
    assert len(mastodon.statuses("leavex")) == 6
    result = CliRunner().invoke(cli, ["retract", "helloquitx"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("deleted") == 3
    assert len(mastodon.statuses("leavex")) == 3
    with Store(sqlite_url) as store:
        statuses = {r.status for r in store.history(item_id="helloquitx")}
    assert statuses == {"retracted"}
    again = CliRunner().invoke(cli, ["retract", "helloquitx"], catch_exceptions=False)
    assert "nothing posted" in again.output
