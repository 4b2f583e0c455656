"""The engagement refresh's requests per 1,000 posts refreshed, on both platforms.

The bot's own refresh (``bot.stats.refresh``, as the worker and ``leavex-bot stats`` run it)
reads the counts of posts recorded in a state database the way the bot records them:

- **Mastodon**: 1,000 statuses on the Mastodon test server (in this process; Mastodon 4.6
  with the multi-id lookup), some favourited and boosted by another account. Every request the
  server receives during the refresh counts.
- **Bluesky**: 1,000 posts on the local Bluesky (PLC, PDS and the real ``bsky`` AppView, from
  the tests' npm install), some liked by a follower, read through the account's PDS. Every HTTP
  request the bot's atproto client sends during the refresh counts (the session is the one the
  account keeps in the state database, as after posting).

Each in two shapes: one account with 1,000 posts, and 10 accounts with 100 each; then a second
refresh (steady state), and on Mastodon also a server older than 4.3 (no multi-id lookup: one
request per post, shown for information) and 10 posts deleted by hand (recorded as deleted,
then never asked for again).

    .venv/bin/python -m benchmarks.engagement            # ~2 minutes on 2 CPUs
    .venv/bin/python -m benchmarks.engagement --quick    # Mastodon only, no AppView

Budget (issue 14): at most 40 Bluesky and 50 Mastodon requests per 1,000 posts refreshed.
The runner can call :func:`measure` and report its results.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import Result, workdir

ROOT = Path(__file__).resolve().parent.parent
POSTS = 1000
BUDGET = {"mastodon": 50, "bluesky": 40}


def _record(database_url: str, platform: str, accounts: list[str], remote_ids: list[str]) -> None:
    """Posted rows for ``remote_ids``, spread over the accounts and the last 29 days."""
    from bot.state import Store

    now = dt.datetime.now(dt.UTC)
    with Store(database_url) as store:
        for n, remote_id in enumerate(remote_ids):
            account = accounts[n % len(accounts)]
            slot = now - dt.timedelta(minutes=40 * n + 60)
            record, _ = store.plan(
                account=account,
                platform=platform,
                slot_at=slot,
                slot_key=f"{slot.isoformat()}#{n}",
                dry_run=False,
                item_id=f"item-{n % 40}",
                slot_language="",
                language=("de", "en", "fr")[n % 3],
                text=f"post {n}",
                payload="{}",
                remote_key=f"key-{n}",
            )
            store.mark_posted(record, remote_id, None)


def _refresh(env: dict[str, str]) -> Any:
    """One refresh with the bot's App in this configuration; its report."""
    from bot.app import App
    from bot.stats.refresh import refresh

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        app = App.load()
        with app.open_store() as store:
            report = refresh(app, store, days=30, now=dt.datetime.now(dt.UTC))
        app.close()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return report


def _result(platform: str, shape: str, requests: int, posts: int, notes: list[str]) -> Result:
    per_1000 = requests * 1000 / posts
    budget = BUDGET[platform]
    return Result(
        figure=f"engagement refresh, {platform}: {shape}",
        measured=f"{requests} requests for {posts:,} posts ({per_1000:.0f} per 1,000)",
        baseline=f"{math.ceil(posts / (20 if platform == 'mastodon' else 25))} (one per batch)",
        ratio=None,
        budget=f"≤ {budget} per 1,000",
        passed=per_1000 <= budget,
        notes=notes,
        data={"requests": requests, "posts": posts, "per_1000": per_1000},
    )


# -- Mastodon ---------------------------------------------------------------------------------


def measure_mastodon(folder: Path, posts: int = POSTS) -> list[Result]:
    sys.path.insert(0, str(ROOT))
    from tests.support.mastodon_server import MastodonTestServer

    results = []
    for shape, accounts in (("1 account", 1), ("10 accounts", 10)):
        with MastodonTestServer() as server:
            server.set_rate_limit("general", 100_000)
            env, names, ids = _mastodon_accounts(server, folder, shape, accounts, posts)
            url = env["DATABASE_URL"]
            for n, name in enumerate(names):
                _record(url, "mastodon", [name], ids[n])
            fan = "token-fan"
            server.add_account(fan, "fan")
            _favourite_some(server, fan, [i for part in ids for i in part])
            for run in ("first refresh", "second refresh"):
                before = len(server.requests)
                report = _refresh(env)
                made = len(server.requests) - before
                assert report.read == posts, report
                results.append(_result("mastodon", f"{shape}, {run}", made, posts, []))
            # 10 statuses deleted by hand: confirmed once each, then never asked for again.
            _delete(server, "token-0", ids[0][:10])
            for run in ("after 10 deletions", "after 10 deletions, again"):
                before = len(server.requests)
                _refresh(env)
                made = len(server.requests) - before
                note = "deleted statuses: left out of the answer, then never asked for again"
                results.append(_result("mastodon", f"{shape}, {run}", made, posts, [note]))
            if accounts == 1:
                server.version = "4.2.10"
                before = len(server.requests)
                _refresh(env)
                made = len(server.requests) - before
                result = _result("mastodon", "server older than 4.3", made, posts - 10, [])
                result.budget = "(none: one request per status there)"
                result.passed = True
                results.append(result)
    return results


def _mastodon_accounts(
    server: Any, folder: Path, shape: str, accounts: int, posts: int
) -> tuple[dict[str, str], list[str], list[list[str]]]:
    env = {"DATABASE_URL": f"sqlite:///{folder / f'mastodon-{accounts}.sqlite3'}"}
    names, ids = [], []
    for n in range(accounts):
        token, name = f"token-{n}", f"m{n}"
        server.add_account(token, f"bot{n}")
        prefix = f"ACCOUNTS__{name.upper()}__"
        env |= {
            f"{prefix}PLATFORM": "mastodon",
            f"{prefix}API_BASE_URL": server.base_url,
            f"{prefix}ACCESS_TOKEN": token,
        }
        names.append(name)
        ids.append(
            [server.create_status(f"bot{n}", f"post {k}")["id"] for k in range(posts // accounts)]
        )
    return env, names, ids


def _favourite_some(server: Any, token: str, ids: list[str]) -> None:
    from mastodon import Mastodon

    fan = Mastodon(access_token=token, api_base_url=server.base_url, version_check_mode="none")
    for remote_id in ids[::50]:
        fan.status_favourite(remote_id)
        fan.status_reblog(remote_id)


def _delete(server: Any, token: str, ids: list[str]) -> None:
    from mastodon import Mastodon

    bot = Mastodon(access_token=token, api_base_url=server.base_url, version_check_mode="none")
    for remote_id in ids:
        bot.status_delete(remote_id)


# -- Bluesky ----------------------------------------------------------------------------------


@contextmanager
def _counting_httpx() -> Iterator[Callable[[], int]]:
    """Counts every request httpx sends in this process (the atproto client uses httpx)."""
    import httpx

    sent = [0]
    original = httpx.Client.send

    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        sent[0] += 1
        return original(self, request, **kwargs)

    httpx.Client.send = send  # type: ignore[method-assign]
    try:
        yield lambda: sent[0]
    finally:
        httpx.Client.send = original  # type: ignore[method-assign]


def measure_bluesky(folder: Path, posts: int = POSTS) -> list[Result]:
    sys.path.insert(0, str(ROOT))
    from tests.support.appview import AppView

    results = []
    with AppView() as appview:
        follower = appview.create_account()
        for shape, accounts in (("1 account", 1), ("10 accounts", 10)):
            url = f"sqlite:///{folder / f'bluesky-{accounts}.sqlite3'}"
            env = {"DATABASE_URL": url}
            for n in range(accounts):
                bot = appview.create_account()
                rkeys = _bluesky_posts(appview, bot, posts // accounts)
                _record(url, "bluesky", [f"b{n}"], rkeys)
                prefix = f"ACCOUNTS__B{n}__"
                env |= {
                    f"{prefix}PLATFORM": "bluesky",
                    f"{prefix}SERVICE_URL": appview.pds_url,
                    f"{prefix}HANDLE": bot.handle,
                    f"{prefix}APP_PASSWORD": bot.password,
                }
                _like_some(appview, follower, bot, rkeys[::50])
            started = time.perf_counter()
            appview.process_all()
            print(f"indexed in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            _refresh(env)  # logs in once and stores the session, as posting would have
            for run in ("first refresh (stored session)", "second refresh"):
                with _counting_httpx() as sent:
                    report = _refresh(env)
                    made = sent()
                assert report.read == posts, report
                results.append(_result("bluesky", f"{shape}, {run}", made, posts, []))
    return results


def _bluesky_posts(appview: Any, bot: Any, count: int) -> list[str]:
    """``count`` posts by ``bot``, 200 per applyWrites; their record keys."""
    from bot.publishing.base import new_tid

    rkeys = [new_tid() for _ in range(count)]
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    for start in range(0, count, 200):
        writes = [
            {
                "$type": "com.atproto.repo.applyWrites#create",
                "collection": "app.bsky.feed.post",
                "rkey": rkey,
                "value": {"$type": "app.bsky.feed.post", "text": f"post {rkey}", "createdAt": now},
            }
            for rkey in rkeys[start : start + 200]
        ]
        appview.call(
            "com.atproto.repo.applyWrites",
            body={"repo": bot.did, "writes": writes},
            token=bot.token,
        )
    return rkeys


def _like_some(appview: Any, follower: Any, bot: Any, rkeys: list[str]) -> None:
    appview.process_all()
    uris = [f"at://{bot.did}/app.bsky.feed.post/{rkey}" for rkey in rkeys]
    for start in range(0, len(uris), 25):
        views = appview.call(
            "app.bsky.feed.getPosts",
            params={"uris": uris[start : start + 25]},
            token=follower.token,
        )["posts"]
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        for view in views:
            appview.call(
                "com.atproto.repo.createRecord",
                body={
                    "repo": follower.did,
                    "collection": "app.bsky.feed.like",
                    "record": {
                        "subject": {"uri": view["uri"], "cid": view["cid"]},
                        "createdAt": now,
                    },
                },
                token=follower.token,
            )


# -- the table ----------------------------------------------------------------------------------


def measure(quick: bool = False) -> list[Result]:
    with workdir("leavex-engagement-") as folder:
        os.environ["XDG_STATE_HOME"] = str(folder / "state")
        os.environ["XDG_CACHE_HOME"] = str(folder / "cache")
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        results = measure_mastodon(folder)
        if not quick:
            results += measure_bluesky(folder)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engagement")
    parser.add_argument("--quick", action="store_true", help="Mastodon only (no AppView)")
    args = parser.parse_args(argv)
    results = measure(quick=args.quick)
    print("| figure | measured | one request per batch | budget | verdict |")
    print("|---|---|---|---|---|")
    for r in results:
        notes = f" ({'; '.join(r.notes)})" if r.notes else ""
        print(f"| {r.figure} | {r.measured}{notes} | {r.baseline} | {r.budget} | {r.verdict()} |")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
