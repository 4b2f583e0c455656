"""The measured processes: ``python -m benchmarks.child NAME JSON-ARGS``.

Each runs in a fresh process started by ``benchmarks.run`` with the bot's settings in its
environment, and prints one JSON line with its measurements as the last line of stdout. Progress
goes to stderr as ``progress: ...`` lines.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import worker_load
from benchmarks.common import rss_kb

START = dt.datetime(2027, 1, 4, 10, tzinfo=dt.UTC)


def progress(message: str) -> None:
    print(f"progress: {message}", file=sys.stderr, flush=True)


def _count_requests() -> Counter[str]:
    """Count every HTTP request this process makes, by path (both SDKs: httpx and requests)."""
    import httpx
    import requests

    counts: Counter[str] = Counter()
    send = httpx.Client.send

    def counting_send(self: httpx.Client, request: httpx.Request, **kw: Any) -> httpx.Response:
        counts[request.url.path] += 1
        return send(self, request, **kw)

    httpx.Client.send = counting_send  # type: ignore[method-assign]
    session_send = requests.Session.send

    def counting_session_send(self: requests.Session, request: Any, **kw: Any) -> Any:
        from urllib.parse import urlsplit

        counts[urlsplit(request.url).path] += 1
        return session_send(self, request, **kw)

    requests.Session.send = counting_session_send  # type: ignore[method-assign]
    return counts


def _app() -> Any:
    """The bot's App from the environment, logging to stderr as the worker does."""
    from bot import logs
    from bot.app import App

    app = App.load()
    logs.setup(app.settings.log_level, app.settings.log_format)
    return app


def _poster(app: Any, store: Any) -> Any:
    from bot.poster import Poster

    return Poster(store, app.dataset, app.renderer, today=app.today)


def _expect_posted(outcomes: list[Any]) -> None:
    bad = [o for o in outcomes if o.status != "posted"]
    if bad:
        raise RuntimeError(f"not posted: {bad}")


# -- RSS growth over many posts ---------------------------------------------------------------


def growth(args: dict[str, Any]) -> dict[str, Any]:
    """Post ``warmup`` + ``posts`` slots alternating over the configured accounts (Mastodon
    test server and PDS) with ``Poster.run_slot``; RSS after warm-up and every ``every``."""
    app = _app()
    posts, warmup, every = int(args["posts"]), int(args["warmup"]), int(args["every"])
    samples: list[tuple[int, int]] = []
    with app.open_store() as store:
        poster = _poster(app, store)
        accounts = app.accounts
        started = time.perf_counter()
        for index in range(warmup + posts):
            account = accounts[index % len(accounts)]
            slot = START + dt.timedelta(minutes=index)
            _expect_posted(poster.run_slot(account, app.publisher(account), slot))
            done = index + 1 - warmup
            if done >= 0 and done % every == 0:
                gc.collect()
                samples.append((done, rss_kb(os.getpid())))
                progress(f"{done}/{posts} posts, RSS {samples[-1][1] / 1024:.1f} MB")
        elapsed = time.perf_counter() - started
    app.close()
    return {"samples": samples, "seconds": elapsed, "accounts": [a.name for a in accounts]}


# -- time per post: the bot against the raw SDK call ------------------------------------------


def _raw_mastodon(account: Any) -> Callable[[Any, str], None]:
    from mastodon import Mastodon

    client = Mastodon(
        api_base_url=account.api_base_url,
        access_token=account.access_token.get_secret_value(),
        ratelimit_method="throw",
        request_timeout=30,
        version_check_mode="none",
        user_agent="leavex-bench/raw",
    )

    def post(outgoing: Any, key: str) -> None:
        client.status_post(
            outgoing.text, language=outgoing.language, visibility="public", idempotency_key=key
        )

    return post


def _bluesky_record(outgoing: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "text": outgoing.text,
        "createdAt": dt.datetime.now(dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "langs": [outgoing.language],
    }
    facets = []
    for facet in outgoing.facets:
        feature = (
            {"$type": "app.bsky.richtext.facet#link", "uri": facet.value}
            if facet.kind == "link"
            else {"$type": "app.bsky.richtext.facet#tag", "tag": facet.value}
        )
        facets.append(
            {"index": {"byteStart": facet.start, "byteEnd": facet.end}, "features": [feature]}
        )
    if facets:
        record["facets"] = facets
    if outgoing.card is not None:
        record["embed"] = {
            "$type": "app.bsky.embed.external",
            "external": {
                "uri": outgoing.card.uri,
                "title": outgoing.card.title,
                "description": outgoing.card.description,
            },
        }
    return record


def _raw_bluesky(account: Any) -> Callable[[Any, str], None]:
    from atproto import Client

    client = Client(base_url=account.service_url)
    client.login(account.handle, account.app_password.get_secret_value(), fetch_bsky_profile=False)
    did = client.me.did if client.me else client._session.did

    def post(outgoing: Any, key: str) -> None:
        client.com.atproto.repo.create_record(
            {"repo": did, "collection": "app.bsky.feed.post", "record": _bluesky_record(outgoing)}
        )

    return post


def perpost(args: dict[str, Any]) -> dict[str, Any]:
    """Interleave a bot post (``Poster.run_slot``: selection, rendering, SQLite write-ahead,
    publish, record) with the raw SDK call posting the same content; per platform."""
    from bot.poster import outgoing

    app = _app()
    repeat, warmup = int(args["repeat"]), int(args["warmup"])
    result: dict[str, Any] = {}
    with app.open_store() as store:
        poster = _poster(app, store)
        for n_account, account in enumerate(app.accounts):
            publisher = app.publisher(account)
            raw = (_raw_mastodon if account.platform == "mastodon" else _raw_bluesky)(account)
            bot_times: list[float] = []
            raw_times: list[float] = []
            for index in range(warmup + repeat):
                slot = START + dt.timedelta(days=n_account * 10, minutes=index)
                started = time.perf_counter()
                outcomes = poster.run_slot(account, publisher, slot)
                bot_time = time.perf_counter() - started
                _expect_posted(outcomes)
                record = store.get_post(account.name, outcomes[0].slot_key, account.dry_run)
                same = outgoing(record)
                started = time.perf_counter()
                raw(same, f"raw-{account.name}-{index}")
                raw_time = time.perf_counter() - started
                if index >= warmup:
                    bot_times.append(bot_time)
                    raw_times.append(raw_time)
                if (index + 1) % 50 == 0:
                    progress(f"{account.platform}: {index + 1}/{warmup + repeat} pairs")
            result[account.platform] = {"bot": bot_times, "raw": raw_times}
    app.close()
    return result


# -- Bluesky logins across restarts -----------------------------------------------------------


def logins(args: dict[str, Any]) -> dict[str, Any]:
    """One process of the restart series: post ``posts`` slots to the Bluesky account with the
    bot's own publisher (session kept in the state store); count HTTP requests by path."""
    counts = _count_requests()
    app = _app()
    first = int(args["first_slot"])
    with app.open_store() as store:
        poster = _poster(app, store)
        account = next(a for a in app.accounts if a.platform == "bluesky")
        publisher = app.publisher(account)
        for index in range(int(args["posts"])):
            slot = START + dt.timedelta(minutes=first + index)
            _expect_posted(poster.run_slot(account, publisher, slot))
    app.close()
    return {"requests": dict(counts)}


# -- selection with a large dataset and history -----------------------------------------------


def _posted(store: Any, account: Any, slot: dt.datetime, key: str, item: str, lang: str) -> None:
    """Record ``item`` as posted in ``slot`` through the store's own write path."""
    record, _ = store.plan(
        account=account.name,
        platform=account.platform,
        slot_at=slot,
        slot_key=key,
        dry_run=False,
        item_id=item,
        slot_language=lang,
        language=lang,
        text="bench",
        payload="{}",
        remote_key=f"bench-{key}",
    )
    store.mark_posted(record, f"remote-{key}", None)


def _history(store: Any, selector: Any, account: Any, items: Any, rows: int, today: Any) -> Any:
    """``rows`` posted rows, the languages taking turns, each taking the eligible items in
    dataset order (what the bot would choose); returns the last slot."""
    from bot.selection import slot_key

    orders = {}
    for language in account.languages:
        next(selector.candidates(account, language, today))  # the bot's own rotation sync
        orders[language] = (
            item.id
            for item in items
            if selector.language_for(item, language, account, today) is not None
        )
    slot = START - dt.timedelta(days=rows + 10)
    for index in range(rows):
        language = account.languages[index % len(account.languages)]
        slot += dt.timedelta(hours=1)
        key = slot_key(slot, language, account.language_mode)
        _posted(store, account, slot, key, next(orders[language]), language)
        if (index + 1) % 20_000 == 0:
            progress(f"{index + 1}/{rows} history rows")
    return slot


def _query_plans(store: Any, selector: Any, account: Any, today: Any) -> dict[str, list[str]]:
    """The SELECTs one more choice runs, as SQLite sees them, and their query plans."""
    statements: list[str] = []
    if store.dialect != "sqlite":
        return {}
    store._conn.set_trace_callback(statements.append)
    try:
        next(selector.candidates(account, selector.rotate_language(account), today))
    finally:
        store._conn.set_trace_callback(None)
    return {
        sql: [row[-1] for row in store.execute("EXPLAIN QUERY PLAN " + sql).fetchall()]
        for sql in dict.fromkeys(statements)
        if sql.lstrip().upper().startswith("SELECT")
    }


def selection(args: dict[str, Any]) -> dict[str, Any]:
    """``items`` items, ``history`` posted rows (spread over the languages, each language
    taking items in selection order as the bot would), then time choosing each next slot's
    language and item (``Selector.rotate_language`` + the first ``Selector.candidates`` item)
    over ``slots`` slots, recording each choice as posted."""
    from benchmarks.datasets import ROOT, SITE, generated_items
    from bot.config import Account
    from bot.dataset import Dataset, Item
    from bot.poster import Poster
    from bot.rendering.render import Renderer, TemplateSet
    from bot.selection import slot_key
    from bot.state import Store

    progress(f"building {args['items']} items")
    items = tuple(
        Item.model_validate({"id": item_id, **raw})
        for item_id, raw in generated_items(int(args["items"]))
    )
    dataset = Dataset(items, {item.id: Path("generated.toml") for item in items})
    account = Account(
        name="big",
        platform="mastodon",
        languages=("de", "en", "fr"),
        schedule="0 10 * * *",
        language_mode="rotate",
        fallback_language=None,
        dry_run=False,
    )
    today = dt.date(2027, 1, 4)
    store = Store(args["database_url"])
    renderer = Renderer(TemplateSet(ROOT / "templates"), site_base_url=SITE)
    selector = Poster(store, dataset, renderer, today=lambda: today).selector

    progress(f"recording {args['history']} history rows")
    started = time.perf_counter()
    slot = _history(store, selector, account, items, int(args["history"]), today)
    setup_seconds = time.perf_counter() - started

    progress(f"choosing {args['slots']} slots")
    times: list[float] = []
    per_language: dict[str, list[float]] = {lang: [] for lang in account.languages}
    chosen: list[str] = []
    for _ in range(int(args["slots"])):
        slot += dt.timedelta(hours=1)
        started = time.perf_counter()
        language = selector.rotate_language(account)
        item = next(selector.candidates(account, language, today))
        key = slot_key(slot, language, account.language_mode)
        elapsed = time.perf_counter() - started
        times.append(elapsed)
        per_language[language].append(elapsed)
        chosen.append(f"{language}:{item.id}")
        _posted(store, account, slot, key, item.id, language)  # the next slot chooses anew
    plans = _query_plans(store, selector, account, today)
    store.close()
    return {
        "times": times,
        "per_language": per_language,
        "setup_seconds": setup_seconds,
        "chosen": chosen[:6],
        "plans": plans,
    }


# -- check: the bot's renderer against a bare Jinja2 render + grapheme count ------------------


def check_inproc(args: dict[str, Any]) -> dict[str, Any]:
    """``check_all`` in-process on the generated dataset, chunk by chunk, each chunk followed
    by its baseline (so drift of a noisy machine hits both alike): for the same (item,
    language, platform) posts that ``check`` rendered, a bare Jinja2 render of the same
    template with a precomputed context, and a grapheme count of the result."""
    import dataclasses

    import jinja2
    import regex

    from bot.checking import check_all
    from bot.dataset import Dataset

    app = _app()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(app.settings.templates_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    grapheme = regex.compile(r"\X")
    chunk_size = int(args["chunk"])
    items = list(app.dataset)
    chunks: list[dict[str, Any]] = []
    summary: Counter[str] = Counter()
    for first in range(0, len(items), chunk_size):
        part = items[first : first + chunk_size]
        sub = dataclasses.replace(
            app, dataset=Dataset(tuple(part), {i.id: app.dataset.sources[i.id] for i in part})
        )
        started = time.perf_counter()
        report = check_all(sub)
        check_seconds = time.perf_counter() - started
        summary.update(row.verdict for row in report.rows)
        jobs = _baseline_jobs(app, env, report.rows)
        started = time.perf_counter()
        for template, context in jobs:
            len(grapheme.findall(template.render(context)))
        baseline_seconds = time.perf_counter() - started
        posts = sum(len(row.cells) for row in report.rows)
        assert posts == len(jobs), (posts, len(jobs))
        chunks.append({"check": check_seconds, "baseline": baseline_seconds, "posts": posts})
        progress(f"{first + len(part)}/{len(items)} items")
    return {"chunks": chunks, "verdicts": dict(summary)}


def _baseline_jobs(app: Any, env: Any, rows: list[Any]) -> list[tuple[Any, dict[str, Any]]]:
    """(template, context) for every post a check report rendered."""
    import jinja2

    jobs = []
    for row in rows:
        item = app.dataset.by_id[row.item_id]
        language = row.language
        if row.verdict == "fallback":
            language = row.note.removeprefix("posted in ")
        for platform in row.cells:
            try:
                template = env.get_template(f"{language}/{item.kind}.{platform}.j2")
            except jinja2.TemplateNotFound:
                template = env.get_template(f"{language}/{item.kind}.j2")
            urls = [app.renderer.absolute(url) for url in item.urls]
            departure = None
            if item.departure is not None:
                departure = {
                    "date": item.departure.date.isoformat(),
                    "platforms": " & ".join(item.departure.platforms),
                    "past": True,
                }
            context = {
                "item_id": item.id,
                "kind": item.kind,
                "platform": platform,
                "language": language,
                "name": item.name_in(language),
                "aliases": item.aliases,
                "country": item.country,
                "url": urls[0],
                "urls": urls,
                "departure": departure,
                "description": item.description.get(language),
                "hashtags": [f"#{tag}" for tag in item.hashtags],
            }
            jobs.append((template, context))
    return jobs


CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "many_accounts": worker_load.many_accounts,
    "long_run": worker_load.long_run,
    "growth": growth,
    "perpost": perpost,
    "logins": logins,
    "selection": selection,
    "check_inproc": check_inproc,
}

if __name__ == "__main__":
    name, raw_args = sys.argv[1], json.loads(sys.argv[2])
    out = CHILDREN[name](raw_args)
    sys.stdout.flush()
    print(json.dumps(out), flush=True)
