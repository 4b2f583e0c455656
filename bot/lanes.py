"""Lanes: where the worker runs posts, so that no account waits for another.

Each server (a Mastodon instance, a Bluesky PDS) has its own lane: a small pool of threads
(``POST_CONCURRENCY_PER_SERVER``). A server that hangs, times out, answers 5xx or rate-limits
for minutes fills only its own lane; accounts on other servers run in theirs. All lanes
together run at most ``POST_CONCURRENCY`` posts at once, and the slots of one account run one
after the other, never side by side.

Submitting never blocks: the scheduler's own threads only hand slots over, so APScheduler never
skips a fire time because its pool is busy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import urlsplit

from bot.config import Account


def server_of(account: Account) -> str:
    """The host an account's requests go to (its lane)."""
    url = account.api_base_url if account.platform == "mastodon" else account.service_url
    host = urlsplit(url or "").netloc.lower()
    return host or f"{account.platform}:{account.name}"


class Lanes:
    """One bounded thread pool per server, a cap over all of them, and one queue per account."""

    def __init__(self, overall: int, per_server: int) -> None:
        if overall < 1 or per_server < 1:
            raise ValueError("concurrency limits must be at least 1")
        self.overall = overall
        self.per_server = per_server
        self._running = threading.BoundedSemaphore(overall)
        self._pools: dict[str, ThreadPoolExecutor] = {}
        #: the latest slot handed over per account: the next one starts when it is done
        self._tails: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, account: Account, task: Callable[[], None]) -> Future[None]:
        """Run ``task`` in the account's server lane once the account's earlier slots are
        done and the lane and the overall cap have room. Never blocks the caller; a slot
        waiting for its account's turn holds no thread."""
        done: Future[None] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("lanes are shut down")
            server = server_of(account)
            pool = self._pools.get(server)
            if pool is None:
                pool = self._pools[server] = ThreadPoolExecutor(
                    max_workers=self.per_server, thread_name_prefix=f"lane-{server}"
                )
            previous = self._tails.get(account.name)
            self._tails[account.name] = done

        def start(_: object = None) -> None:
            with self._lock:
                closed = self._closed
            if closed:  # shut down meanwhile: the slot stays due, the next start settles it
                done.cancel()
                return
            try:
                running = pool.submit(self._run, task)
            except RuntimeError:  # shut down between the check and the submit
                done.cancel()
                return
            running.add_done_callback(lambda f: _settle(f, done))

        if previous is None:
            start()
        else:
            previous.add_done_callback(start)  # runs at once if the earlier slot is done
        return done

    def _run(self, task: Callable[[], None]) -> None:
        with self._running:
            task()

    @property
    def servers(self) -> list[str]:
        with self._lock:
            return sorted(self._pools)

    def threads(self) -> int:
        """Threads the lanes hold now (for tests and benchmarks)."""
        with self._lock:
            return sum(len(pool._threads) for pool in self._pools.values())

    def shutdown(self, *, wait: bool = True) -> None:
        """Take no more slots; with ``wait``, let running posts finish (queued ones are
        dropped: their slots are still due and the next start settles them)."""
        with self._lock:
            self._closed = True
            pools = list(self._pools.values())
        for pool in pools:
            pool.shutdown(wait=wait, cancel_futures=True)


def _settle(source: Future[None], target: Future[None]) -> None:
    """Give ``target`` the outcome of ``source``."""
    if source.cancelled():
        target.cancel()
    elif (error := source.exception()) is not None:
        target.set_exception(error)
    else:
        target.set_result(None)
