"""The worker under load, in a measured child process (``python -m benchmarks.child NAME``):

- ``many_accounts``: one fire time of 500 Mastodon accounts spread over the test servers of
  :func:`benchmarks.servers.mastodon_fleet` (another process), every account's job fired as
  APScheduler fires it (``Worker._job``), wall time until every future is done, RSS per
  account beyond the base process;
- ``long_run``: the worker over many slots in accelerated time (the app's clock moved, an
  in-process publisher), RSS, threads and open file descriptors sampled along the way.

The app's clock is ``App.now``, replaced here as ``tests/test_isolation.py`` does.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import gc
import io
import json
import logging
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.common import rss_kb, rss_parts_kb

#: The fire time of the slot (the schedule's ``30 12 * * *`` in UTC).
FIRE = dt.datetime(2027, 1, 4, 12, 30, tzinfo=dt.UTC)


def progress(message: str) -> None:
    print(f"progress: {message}", file=sys.stderr, flush=True)


class Clock:
    """The app's clock (``App.now``): ``moment``, plus the real time since ``run()`` when
    ``running`` (so a slot's lateness is real)."""

    def __init__(self, moment: dt.datetime) -> None:
        from bot.app import App

        self.moment = moment
        self._since: float | None = None
        App.now = lambda app: self.now().astimezone(app.tz)  # type: ignore[method-assign]

    def run(self) -> None:
        self._since = time.monotonic()

    def now(self) -> dt.datetime:
        if self._since is None:
            return self.moment
        return self.moment + dt.timedelta(seconds=time.monotonic() - self._since)


def fds() -> dict[str, int]:
    """This process's open file descriptors by kind (socket, pipe, the state database, …)."""
    kinds: Counter[str] = Counter()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the fd of the listing itself, closed meanwhile
            continue
        if target.startswith("socket:"):
            kinds["socket"] += 1
        elif target.startswith("pipe:"):
            kinds["pipe"] += 1
        elif "sqlite3" in target:
            kinds["state database"] += 1
        else:
            kinds["other"] += 1
    kinds["all"] = sum(kinds.values())
    return dict(kinds)


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def malloc_in_use_kb() -> int | None:
    """Bytes malloc has handed out and not got back (glibc ``mallinfo2``: small blocks in use
    plus mmapped blocks), in kB; None where there is no glibc 2.33+. RSS also counts memory
    malloc keeps for reuse after it was freed; this does not."""
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return int((info.uordblks + info.hblkhd) // 1024)


def sample(label: str, slots: int) -> dict[str, Any]:
    """RSS after ``gc.collect()``, what malloc and Python's allocator hold for live objects,
    live threads, open file descriptors."""
    gc.collect()
    return {
        "label": label,
        "slots": slots,
        "rss_kb": rss_kb(os.getpid()),
        "rss_parts_kb": rss_parts_kb(os.getpid()),
        "malloc_kb": malloc_in_use_kb(),
        "python_blocks": sys.getallocatedblocks(),
        "threads": threading.active_count(),
        "fds": fds(),
    }


class EventCounter(logging.Handler):
    """Counts the bot's log events by name (``post.published``, ``slot.missed``, …)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()
        self.warnings: dict[str, str] = {}  # the first line of each warning event

    def emit(self, record: logging.LogRecord) -> None:
        event = str(getattr(record, "event", record.getMessage()[:40]))
        self.counts[event] += 1
        if record.levelno >= logging.WARNING and event not in self.warnings:
            fields = getattr(record, "fields", {})
            line = " ".join([event, *(f"{k}={v}" for k, v in fields.items())])
            self.warnings[event] = line[:300]


def _load_app() -> Any:
    from bot import logs
    from bot.app import App

    app = App.load()
    logs.setup(app.settings.log_level, app.settings.log_format)
    return app


# -- many accounts, one fire time -------------------------------------------------------------


def _warm_up(app: Any, card: bool) -> None:
    """One dry-run post of the demo Mastodon account (the process has rendered a post, opened
    the state database and compiled what is compiled on first use), printed nowhere. With
    ``card``, also one real post (an in-process publisher) of an account like the measured
    ones an hour before the slot: it draws the share card the slot's posts will carry, so the
    slot finds it cached, as every slot after an item's first does."""
    from pydantic import SecretStr

    from bot.config import Account
    from bot.poster import Poster
    from bot.worker import run_once

    account = next(a for a in app.accounts if a.platform == "mastodon")
    app.publisher(account, stream=io.StringIO())
    outcomes = run_once(app, [account], FIRE - dt.timedelta(days=1))
    if card:
        like = Account(
            name="warm-up",
            platform="mastodon",
            languages=("en",),
            schedule="30 12 * * *",
            language_mode="rotate",
            fallback_language=None,
            dry_run=False,
            api_base_url="https://warm-up.example",
            access_token=SecretStr("warm-up-token-0123456789"),
        )
        with app.open_store() as store:
            poster = Poster(store, app.dataset, app.renderer, today=app.today)
            outcomes += poster.run_slot(like, InstantPublisher(like), FIRE - dt.timedelta(hours=1))
    if not outcomes or any(o.status != "posted" for o in outcomes):
        raise RuntimeError(f"warm-up post failed: {outcomes}")


def _set_accounts(accounts: list[dict[str, str]], via: str = "environment") -> None:
    """The accounts as an operator configures them: ``ACCOUNTS__<NAME>__*`` variables in the
    process environment (a platform's config vars), or in ``.env`` in the working folder."""
    lines = []
    for entry in accounts:
        prefix = f"ACCOUNTS__{entry['name'].upper()}__"
        lines += [
            f"{prefix}PLATFORM=mastodon",
            f"{prefix}API_BASE_URL={entry['base_url']}",
            f"{prefix}ACCESS_TOKEN={entry['token']}",
        ]
    if via == "env-file":
        Path(".env").write_text("\n".join(lines) + "\n")
        return
    for line in lines:
        name, value = line.split("=", 1)
        os.environ[name] = value


def _fire(worker: Any, clock: Clock) -> dict[str, Any]:
    """Every account's job fires at the fire time (the clock then runs in real time); wait
    for every future. Wall and CPU time, and the log events of the slot."""
    events = EventCounter()
    logging.getLogger().addHandler(events)
    clock.run()
    cpu = time.process_time()
    started = time.perf_counter()
    futures = [worker._job(account) for account in worker.app.accounts]
    handed = time.perf_counter() - started
    finished: list[float] = []
    for future in futures:
        if future is not None:
            future.add_done_callback(lambda _: finished.append(time.perf_counter() - started))
    errors = []
    for future in futures:
        if future is None:
            errors.append("a job handed nothing over")
            continue
        try:
            future.result(timeout=600)
        except Exception as exc:  # reported, not raised: the count shows it
            errors.append(repr(exc))
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    logging.getLogger().removeHandler(events)
    return {
        "wall": wall,
        "cpu": cpu,
        "handed_seconds": handed,
        "finished": sorted(finished),
        "events": dict(events.counts),
        "warnings": events.warnings,
        "errors": errors[:10],
        "error_count": len(errors),
    }


def many_accounts(args: dict[str, Any]) -> dict[str, Any]:
    """Base RSS (the modules a worker imports, an App with the demo accounts that posted one
    dry-run post), then the App with the accounts of ``accounts_file`` (set as
    ``ACCOUNTS__<NAME>__*`` variables), a Worker, every account's job fired at the fire time,
    and the wall time until every future is done; RSS again after the slot."""
    import apscheduler.schedulers.background  # noqa: F401  (a running worker has it)

    import bot.publishing.mastodon  # noqa: F401  (the SDK, loaded by the first publisher)
    from bot.state import Store
    from bot.worker import Worker

    clock = Clock(FIRE)
    base_app = _load_app()
    _warm_up(base_app, card=args.get("card", "warm") == "warm")
    base_app.close()
    del base_app
    base = sample("base", 0)
    progress(f"base process {base['rss_kb'] / 1024:.1f} MB")

    _set_accounts(json.loads(Path(args["accounts_file"]).read_text()), args.get("via", ""))
    started = time.perf_counter()
    app = _load_app()
    load_seconds = time.perf_counter() - started
    worker = Worker(app, started=FIRE - dt.timedelta(seconds=30))
    loaded = sample("accounts loaded", 0)
    progress(f"{len(app.accounts)} accounts loaded in {load_seconds:.1f} s")

    fired = _fire(worker, clock)
    progress(f"slot done in {fired['wall']:.2f} s")
    after = sample("after the slot", len(app.accounts))
    after["lane_threads"] = worker.lanes.threads()
    after["lanes"] = len(worker.lanes.servers)

    with Store(app.settings.database_url) as store:
        rows = store.history(limit=10 * len(app.accounts) + 10)
    slot_rows = [r for r in rows if r.slot_at.startswith(FIRE.strftime("%Y-%m-%dT%H:%M"))]
    worker.stopping.set()
    worker.lanes.shutdown(wait=True)
    app.close()
    return {
        **fired,
        "accounts": len(app.accounts),
        "load_seconds": load_seconds,
        "statuses": dict(Counter(r.status for r in slot_rows)),
        "posted_accounts": len({r.account for r in slot_rows if r.status == "posted"}),
        "samples": [base, loaded, after],
        "concurrency": app.settings.post_concurrency,
        "per_server": app.settings.post_concurrency_per_server,
    }


# -- long run in accelerated time ---------------------------------------------------------------


class InstantPublisher:
    """A publisher that answers at once, in process (no network): the bot's own work only."""

    def __init__(self, account: Any) -> None:
        from bot.post import MASTODON_DEFAULT_LIMITS

        self.limits = MASTODON_DEFAULT_LIMITS
        self.account = account
        self.count = 0

    def publish(self, post: Any) -> Any:
        from bot.post import Published

        self.count += 1
        return Published(remote_id=f"instant-{self.count}", url=None)

    def close(self) -> None:
        return None


def long_run(args: dict[str, Any]) -> dict[str, Any]:
    """``slots`` slots of ``accounts`` accounts on a minutely schedule (on ``hosts`` servers,
    so several lanes): each fire moves the app's clock a minute on, fires every account's job
    (``Worker._job``) and waits for the futures. Samples after ``warmup`` slots (start), then
    every ``every`` slots."""
    from bot.state import Store
    from bot.worker import Worker

    n_accounts, hosts = int(args["accounts"]), int(args["hosts"])
    slots, warmup, every = int(args["slots"]), int(args["warmup"]), int(args["every"])
    for index in range(n_accounts):
        prefix = f"ACCOUNTS__RUN{index}__"
        os.environ[prefix + "PLATFORM"] = "mastodon"
        os.environ[prefix + "API_BASE_URL"] = f"https://server{index % hosts}.example"
        os.environ[prefix + "ACCESS_TOKEN"] = f"long-run-token-{index}-0123456789"
    start = FIRE - dt.timedelta(minutes=(warmup + slots) // n_accounts + 10)
    clock = Clock(start)
    app = _load_app()
    app.publisher_factory = lambda account, settings, stream, tz: InstantPublisher(account)
    worker = Worker(app, started=start - dt.timedelta(seconds=30))
    samples: list[dict[str, Any]] = [sample("before the first slot", -warmup)]
    done = fire = 0
    next_sample = 0  # slots after the warm-up
    failures: Counter[str] = Counter()
    started = time.perf_counter()
    while done < warmup + slots:
        clock.moment = start + dt.timedelta(minutes=fire, seconds=1)
        fire += 1
        for future in [worker._job(account) for account in app.accounts]:
            done += 1
            if future is None:
                failures["nothing handed over"] += 1
                continue
            try:
                future.result(timeout=120)
            except Exception as exc:  # reported, not raised: the row counts show it
                failures[repr(exc)] += 1
        if done - warmup >= next_sample:
            samples.append(sample("", done - warmup))
            next_sample += every
            last = samples[-1]
            progress(
                f"{done - warmup:,}/{slots:,} slots, RSS {last['rss_kb'] / 1024:.1f} MB,"
                f" {last['threads']} threads, {last['fds']['all']} fds"
            )
    seconds = time.perf_counter() - started
    with Store(app.settings.database_url) as store:
        posted = store.execute(
            "SELECT status, COUNT(*) FROM posts GROUP BY status"  # every row of the run
        ).fetchall()
    worker.stopping.set()
    worker.lanes.shutdown(wait=True)
    app.close()
    return {
        "samples": samples,
        "seconds": seconds,
        "slots": done,
        "fires": fire,
        "accounts": n_accounts,
        "lanes": hosts,
        "rows": dict(posted),
        "failures": dict(failures),
    }
