"""One lifecycle for the test servers: start, bounded readiness wait, idempotent stop.

:class:`LoopbackServer` is the base of the Mastodon test server, the fault proxy, the PDS and
the PostgreSQL server.  A subclass says how to launch (``_launch``), when it is ready
(``_ready``, polled) and how to release everything (``_teardown``); the base gives them all the
same ``start()`` / ``stop()`` / ``with`` behaviour:

* ``start()`` launches and polls ``_ready()`` until it is true: at most ``ready_timeout``
  seconds and ``ceil(ready_timeout / ready_interval) + 1`` polls.  A launch that finds its
  port taken meanwhile (:class:`PortTaken`) is tried again, at most ``launch_attempts`` times.
  Whatever fails, ``stop()`` runs before the error propagates.  A running server is returned
  unchanged.
* ``stop()`` releases whatever exists; it is idempotent and safe after a failed start.
* Servers listen on :data:`LOOPBACK` (127.0.0.1) only; :func:`free_ports` picks ports there.
"""

from __future__ import annotations

import contextlib
import math
import socket
import subprocess
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

__all__ = [
    "LOOPBACK",
    "LoopbackServer",
    "PortTaken",
    "free_ports",
    "require_loopback",
    "wait_until",
]

LOOPBACK = "127.0.0.1"
"""The only address the test servers listen on."""


def stop_process(proc: subprocess.Popen[Any] | None, timeout: float) -> None:
    """Stop a server process: SIGTERM, SIGKILL after ``timeout`` seconds; close its stdin
    (some servers stop when it closes). Nothing for ``None`` or a process already gone."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()


class PortTaken(Exception):
    """A port picked as free was taken before the server bound it (the launch is retried)."""


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``condition`` until it is true; False after ``timeout`` seconds.

    Bounded in time and in count: at most ``ceil(timeout / interval) + 1`` calls.  Exceptions
    from ``condition`` propagate (a server that died need not be waited for).
    """
    attempts = max(1, math.ceil(timeout / interval) + 1)
    deadline = time.monotonic() + timeout
    for attempt in range(attempts):
        if condition():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0 or attempt == attempts - 1:
            break
        time.sleep(min(interval, remaining))
    return False


def free_ports(count: int = 1) -> list[int]:
    """``count`` distinct TCP ports that were free on 127.0.0.1 a moment ago."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((LOOPBACK, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def require_loopback(url: str) -> str:
    """``url`` unchanged if its host is 127.0.0.1, else ValueError."""
    if urlsplit(url).hostname != LOOPBACK:
        raise ValueError(f"{url!r} is not on {LOOPBACK}")
    return url


class LoopbackServer:
    """Base of the test servers: ``start()``, ``stop()`` and the context manager."""

    host: Final = LOOPBACK
    """Always 127.0.0.1: the servers listen on loopback only."""
    ready_timeout: float = 10.0
    """Seconds ``start()`` waits for ``_ready()``."""
    ready_interval: float = 0.05
    """Seconds between two ``_ready()`` polls."""
    launch_attempts: int = 1
    """Launches tried when the port is taken meanwhile (:class:`PortTaken`)."""

    # -- what subclasses provide -------------------------------------------------------------

    @property
    def running(self) -> bool:
        raise NotImplementedError

    def _launch(self) -> None:
        """Start the server's threads or processes (may raise :class:`PortTaken`)."""
        raise NotImplementedError

    def _ready(self) -> bool:
        """True once the server answers; may raise when it can never become ready."""
        return True

    def _teardown(self) -> None:
        """Release whatever exists (threads, processes, sockets, files); idempotent."""
        raise NotImplementedError

    def _start_error(self, problem: str) -> Exception:
        """The exception for a start that failed (``problem`` completes "<server> ...")."""
        return RuntimeError(f"{type(self).__name__} {problem}")

    # -- the lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        """Launch and return once ready (bounded wait); a running server is returned as is."""
        if self.running:
            return self
        try:
            self._launch_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop and release everything; idempotent, also after a failed start."""
        self._teardown()

    def _launch_until_ready(self) -> None:
        taken = ""
        for _attempt in range(self.launch_attempts):
            try:
                self._launch()
                if not wait_until(
                    self._ready, timeout=self.ready_timeout, interval=self.ready_interval
                ):
                    raise self._start_error(f"was not ready within {self.ready_timeout:g} s")
                return
            except PortTaken as exc:
                taken = str(exc)
        raise self._start_error(f"found no free port in {self.launch_attempts} attempts: {taken}")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
