"""The status page's history with 100,000 recorded posts against the same page with 100.

Two SQLite state databases are filled the way the bot fills them (10 accounts, de/en/fr, one
slot an hour per account, mostly posted, every 97th refused); the oldest tenth holds an outage
(every third post failed: the only failures) and an item retired since. So the rare filters
(failures, the retired item) find their rows only far back: without an index that walks their
posts in order, each would read the whole history. The
history page is then requested in-process through the whole ASGI application (login, query,
template), interleaved (small, large, small, large …), for each view an operator uses: the
first page, filtered by account, by status (the rare failures), by item and by language, and
20 pages deep (following "Older"). The figure is the ratio of the medians, large over small.

    .venv/bin/python -m benchmarks.history_page            # ~1 minute on 2 CPUs
    .venv/bin/python -m benchmarks.history_page --quick    # 10,000 posts, fewer requests

Budget (issue 13): every view ≤ 2×. The runner can call :func:`measure` and report its results.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Result, median, workdir

ACCOUNTS = [f"acct{i}" for i in range(10)]
LANGUAGES = ("de", "en", "fr")
BUDGET = 2.0
PASSWORD = "bench-password"


def fill(database_url: str, posts: int, items: list[str]) -> None:
    """``posts`` recorded posts, newest last, as the worker writes them."""
    from bot.clock import iso
    from bot.state import Store

    start = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
    now = iso(dt.datetime.now(dt.UTC))
    rows = []
    for n in range(posts):
        account = ACCOUNTS[n % len(ACCOUNTS)]
        slot = iso(start + dt.timedelta(hours=n // len(ACCOUNTS)))
        language = LANGUAGES[(n // len(ACCOUNTS)) % 3]
        status, error, url = "posted", None, f"https://social.example/@{account}/{n}"
        item = items[n % len(items)]
        if n < posts // 10 and n % 3 == 0:  # an outage long ago: the only failures
            status, error, url = "failed", "401 the access token was rejected", None
        elif n % 97 == 0:
            status, error, url = "refused", "refused by the platform: 422 too long", None
        if n < posts // 10 and n % 2 == 1:  # an item retired long ago
            item = "retired-item"
        rows.append(
            (
                account,
                "mastodon",
                slot,
                slot,
                0,
                item,
                language,
                language,
                "text of the post",
                "{}",
                status,
                f"key-{n}",
                str(n) if url else None,
                url,
                error,
                1,
                now,
                now,
                None,
                "",
                now,
            )
        )
    with Store(database_url) as store:
        columns = (
            "account, platform, slot_at, slot_key, dry_run, item_id, slot_language, language,"
            " text, payload, status, remote_key, remote_id, remote_url, error, attempts,"
            " created_at, updated_at, claimed_by, lease_until, last_attempt_at"
        )
        with store.transaction():
            store.executemany(
                f"INSERT INTO posts ({columns}) VALUES ({', '.join('?' for _ in range(21))})",
                rows,
            )


def _client(folder: Path, database_url: str) -> Any:
    from starlette.testclient import TestClient

    from bot.app import App
    from bot.web.app import create_app

    os.environ["DATABASE_URL"] = database_url
    os.environ["WEB_PASSWORD"] = PASSWORD
    for name in ACCOUNTS:
        prefix = f"ACCOUNTS__{name.upper()}__"
        os.environ[prefix + "PLATFORM"] = "mastodon"
        os.environ[prefix + "API_BASE_URL"] = "https://social.example"
        os.environ[prefix + "ACCESS_TOKEN"] = f"token-{name}-0123456789"
    app = App.load()
    client = TestClient(create_app(app), base_url="http://127.0.0.1")
    token = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    client.headers["Authorization"] = f"Basic {token}"
    return client


def _deep_path(client: Any, pages: int) -> str:
    """The path of the page ``pages`` "Older" links down from the first."""
    import re

    path = "/history"
    for _ in range(pages):
        html = client.get(path).text
        found = re.search(r'href="(\?[^"]*before=[^"]*)"', html)
        if found is None:
            break
        path = "/history" + found.group(1).replace("&amp;", "&")
    return path


def measure(large: int = 100_000, repeat: int = 60) -> list[Result]:
    """The history page's time with ``large`` posts over its time with 100, per view."""
    from bot.config import BUNDLED_DATA_DIR
    from bot.dataset import load_dataset

    items = [item.id for item in load_dataset(BUNDLED_DATA_DIR)]
    results = []
    with workdir("leavex-history-") as folder:
        os.environ["XDG_STATE_HOME"] = str(folder / "state")
        os.environ["XDG_CACHE_HOME"] = str(folder / "cache")
        urls = {}
        for size in (100, large):
            url = f"sqlite:///{folder / f'history-{size}.sqlite3'}"
            started = time.perf_counter()
            fill(url, size, items)
            print(
                f"filled {size:,} posts in {time.perf_counter() - started:.1f} s", file=sys.stderr
            )
            urls[size] = url
        clients = {size: _client(folder, url) for size, url in urls.items()}
        views = {
            "first page": "/history",
            "one account": "/history?account=acct3",
            "failures only": "/history?status=failed",
            "one item": f"/history?item={items[5]}",
            "an item retired long ago": "/history?item=retired-item",
            "one language": "/history?language=fr",
            "20 pages deep": None,
        }
        for view, path in views.items():
            paths = {size: path or _deep_path(client, 20) for size, client in clients.items()}
            samples: dict[int, list[float]] = {size: [] for size in clients}
            for size, client in clients.items():  # warm up: templates, caches, pages
                for _ in range(3):
                    assert client.get(paths[size]).status_code == 200
            for _ in range(repeat):
                for size, client in clients.items():
                    started = time.perf_counter()
                    answer = client.get(paths[size])
                    samples[size].append(time.perf_counter() - started)
                    assert answer.status_code == 200
            small, big = median(samples[100]), median(samples[large])
            ratio = big / small
            results.append(
                Result(
                    figure=f"history page, {view}",
                    measured=f"{big * 1000:.1f} ms with {large:,} posts",
                    baseline=f"{small * 1000:.1f} ms with 100 posts",
                    ratio=ratio,
                    budget=f"≤ {BUDGET:g}×",
                    passed=ratio <= BUDGET,
                    data={"small": samples[100], "large": samples[large]},
                )
            )
            print(f"{view}: {ratio:.2f}×", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 posts, 10 requests")
    args = parser.parse_args()
    results = measure(10_000, 10) if args.quick else measure()
    print("| figure | measured | baseline | ratio | budget | verdict |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.figure} | {r.measured} | {r.baseline} | {r.ratio:.2f}× | {r.budget}"
            f" | {r.verdict()} |"
        )
    sys.exit(0 if all(r.passed for r in results) else 1)


if __name__ == "__main__":
    main()
