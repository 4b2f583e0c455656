"""What happens to a post, through the whole path (``leavex-bot post`` or the Poster) against
the real PDS, the Mastodon test server, SQLite and PostgreSQL: a picture reaches Bluesky (also
after a crash), an unanswered post is unknown and reconciled, a refused item moves on, a slot
posts an item once per language actually used, and a live lease is respected."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from atproto import Client
from click.testing import CliRunner
from pydantic import SecretStr

from bot.cli import cli
from bot.clock import iso, utcnow
from bot.dataset import load_dataset
from bot.post import PlatformLimits
from bot.poster import Poster, RetryPolicy
from bot.publishing.mastodon import MastodonPublisher
from bot.state import Store
from tests.helpers import ROOT, SITE, RecordingPublisher, account, png, renderer, write_item
from tests.support.mastodon_server import MastodonTestServer
from tests.support.pds import PDS

TOKEN = "outcomes-token-5678"
START = dt.datetime(2026, 6, 1, 10, tzinfo=dt.UTC)
SLOT = "2026-06-01T10:00:00+00:00"


PICTURE_ITEM = """
[pictured]
kind = "initiative"
name = "Pictured"
urls = ["https://pictured.example.org/call"]
hashtags = ["LeaveX"]
image = { file = "img/card.png", alt = { en = "A red square", de = "Ein rotes Quadrat" } }

[pictured.description]
en = "An initiative with a picture on its link card."
de = "Eine Initiative mit einem Bild auf ihrer Linkkarte."
"""


def _bluesky_env(monkeypatch: pytest.MonkeyPatch, pds: PDS, user: Any, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    write_item(data, PICTURE_ITEM)
    (data / "img").mkdir()
    (data / "img" / "card.png").write_bytes(png())
    db = tmp_path / "state.sqlite3"
    for name, value in {
        "BLUESKY_SERVICE_URL": pds.url,
        "BLUESKY_HANDLE": user.handle,
        "BLUESKY_APP_PASSWORD": user.password,
        "BLUESKY_LANGUAGES": "en",
        "POST_LANGUAGES": "en",
        "DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{db}",
        "SITE_BASE_URL": SITE,
    }.items():
        monkeypatch.setenv(name, value)
    return db


def _posted_record(pds: PDS, user: Any, db: Path) -> Any:
    with Store(f"sqlite:///{db}") as store:
        rows = store.history()
    assert [r.status for r in rows] == ["posted"], [(r.status, r.error) for r in rows]
    client = Client(base_url=pds.url)
    client.login(user.handle, user.password, fetch_bsky_profile=False)
    record = client.com.atproto.repo.get_record(
        {"repo": user.did, "collection": "app.bsky.feed.post", "rkey": rows[0].remote_key}
    )
    return client, record.value


def _assert_thumbnail(client: Client, did: str, value: Any) -> None:
    external = value.embed.external
    assert external.uri == "https://pictured.example.org/call"
    assert external.thumb is not None, "the link card has no thumbnail"
    assert external.thumb.mime_type == "image/png"
    cid = str(getattr(external.thumb.ref, "link", external.thumb.ref))
    blob = client.com.atproto.sync.get_blob({"did": did, "cid": cid})
    assert blob == png()


@pytest.mark.slow
def test_picture_reaches_bluesky_through_post(
    pds: PDS, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`leavex-bot post` for an item with an image: the post on the real PDS carries a link
    card whose thumbnail is the item's picture."""
    user = pds.create_account()
    db = _bluesky_env(monkeypatch, pds, user, tmp_path)
    result = CliRunner().invoke(cli, ["post", "--slot", SLOT])
    assert result.exit_code == 0, result.output
    client, value = _posted_record(pds, user, db)
    _assert_thumbnail(client, user.did, value)


CRASH = """
import os, sys, datetime as dt
from bot.app import App
from bot.poster import Poster

app = App.load()
account = app.accounts[0]
limits = app.publisher(account).limits


class Crash:
    limits = limits

    def publish(self, post):
        os._exit(3)  # the process dies after the plan was written, before the platform call

    def close(self):
        pass


with app.open_store() as store:
    Poster(store, app.dataset, app.renderer, today=app.today).run_slot(
        account, Crash(), dt.datetime.fromisoformat(sys.argv[1])
    )
"""


@pytest.mark.slow
def test_picture_survives_a_crash_and_resume(
    pds: PDS, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A process that dies between planning and sending leaves a planned row; `leavex-bot post`
    for the same slot resumes it from the plan, and the post still carries the picture."""
    user = pds.create_account()
    db = _bluesky_env(monkeypatch, pds, user, tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH, SLOT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert crashed.returncode == 3, crashed.stderr
    with Store(f"sqlite:///{db}") as store:
        assert [(r.status, r.attempts) for r in store.history()] == [("planned", 1)]
    result = CliRunner().invoke(cli, ["post", "--slot", SLOT])
    assert result.exit_code == 0, result.output
    client, value = _posted_record(pds, user, db)
    _assert_thumbnail(client, user.did, value)


# -- Mastodon: unknown outcomes, refusals, rotation ----------------------------------------------

TWO_ITEMS = """
[first]
kind = "initiative"
name = "First"
urls = ["https://first.example.org"]
description = { en = "The first initiative." }

[second]
kind = "initiative"
name = "Second"
urls = ["https://second.example.org"]
description = { en = "The second initiative." }
"""


def _mastodon_poster(store: Store, data: Path, **kw: Any) -> Poster:
    return Poster(
        store,
        load_dataset(data),
        renderer(today=START.date()),
        today=START.date,
        retry=RetryPolicy(attempts=3),
        **kw,
    )


def _acct(mastodon: MastodonTestServer) -> Any:
    return account(
        name="m",
        languages=("en",),
        api_base_url=mastodon.base_url,
        access_token=SecretStr(TOKEN),
    )


def _forget_keys(mastodon: MastodonTestServer, store: Store) -> None:
    """Two hours on: the server forgot its Idempotency-Keys, and so did the bot."""
    mastodon.advance(2 * 3600)
    old = iso(utcnow() - dt.timedelta(hours=2))
    store.execute("UPDATE posts SET last_attempt_at = ?", (old,))


@pytest.mark.slow
def test_unanswered_post_is_unknown_then_reconciled(
    mastodon: MastodonTestServer, database_url: str, tmp_path: Path
) -> None:
    """Every answer lost although the server saved the status: the post is unknown (not
    failed), its item counts as posted for the next slot, and the next run asks the server
    and records it posted with its URL — without posting it again."""
    mastodon.add_account(TOKEN, "leavex")
    data = tmp_path / "data"
    write_item(data, TWO_ITEMS)
    acct = _acct(mastodon)
    publisher = MastodonPublisher(acct, request_timeout=5)
    slots = [START + dt.timedelta(hours=i) for i in range(3)]
    with Store(database_url) as store:
        poster = _mastodon_poster(store, data)
        mastodon.inject("lost_response", times=3)
        [first] = poster.run_slot(acct, publisher, slots[0])
        assert (first.status, first.item_id) == ("unknown", "first")
        row = store.history()[0]
        assert row.status == "unknown"
        assert "may have been published" in (row.error or "")
        # The possibly-posted item is not chosen again by the next slot.
        [second] = poster.run_slot(acct, publisher, slots[1])
        assert (second.status, second.item_id) == ("posted", "second")
        _forget_keys(mastodon, store)
        settled = poster.reconcile_pending(acct, publisher, grace=dt.timedelta(days=1))
        assert [(o.status, o.item_id) for o in settled] == [("posted", "first")]
        texts = [s["content"] for s in mastodon.statuses("leavex")]
        assert len(texts) == 2  # the reconciled post was found, not sent again
        by_slot = {r.slot_at: r for r in store.history()}
        assert by_slot[iso(slots[0])].status == "posted"
        assert by_slot[iso(slots[0])].remote_url in [s["url"] for s in mastodon.statuses("leavex")]


@pytest.mark.slow
def test_unknown_post_that_never_went_out_gives_its_place_back(
    mastodon: MastodonTestServer, database_url: str, tmp_path: Path
) -> None:
    """Every attempt answered 503 (nothing saved): unknown at first; once its slot is past
    the catch-up grace the next run finds nothing on the server, records it failed, and the
    item is chosen again (it was never posted)."""
    mastodon.add_account(TOKEN, "leavex")
    data = tmp_path / "data"
    write_item(data, TWO_ITEMS)
    acct = _acct(mastodon)
    publisher = MastodonPublisher(acct, request_timeout=5)
    with Store(database_url) as store:
        poster = _mastodon_poster(store, data)
        mastodon.inject("error_503", times=3)
        assert poster.run_slot(acct, publisher, START)[0].status == "unknown"
        settled = poster.reconcile_pending(acct, publisher, grace=dt.timedelta(0))
        assert [(o.status, o.item_id) for o in settled] == [("failed", "first")]
        assert mastodon.statuses("leavex") == []
        later = START + dt.timedelta(hours=1)
        assert poster.run_slot(acct, publisher, later)[0].item_id == "first"


@pytest.mark.slow
def test_reconciling_an_older_slot_never_moves_its_item_back(
    mastodon: MastodonTestServer, database_url: str, tmp_path: Path
) -> None:
    """An item posted at slot 3 whose older post of slot 1 is reconciled afterwards keeps its
    place after slot 3: slot 4 takes the other item."""
    mastodon.add_account(TOKEN, "leavex")
    data = tmp_path / "data"
    write_item(data, TWO_ITEMS)
    acct = _acct(mastodon)
    publisher = MastodonPublisher(acct, request_timeout=5)
    slots = [START + dt.timedelta(hours=i) for i in range(4)]
    with Store(database_url) as store:
        poster = _mastodon_poster(store, data)
        mastodon.inject("lost_response", times=3)
        chosen = [poster.run_slot(acct, publisher, slots[0])[0]]
        chosen += [poster.run_slot(acct, publisher, slot)[0] for slot in slots[1:3]]
        assert [(o.item_id, o.status) for o in chosen] == [
            ("first", "unknown"),
            ("second", "posted"),
            ("first", "posted"),
        ]
        _forget_keys(mastodon, store)
        settled = poster.reconcile_pending(acct, publisher, grace=dt.timedelta(days=1))
        assert [(o.status, o.item_id) for o in settled] == [("posted", "first")]
        assert poster.run_slot(acct, publisher, slots[3])[0].item_id == "second"


LONG_FIRST = (
    """
[long]
kind = "initiative"
name = "Long"
urls = ["https://long.example.org"]
description = { en = \""""
    + "A description far longer than the server allows. " * 14
    + """\" }
"""
    + TWO_ITEMS
)


@pytest.mark.slow
def test_refused_item_moves_on(
    mastodon: MastodonTestServer,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server refuses an item (422: it counts the text longer than the bot did): the
    refusal is recorded with the server's error, and the following slots post the other
    items instead of the same refused one again and again."""
    mastodon.add_account(TOKEN, "leavex")
    # The bot believes in a larger limit than the server enforces (a counting disagreement).
    monkeypatch.setattr(
        MastodonPublisher,
        "limits",
        property(lambda self: PlatformLimits(5000, url_length=23)),
    )
    data = tmp_path / "data"
    write_item(data, LONG_FIRST)
    acct = _acct(mastodon)
    publisher = MastodonPublisher(acct, request_timeout=5)
    slots = [START + dt.timedelta(hours=i) for i in range(4)]
    with Store(database_url) as store:
        poster = _mastodon_poster(store, data)
        outcomes = [poster.run_slot(acct, publisher, slot)[0] for slot in slots]
        assert [(o.item_id, o.status) for o in outcomes] == [
            ("long", "refused"),
            ("first", "posted"),
            ("second", "posted"),
            ("long", "refused"),
        ]
        refused = store.history(statuses=["refused"])
        assert len(refused) == 2
        assert all("character limit of 500" in (r.error or "") for r in refused)
        # Re-running a refused slot does not send it again.
        again = poster.run_slot(acct, publisher, slots[0])[0]
        assert again.status == "refused"
    assert len(mastodon.statuses("leavex")) == 2


ENGLISH_ONLY_FIRST = """
[english-only]
kind = "initiative"
name = "English only"
urls = ["https://english.example.org"]
description = { en = "Only in English." }

[multilingual]
kind = "initiative"
name = "Multilingual"
urls = ["https://multi.example.org"]
description = { de = "Auf Deutsch.", en = "In English.", fr = "En français." }
"""


def test_one_slot_posts_an_item_once_per_language_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """LANGUAGE_MODE=all with FALLBACK_LANGUAGE=en, through `leavex-bot post` (dry run): an
    item with only English text is posted once per account in the slot, not once per
    language slot; the other language slots take other items."""
    data = tmp_path / "data"
    write_item(data, ENGLISH_ONLY_FIRST)
    for name, value in {
        "DATA_DIR": str(data),
        "LANGUAGE_MODE": "all",
        "FALLBACK_LANGUAGE": "en",
        "POST_LANGUAGES": "de,en,fr",
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["post", "--slot", SLOT])
    assert result.exit_code == 0, result.output
    heads = re.findall(r"^── (\w+) \[\w+, dry run\] · (\w\w) · ([\w-]+)", result.output, re.M)
    for name in ("mastodon", "bluesky"):
        posts = [(item, lang) for acct, lang, item in heads if acct == name]
        assert sorted(posts) == [
            ("english-only", "en"),
            ("multilingual", "en"),
            ("multilingual", "fr"),
        ], posts


# -- claims --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_live_lease_of_another_worker_is_respected(database_url: str, tmp_path: Path) -> None:
    """A post another live worker holds (its lease not over) is neither resumed nor
    reconciled by this worker; once the lease has run out, this worker takes it over."""
    data = tmp_path / "data"
    write_item(data, TWO_ITEMS)
    acct = account(languages=("en",))
    with Store(database_url) as store:
        poster = _mastodon_poster(store, data)
        record, created = store.plan(
            account=acct.name,
            platform="mastodon",
            slot_at=START,
            slot_key=iso(START),
            dry_run=False,
            item_id="first",
            slot_language="en",
            language="en",
            text="First",
            payload="{}",
            remote_key="key",
            owner="another-host:4242:cafe",
            lease_until=utcnow() + dt.timedelta(minutes=10),
            first_attempt=True,
        )
        assert created
        publisher = RecordingPublisher()
        assert [o.status for o in poster.run_slot(acct, publisher, START)] == ["claimed"]
        assert poster.reconcile_pending(acct, publisher, grace=dt.timedelta(days=1)) == []
        assert publisher.sent == []
        store.execute(
            "UPDATE posts SET lease_until = ? WHERE id = ?",
            (iso(utcnow() - dt.timedelta(seconds=1)), record.id),
        )
        assert [o.status for o in poster.run_slot(acct, publisher, START)] == ["posted"]
        assert [p.key for p in publisher.sent] == ["key"]
