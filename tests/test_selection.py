"""Selection and the slot runner: fair, deterministic, never twice for a slot."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter

import pytest

from bot.dataset import Dataset, Item
from bot.errors import PermanentPublishError, TransientPublishError
from bot.poster import Poster, RetryPolicy
from bot.publishing.console import ConsolePublisher
from bot.state import Store
from tests.helpers import RecordingPublisher, account, bundled_dataset, renderer, retry_waits

START = dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)
TODAY = dt.date(2026, 1, 1)


def _poster(store: Store, dataset: Dataset | None = None, **kw: object) -> Poster:
    return Poster(
        store,
        dataset or bundled_dataset(),
        renderer(),
        today=lambda: TODAY,
        **kw,
    )  # type: ignore[arg-type]


def _slots(n: int, hours: int = 24) -> list[dt.datetime]:
    return [START + dt.timedelta(hours=hours * i) for i in range(n)]


def test_fair_rotation_over_many_slots(database_url: str) -> None:
    """Over many slots, no item repeats before every eligible item was posted, per language."""
    with Store(database_url) as store:
        poster = _poster(store)
        acct = account(languages=("en",))
        publisher = RecordingPublisher()
        eligible = [
            i.id
            for i in bundled_dataset()
            if i.languages() is None or "en" in (i.languages() or ())
        ]
        rounds = 4
        for slot in _slots(len(eligible) * rounds):
            poster.run_slot(acct, publisher, slot)
        ids = [p.item_id for p in publisher.sent]
        for r in range(rounds):
            assert sorted(ids[r * len(eligible) : (r + 1) * len(eligible)]) == sorted(eligible)
        assert Counter(ids) == dict.fromkeys(eligible, rounds)


def test_selection_is_deterministic(tmp_path: object) -> None:
    """The same state gives the same choices: two fresh stores pick identical sequences."""
    sequences = []
    for name in ("a", "b"):
        with Store(f"sqlite:///{tmp_path}/{name}.sqlite3") as store:
            poster = _poster(store)
            publisher = RecordingPublisher()
            for slot in _slots(20):
                poster.run_slot(account(), publisher, slot)
            sequences.append([(p.item_id, p.language) for p in publisher.sent])
    assert sequences[0] == sequences[1]


def test_new_item_comes_next(sqlite_url: str) -> None:
    """An item added to the dataset after some posting is posted before any repeat."""
    base = bundled_dataset()
    with Store(sqlite_url) as store:
        publisher = RecordingPublisher()
        acct = account(languages=("en",))
        for slot in _slots(3):
            _poster(store, base).run_slot(acct, publisher, slot)
        extra = Item.model_validate(
            {
                "id": "new-one",
                "kind": "petition",
                "name": "New",
                "urls": ["https://new.example.org"],
            }
        )
        grown = Dataset((*base.items, extra), {**base.sources})
        _poster(store, grown).run_slot(acct, publisher, _slots(4)[-1])
        assert publisher.sent[-1].item_id != publisher.sent[0].item_id
        assert publisher.sent[-1].item_id not in {p.item_id for p in publisher.sent[:3]}


def test_rotate_mode_cycles_languages(sqlite_url: str) -> None:
    """In rotate mode each slot has one post, and the languages take turns in order."""
    with Store(sqlite_url) as store:
        poster = _poster(store)
        publisher = RecordingPublisher()
        for slot in _slots(6):
            assert len(poster.run_slot(account(), publisher, slot)) == 1
        assert [p.language for p in publisher.sent] == ["de", "en", "fr", "de", "en", "fr"]


def test_all_mode_posts_every_language_per_slot(sqlite_url: str) -> None:
    """In all mode a slot posts once per language, each language with its own rotation."""
    with Store(sqlite_url) as store:
        poster = _poster(store)
        publisher = RecordingPublisher()
        outcomes = poster.run_slot(account(language_mode="all"), publisher, START)
        assert [o.language for o in outcomes] == ["de", "en", "fr"]
        assert {o.status for o in outcomes} == {"posted"}


def test_missing_translation_is_skipped_or_falls_back(sqlite_url: str) -> None:
    """Without a fallback, an item lacking German is never posted in the German slot; with
    fallback 'en' it is posted in English there."""
    with Store(sqlite_url) as store:
        publisher = RecordingPublisher()
        for slot in _slots(30):
            _poster(store).run_slot(account(name="skip", languages=("de",)), publisher, slot)
        assert not {"juntas", "x-odus"} & {p.item_id for p in publisher.sent}
        assert {p.language for p in publisher.sent} == {"de"}
        fallback = RecordingPublisher()
        acct = account(name="fb", languages=("de",), fallback_language="en")
        for slot in _slots(30):
            _poster(store).run_slot(acct, fallback, slot)
        juntas = [p for p in fallback.sent if p.item_id == "juntas"]
        assert juntas
        assert {p.language for p in juntas} == {"en"}
        assert "Vámonos juntas" in juntas[0].text


def test_closed_petition_is_never_posted(sqlite_url: str) -> None:
    """A petition whose end date has passed, or an inactive item, is never chosen."""
    closed = Item.model_validate(
        {
            "id": "closed",
            "kind": "petition",
            "name": "Closed",
            "urls": ["https://c.example.org"],
            "ends": "2025-12-31",
        }
    )
    inactive = Item.model_validate(
        {
            "id": "gone",
            "kind": "petition",
            "name": "Gone",
            "urls": ["https://g.example.org"],
            "active": False,
        }
    )
    open_ = Item.model_validate(
        {"id": "open", "kind": "petition", "name": "Open", "urls": ["https://o.example.org"]}
    )
    data = Dataset((closed, inactive, open_), {})
    with Store(sqlite_url) as store:
        publisher = RecordingPublisher()
        for slot in _slots(5):
            _poster(store, data).run_slot(account(languages=("en",)), publisher, slot)
        assert {p.item_id for p in publisher.sent} == {"open"}


def test_a_slot_is_posted_once(database_url: str) -> None:
    """Running the same slot twice publishes once; the second run reports it already posted."""
    with Store(database_url) as store:
        poster = _poster(store)
        publisher = RecordingPublisher()
        first = poster.run_slot(account(), publisher, START)
        second = poster.run_slot(account(), publisher, START)
        assert [o.status for o in first] == ["posted"]
        assert [o.status for o in second] == ["already-posted"]
        assert len(publisher.sent) == 1
        count = store.execute("SELECT COUNT(*) FROM posts").fetchone()[0]
        assert count == 1


def test_unique_constraint_rejects_second_plan(database_url: str) -> None:
    """The database itself refuses a second row for the same account and slot."""
    with Store(database_url) as store:
        kwargs = {
            "account": "a",
            "platform": "mastodon",
            "slot_at": START,
            "slot_key": "k",
            "dry_run": False,
            "item_id": "x",
            "slot_language": "en",
            "language": "en",
            "text": "t",
            "payload": "{}",
            "remote_key": "key",
        }
        first, created = store.plan(**kwargs)  # type: ignore[arg-type]
        again, created_again = store.plan(**{**kwargs, "item_id": "y"})  # type: ignore[arg-type]
        assert created and not created_again
        assert again.id == first.id
        assert again.item_id == "x"


def test_dry_run_never_touches_real_history(sqlite_url: str) -> None:
    """Dry-run posts are remembered separately and never count as really posted."""
    with Store(sqlite_url) as store:
        poster = _poster(store)
        out = io.StringIO()
        poster.run_slot(account(dry_run=True), ConsolePublisher("mastodon", stream=out), START)
        assert "helloquitx" in out.getvalue()
        assert store.history(dry_run=False) == []
        assert len(store.history(dry_run=True)) == 1
        real = RecordingPublisher()
        poster.run_slot(account(), real, START)
        assert real.sent[0].item_id == "helloquitx"  # the dry run did not use up the first item


def test_crash_after_planning_resumes_with_same_key(sqlite_url: str) -> None:
    """A post whose only attempt timed out is unknown, not failed; re-run, it is sent again
    with the same key and text."""
    with Store(sqlite_url) as store:
        poster = _poster(store, retry=RetryPolicy(attempts=1))
        failing = RecordingPublisher(failures=[TransientPublishError("timeout")])
        assert poster.run_slot(account(), failing, START)[0].status == "unknown"
        assert store.history()[0].status == "unknown"
        ok = RecordingPublisher()
        assert poster.run_slot(account(), ok, START)[0].status == "posted"
        assert ok.sent[0].key == failing.sent[0].key
        assert ok.sent[0].text == failing.sent[0].text


def test_transient_errors_are_retried_within_budget(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Transient errors are retried, honouring the server's wait; permanent ones are not."""
    caplog.set_level("INFO")
    with Store(sqlite_url) as store:
        poster = Poster(
            store,
            bundled_dataset(),
            renderer(),
            today=lambda: TODAY,
            retry=RetryPolicy(attempts=4, budget=100),
        )
        flaky = RecordingPublisher(
            failures=[TransientPublishError("busy", retry_after=7.0), TransientPublishError("busy")]
        )
        assert poster.run_slot(account(), flaky, START)[0].status == "posted"
        # the server's wait, then exponential backoff
        assert retry_waits(caplog.records) == [7.0, 4.0]
        rejected = RecordingPublisher(failures=[PermanentPublishError("bad token", status=401)])
        outcome = poster.run_slot(account(name="other"), rejected, START)[0]
        assert outcome.status == "failed"
        assert outcome.error == "401 bad token"
        assert len(rejected.sent) == 1
        row = store.history(account="other")[0]
        assert row.status == "failed"
        assert row.error == "401 bad token"


def test_wait_longer_than_budget_fails_the_slot(sqlite_url: str) -> None:
    """A rate limit that resets after the slot's budget fails the slot instead of hanging
    (the server refused the only attempt: it is not out, so the outcome is known)."""
    with Store(sqlite_url) as store:
        poster = Poster(
            store,
            bundled_dataset(),
            renderer(),
            today=lambda: TODAY,
            retry=RetryPolicy(attempts=4, budget=60),
        )
        error = TransientPublishError("429", status=429, retry_after=100)
        limited = RecordingPublisher(failures=[error])
        assert poster.run_slot(account(), limited, START)[0].status == "failed"
        assert len(limited.sent) == 1


def test_preview_simulates_without_recording(sqlite_url: str) -> None:
    """Preview shows distinct upcoming items and writes nothing."""
    with Store(sqlite_url) as store:
        poster = _poster(store)
        plan = poster.preview(account(languages=("en",)), ConsolePublisher("mastodon"), _slots(5))
        ids = [post.item_id for _, post, _ in plan if post]
        assert len(ids) == 5
        assert len(set(ids)) == 5
        assert store.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 0
        publisher = RecordingPublisher()
        for slot in _slots(5):
            poster.run_slot(account(languages=("en",)), publisher, slot)
        assert [p.item_id for p in publisher.sent] == ids


@pytest.mark.parametrize("mode", ["rotate", "all"])
def test_preview_matches_what_is_posted(sqlite_url: str, mode: str) -> None:
    """What preview shows for the next slots is exactly what those slots then post."""
    acct = account(language_mode=mode)
    with Store(sqlite_url) as store:
        poster = _poster(store)
        plan = poster.preview(acct, ConsolePublisher("mastodon"), _slots(4))
        publisher = RecordingPublisher()
        for slot in _slots(4):
            poster.run_slot(acct, publisher, slot)
        assert [(p.item_id, p.language, p.text) for _, p, _ in plan if p] == [
            (p.item_id, p.language, p.text) for p in publisher.sent
        ]


def test_ineligible_items_are_not_walked_past_each_slot(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of items that can never be chosen (no text in the slot's language) stay out
    of the selection query: after the first slot, a slot looks at only the items it offers."""
    from bot.selection import Selector

    many = [
        Item.model_validate(
            {
                "id": f"en-only-{i}",
                "kind": "initiative",
                "name": f"N{i}",
                "urls": [f"https://x.example.org/{i}"],
                "description": {"en": "text"},
            }
        )
        for i in range(3000)
    ]
    german = Item.model_validate(
        {"id": "de-one", "kind": "petition", "name": "Eins", "urls": ["https://de.example.org"]}
    )
    data = Dataset((*many, german), {})
    acct = account(languages=("de",))
    with Store(sqlite_url) as store:
        _poster(store, data).run_slot(acct, RecordingPublisher(), START)
        calls = 0
        original = Selector.language_for

        def counting(self: Selector, *args: object, **kwargs: object) -> str | None:
            nonlocal calls
            calls += 1
            return original(self, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Selector, "language_for", counting)
        publisher = RecordingPublisher()
        for slot in _slots(5)[1:]:
            _poster(store, data).run_slot(acct, publisher, slot)
        assert [p.item_id for p in publisher.sent] == ["de-one"] * 4
        assert calls <= 4 * 2  # the chosen item, checked once when chosen and once to render
