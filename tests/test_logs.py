"""Masking in the log formatters: every registered secret is replaced by ``***`` wherever it
would appear in a line (a field value, the message, an exception's traceback), in the text and
in the JSON format, and registering a secret while another thread masks a line is safe."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator

import pytest

from bot import logs
from bot.logs import log_event, mask, register_secret

FORMATS = ["text", "json"]
#: A secret that JSON and repr() write differently from itself (quote, backslash, non-ASCII).
AWKWARD = 'pa"ss\\wörd-7f3a9c'


@pytest.fixture(autouse=True)
def no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a fresh process does: nothing registered for masking."""
    monkeypatch.setattr(logs, "_secrets", type(logs._secrets)())


@pytest.fixture
def emit(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[str], None]]:
    """``emit(fmt)`` sets the bot's logging up as ``LOG_FORMAT=fmt`` does (the lines then go
    to the captured stderr); the root logger is restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    noisy = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "urllib3")}

    def setup(fmt: str) -> None:
        logs.setup("DEBUG", fmt)
        capsys.readouterr()

    yield setup
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, value in noisy.items():
        logging.getLogger(name).setLevel(value)


def _lines(capsys: pytest.CaptureFixture[str], fmt: str) -> str:
    err = capsys.readouterr().err
    assert err, "nothing was logged"
    if fmt == "json":
        first = err.splitlines()[0]
        json.loads(first)  # masking keeps the line valid JSON
    return err


@pytest.mark.parametrize("fmt", FORMATS)
def test_secret_in_a_field_value_is_masked(
    fmt: str, emit: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    emit(fmt)
    register_secret("tok-field-0a1b2c3d")
    register_secret(AWKWARD)
    log = logging.getLogger("test.logs")
    log_event(log, "post.failed", account="fr", error="401 for token tok-field-0a1b2c3d")
    log_event(log, "post.failed", account="de", error=f"bad password {AWKWARD} given")
    out = _lines(capsys, fmt)
    assert "tok-field-0a1b2c3d" not in out
    assert "f3a9c" not in out  # neither as written nor as JSON escapes it
    assert out.count("***") == 2
    assert "account=fr" in out or '"account": "fr"' in out  # the rest of the line is kept


@pytest.mark.parametrize("fmt", FORMATS)
def test_secret_in_the_message_is_masked(
    fmt: str, emit: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    emit(fmt)
    register_secret("tok-message-99887766")
    log = logging.getLogger("test.logs")
    log_event(log, "login.tok-message-99887766")  # a secret in the event name itself
    log.warning("session %s refreshed", "tok-message-99887766")  # and in a %-formatted message
    out = _lines(capsys, fmt)
    assert "tok-message-99887766" not in out
    assert out.count("***") == 2
    assert "refreshed" in out


@pytest.mark.parametrize("fmt", FORMATS)
def test_secret_in_an_exception_traceback_is_masked(
    fmt: str, emit: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    emit(fmt)
    register_secret("tok-traceback-5566aabb")
    register_secret(AWKWARD)
    log = logging.getLogger("test.logs")

    def login(token: str) -> None:
        raise PermissionError(f"token {token} rejected, and {AWKWARD!r} too")

    try:
        login("tok-traceback-5566aabb")
    except PermissionError:
        log.error("login.failed", exc_info=True)
    out = _lines(capsys, fmt)
    assert "PermissionError" in out and "Traceback" in out
    assert "tok-traceback-5566aabb" not in out
    assert "f3a9c" not in out
    assert "token *** rejected" in out
    if fmt == "json":
        assert "token *** rejected" in json.loads(out.splitlines()[0])["exception"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_secret_containing_another_secret_is_masked_whole(
    fmt: str, emit: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    """The short secret is registered first; masking it first would leave the rest of the
    long one in the line."""
    emit(fmt)
    short, long = "abcd1234", "session:abcd1234:refresh-secret-tail"
    register_secret(short)
    register_secret(long)
    log = logging.getLogger("test.logs")
    log_event(log, "session.saved", session=long, again=f"{short}")
    out = _lines(capsys, fmt)
    for piece in (short, "session:", "refresh-secret-tail"):
        assert piece not in out
    assert out.count("***") == 2


def test_mask_while_another_thread_registers() -> None:
    """A worker thread registering a secret (a Bluesky login) while another thread masks a line
    must not break the masking: with a set iterated while it grows this was
    ``RuntimeError: Set changed size during iteration``. The text's substring test registers
    a secret from another thread in the middle of mask()'s loop, every time, so the race
    happens deterministically."""
    registered: list[str] = []

    class RegistersWhileSearched(str):
        def __contains__(self, part: object) -> bool:
            late = f"late-secret-{len(registered):04d}"
            worker = threading.Thread(target=register_secret, args=(late,))
            worker.start()
            worker.join(timeout=10)
            assert not worker.is_alive(), "register_secret blocked while mask() ran"
            registered.append(late)
            return super().__contains__(part)

    register_secret("first-secret-1111")
    register_secret("second-secret-2222")
    text = RegistersWhileSearched("x first-secret-1111 y second-secret-2222 z late-secret-0000")
    assert mask(text) == "x *** y *** z late-secret-0000"  # a snapshot: the late one is new
    assert registered  # the race really happened
    assert mask("z late-secret-0000") == "z ***"  # and is masked from the next line on


def test_concurrent_registration_and_masking() -> None:
    """Many threads registering and masking at once: no error, every secret registered."""
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(n: int) -> None:
        try:
            start.wait(timeout=10)
            for i in range(200):
                register_secret(f"thread{n}-secret-{i:04d}")
                mask(f"line with thread{n}-secret-{i:04d} in it")
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert mask("thread7-secret-0199 thread0-secret-0000") == "*** ***"


def test_short_values_are_not_registered() -> None:
    """Values shorter than four characters would mask ordinary words; they are ignored."""
    register_secret("abc")
    register_secret(None)
    register_secret("")
    assert mask("abc") == "abc"
