"""Publishing to Bluesky, end to end, against a real PDS on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest
from atproto import Client
from click.testing import CliRunner
from pydantic import SecretStr

from bot.cli import cli
from bot.errors import PermanentPublishError
from bot.post import LinkCard, OutgoingPost
from bot.publishing.base import new_tid
from bot.publishing.bluesky import BlueskyPublisher
from bot.rendering import text as rt
from bot.state import Store, StoreVault
from tests.helpers import SITE, account, bundled_dataset, png, renderer
from tests.support.pds import PDS

START = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)


def _env(monkeypatch: pytest.MonkeyPatch, pds: PDS, sqlite_url: str, **extra: str) -> Any:
    user = pds.create_account()
    monkeypatch.setenv("BLUESKY_SERVICE_URL", pds.url)
    monkeypatch.setenv("BLUESKY_HANDLE", user.handle)
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", user.password)
    monkeypatch.setenv("SITE_BASE_URL", SITE)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    return user


def _post(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["post", *args], catch_exceptions=False)
    return result.exit_code, result.output


def _slot(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def _records(pds: PDS, user: Any) -> dict[str, Any]:
    client = Client(base_url=pds.url)
    client.login(user.handle, user.password)
    records: dict[str, Any] = {}
    cursor = None
    for _ in range(20):  # bounded pagination
        page = client.com.atproto.repo.list_records(
            {"repo": user.did, "collection": "app.bsky.feed.post", "limit": 100, "cursor": cursor}
        )
        for rec in page.records:
            records[rec.uri.rsplit("/", 1)[1]] = rec.value
        cursor = page.cursor
        if not cursor:
            break
    return records


def _publisher(pds: PDS, user: Any, sqlite_url: str, **kw: Any) -> BlueskyPublisher:
    acct = account(
        name="sky",
        platform="bluesky",
        service_url=pds.url,
        handle=user.handle,
        app_password=SecretStr(user.password),
    )
    return BlueskyPublisher(acct, StoreVault(sqlite_url), **kw)


def test_every_item_and_language_is_published(
    monkeypatch: pytest.MonkeyPatch, pds: PDS, sqlite_url: str
) -> None:
    """`leavex-bot post` publishes every item in every language; read back from the PDS each
    record has the rendered text, its language, a link card, and facets whose byte slices are
    exactly their (shortened) link or hashtag."""
    user = _env(monkeypatch, pds, sqlite_url, LANGUAGE_MODE="all")
    for i in range(11):
        code, output = _post("--slot", _slot(i))
        assert code == 0, output
    with Store(sqlite_url) as store:
        rows = store.history(limit=1000)
    records = _records(pds, user)
    dataset = bundled_dataset()
    assert len(records) == len(rows) == 33
    assert {(r.item_id, r.language) for r in rows} == {
        (i.id, lang)
        for i in dataset
        for lang in ("de", "en", "fr")
        if i.languages() is None or lang in (i.languages() or ())
    }
    for row in rows:
        assert row.status == "posted"
        assert row.remote_url == f"https://bsky.app/profile/{user.handle}/post/{row.remote_id}"
        record = records[row.remote_id or ""]
        assert record.text == row.text
        assert record.langs == [row.language]
        assert rt.graphemes(record.text) <= 300
        item = dataset.by_id[row.item_id]
        main_url = renderer().absolute(item.url)
        assert record.embed.external.uri == main_url
        assert record.embed.external.title == item.name_in(row.language)
        thumb = record.embed.external.thumb  # the share card
        assert thumb is not None
        assert thumb.mime_type == "image/png"
        assert 0 < thumb.size <= 1_000_000
        raw = record.text.encode("utf-8")
        assert record.facets
        links, tags = [], []
        for facet in record.facets:
            shown = raw[facet.index.byte_start : facet.index.byte_end].decode("utf-8")
            feature = facet.features[0]
            if feature.py_type == "app.bsky.richtext.facet#link":
                assert shown == rt.short_url(feature.uri)
                links.append(feature.uri)
            else:
                assert feature.py_type == "app.bsky.richtext.facet#tag"
                assert shown == f"#{feature.tag}"
                tags.append(feature.tag.casefold())
        assert main_url in links
        assert {renderer().absolute(u) for u in item.urls} == set(links)
        assert {t.casefold() for t in item.hashtags} <= set(tags)


def test_retry_with_same_record_key_creates_once(pds: PDS, sqlite_url: str) -> None:
    """Sending the same post twice with its record key leaves one record (create-once)."""
    user = pds.create_account()
    publisher = _publisher(pds, user, sqlite_url)
    post = OutgoingPost("sky", "bluesky", "x", "en", START, "exactly once", (), None, key=new_tid())
    first = publisher.publish(post)
    second = publisher.publish(post)
    assert first == second
    records = _records(pds, user)
    assert list(records) == [post.key]
    publisher.close()


def test_session_is_reused_across_processes_under_rate_limits(
    monkeypatch: pytest.MonkeyPatch,
    pds_rate_limited: PDS,
    sqlite_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With the PDS's real limits (30 logins / 5 min), 35 separate `post` runs all succeed:
    the first logs in once, every later run reuses the stored session (0 logins)."""
    _env(monkeypatch, pds_rate_limited, sqlite_url)
    caplog.set_level(logging.INFO)
    for i in range(35):
        code, output = _post("--slot", _slot(i))
        assert code == 0, output
    logins = [r for r in caplog.records if getattr(r, "event", None) == "bluesky.login"]
    reused = [r for r in caplog.records if getattr(r, "event", None) == "bluesky.session_reused"]
    assert len(logins) == 1
    assert len(reused) == 34


def test_rejected_session_logs_in_again_once(pds: PDS, sqlite_url: str) -> None:
    """A stored session the server rejects is replaced by one fresh login, and posting goes on."""
    user = pds.create_account()
    first = _publisher(pds, user, sqlite_url)
    first.publish(OutgoingPost("sky", "bluesky", "x", "en", START, "one", (), None, new_tid()))
    assert first.logins == 1
    vault = StoreVault(sqlite_url)
    key = first.session_key
    parts = (vault.get_value(key) or "").split(":::")
    parts[2] = parts[2][:-4] + "AAAA"  # a corrupted access token: the server answers 400/401
    parts[3] = parts[3][:-4] + "AAAA"
    vault.set_value(key, ":::".join(parts))
    second = _publisher(pds, user, sqlite_url)
    second.publish(OutgoingPost("sky", "bluesky", "x", "en", START, "two", (), None, new_tid()))
    assert second.logins == 1
    third = _publisher(pds, user, sqlite_url)
    third.publish(OutgoingPost("sky", "bluesky", "x", "en", START, "three", (), None, new_tid()))
    assert third.logins == 0
    assert len(_records(pds, user)) == 3


def test_bad_password_is_a_permanent_error(pds: PDS, sqlite_url: str) -> None:
    """A wrong app password fails permanently with advice, and the password is not shown."""
    user = pds.create_account()
    acct = account(
        name="sky",
        platform="bluesky",
        service_url=pds.url,
        handle=user.handle,
        app_password=SecretStr("wrong-password-42"),
    )
    publisher = BlueskyPublisher(acct, StoreVault(sqlite_url))
    with pytest.raises(PermanentPublishError, match="app password") as info:
        publisher.publish(
            OutgoingPost("sky", "bluesky", "x", "en", START, "x", (), None, new_tid())
        )
    assert "wrong-password-42" not in str(info.value)


def test_link_card_thumbnail_only_under_one_megabyte(
    pds: PDS, sqlite_url: str, tmp_path: Path
) -> None:
    """A small picture becomes the card's thumbnail; one over 1,000,000 bytes is left out and
    the post still goes out with its card."""
    (tmp_path / "small.png").write_bytes(png(2_000))
    (tmp_path / "big.png").write_bytes(png(1_100_000))
    user = pds.create_account()
    publisher = _publisher(pds, user, sqlite_url, image_root=tmp_path)
    keys = {}
    for name in ("small.png", "big.png", "missing.png"):
        card = LinkCard("https://example.org", "Title", "Description", thumb=name)
        post = OutgoingPost("sky", "bluesky", "x", "en", START, name, (), card, new_tid())
        publisher.publish(post)
        keys[name] = post.key
    records = _records(pds, user)
    assert records[keys["small.png"]].embed.external.thumb is not None
    assert records[keys["big.png"]].embed.external.thumb is None
    assert records[keys["big.png"]].embed.external.uri == "https://example.org"
    assert records[keys["missing.png"]].embed.external.thumb is None


def test_check_online_and_retract(
    monkeypatch: pytest.MonkeyPatch, pds: PDS, sqlite_url: str
) -> None:
    """`check --online` verifies the Bluesky login; `retract` deletes the item's records."""
    user = _env(monkeypatch, pds, sqlite_url, LANGUAGE_MODE="all")
    result = CliRunner().invoke(cli, ["check", "--online"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"bluesky (bluesky): ok, user @{user.handle}" in result.output
    assert _records(pds, user) == {}
    _post("--slot", _slot(0))
    assert len(_records(pds, user)) == 3
    result = CliRunner().invoke(cli, ["retract", "helloquitx"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("deleted") == 3
    assert _records(pds, user) == {}
