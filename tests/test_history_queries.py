"""The status page's history reads along an index in its own order for every filter, and pages
by position, not by offset: what keeps a page as fast with 100,000 posts as with 100
(``benchmarks/history_page.py`` measures it). Checked with SQLite's query plans."""

from __future__ import annotations

import pytest

from bot.state import HistoryFilter, Store


def _plan(store: Store, selection: HistoryFilter, cursor: bool) -> list[str]:
    where, params = selection.where()
    if cursor:
        where.append("(slot_at, id) < (?, ?)")
        params += ["2026-05-04T10:00:00Z", 5]
    rows = store.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM posts WHERE"
        f" {' AND '.join(where)} ORDER BY slot_at DESC, id DESC LIMIT 51",
        params,
    ).fetchall()
    return [str(row[3]) for row in rows]


@pytest.mark.parametrize(
    ("selection", "index"),
    [
        (HistoryFilter(), "posts_history"),
        (HistoryFilter(dry_run=True), "posts_history"),
        (HistoryFilter(account="fr"), "posts_account_history"),
        (HistoryFilter(status="failed"), "posts_status_history"),
        (HistoryFilter(item_id="helloquitx"), "posts_item_history"),
        (HistoryFilter(language="de"), "posts_history"),
        (HistoryFilter(account="fr", status="failed"), "_history"),
    ],
)
@pytest.mark.parametrize("cursor", [False, True])
def test_every_filter_walks_an_index_in_order(
    sqlite_url: str, selection: HistoryFilter, index: str, cursor: bool
) -> None:
    with Store(sqlite_url) as store:
        plan = _plan(store, selection, cursor)
    assert len(plan) == 1, plan  # no temporary B-tree to sort: the index gives the order
    assert "USING INDEX" in plan[0] and index in plan[0], plan
    if cursor and not selection.status and not selection.account:
        assert "slot_at<?" in plan[0], plan  # the next page starts where the last ended


def test_pages_follow_each_other(sqlite_url: str) -> None:
    import datetime as dt

    from bot.clock import iso

    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with Store(sqlite_url) as store:
        for n in range(7):
            slot = start + dt.timedelta(hours=n // 2)  # two posts share each slot time
            store.plan(
                account=f"a{n % 2}",
                platform="mastodon",
                slot_at=slot,
                slot_key=f"{iso(slot)}#{n}",
                dry_run=False,
                item_id="x",
                slot_language="en",
                language="en",
                text="t",
                payload="{}",
                remote_key="k",
            )
        seen: list[int] = []
        page, more = store.history_page(HistoryFilter(), limit=3)
        while True:
            seen += [r.id for r in page]
            if not more:
                break
            last = page[-1]
            page, more = store.history_page(
                HistoryFilter(), before=(last.slot_at, last.id), limit=3
            )
        assert seen == [7, 6, 5, 4, 3, 2, 1]
        back, more = store.history_page(HistoryFilter(), after=("2026-01-01T01:00:00Z", 4), limit=2)
        assert [r.id for r in back] == [6, 5] and more
