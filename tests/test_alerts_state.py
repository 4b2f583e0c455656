"""The alerts' de-duplication in the state database (``bot/state/alerts.py``), on SQLite and
PostgreSQL: one alert per problem, none again within the hour, a recovery note once."""

from __future__ import annotations

import datetime as dt
import threading

from bot.state import Store

T0 = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC)


def test_one_alert_per_problem_and_one_recovery(database_url: str) -> None:
    with Store(database_url) as store:
        assert store.open_alert("fr", "post_failed", "boom", T0) is True
        # The same problem again, minutes or hours later: still one alert (it is open).
        assert store.open_alert("fr", "post_failed", "boom", T0 + dt.timedelta(minutes=5)) is False
        assert store.open_alert("fr", "post_failed", "boom", T0 + dt.timedelta(hours=5)) is False
        # Another kind, another account: their own alerts.
        assert store.open_alert("fr", "slot_missed", "late", T0) is True
        assert store.open_alert("de", "post_failed", "boom", T0) is True
        assert [(a, k) for a, k, _ in store.open_alerts()] == [
            ("de", "post_failed"),
            ("fr", "post_failed"),
            ("fr", "slot_missed"),
        ]
        cleared = store.clear_alerts("fr")
        assert sorted(c.kind for c in cleared) == ["post_failed", "slot_missed"]
        assert store.clear_alerts("fr") == []  # cleared once
        assert [(a, k) for a, k, _ in store.open_alerts()] == [("de", "post_failed")]


def test_at_most_one_alert_per_account_and_kind_per_hour(database_url: str) -> None:
    """A problem that clears and comes back within the hour (flapping) is not alerted again,
    nor is its recovery announced; after a quiet hour it is."""
    with Store(database_url) as store:
        assert store.open_alert("fr", "post_failed", "1", T0) is True
        assert len(store.clear_alerts("fr")) == 1
        assert store.open_alert("fr", "post_failed", "2", T0 + dt.timedelta(minutes=30)) is False
        assert store.clear_alerts("fr") == []  # nobody was told it opened: no recovery note
        # Still open and untold when the hour is over: told now.
        assert store.open_alert("fr", "post_failed", "3", T0 + dt.timedelta(minutes=40)) is False
        assert store.open_alert("fr", "post_failed", "4", T0 + dt.timedelta(minutes=61)) is True
        assert store.open_alert("fr", "post_failed", "5", T0 + dt.timedelta(minutes=62)) is False


def test_several_workers_send_one_alert(database_url: str) -> None:
    """Workers sharing the database race to open the same problem: exactly one wins."""
    with Store(database_url):
        pass  # schema in place before the race
    wins: list[bool] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        with Store(database_url) as store:
            barrier.wait(timeout=30)
            wins.append(store.open_alert("fr", "login_failed", "401", T0))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(wins) == [False, False, False, True]
    cleared: list[int] = []
    barrier = threading.Barrier(4)

    def clearer() -> None:
        with Store(database_url) as store:
            barrier.wait(timeout=30)
            cleared.append(len(store.clear_alerts("fr")))

    threads = [threading.Thread(target=clearer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(cleared) == [0, 0, 0, 1]
