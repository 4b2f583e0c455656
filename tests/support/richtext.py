"""atproto's own rich-text rules, as an oracle independent of the bot's renderer.

Runs ``tests/support/richtext.mjs`` under the Node 22 of the test PDS install
(:mod:`tests.support.pds`): ``@atproto/api``'s ``RichText`` computes, for each text, its
``graphemeLength``, its ``length`` (UTF-8 bytes) and the facets ``detectFacets`` finds (links,
tags, mentions, with UTF-8 byte offsets) — what a Bluesky app would make of the text if it
were typed in. One Node process answers many texts (JSON lines in and out), so a test starts
it once and asks per example; every answer is awaited for at most ``timeout`` seconds.

Use from a test module::

    @pytest.fixture(scope="module")
    def richtext() -> Iterator[RichText]:
        yield from richtext_process()

    @pytest.mark.slow
    def test_x(richtext: RichText) -> None:
        [seen] = richtext.detect(["Go #LeaveX https://example.org"])
        assert seen.tags == {(3, 10): "LeaveX"}

When the install is missing and cannot be made (no npm, no registry), ``richtext_process``
fails under CI (``CI`` set and not "0"/"false"/"no") and otherwise skips the test with the
reason, like the ``pds`` fixture. An install another process is making is waited for.

:func:`post_disagreements` compares a rendered post with the servers' own rules (Mastodon's
``count_status_length`` from tests/support/mastodon_server.py, RichText's lengths and
detection); each disagreement known today is marked with its kind (the constants below), so a
property test can count those and fail on any other.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NoReturn, Self

import regex

from bot.post import Facet, PlatformLimits, RenderedPost
from tests.support import pds
from tests.support.mastodon_server import count_status_length

SCRIPT = Path(__file__).resolve().with_name("richtext.mjs")
START_TIMEOUT_S = 30.0
"""Bound for starting Node and loading @atproto/api (about 0.5 s)."""
TIMEOUT_S = 30.0
"""Bound for one batch of answers (thousands of texts take well under a second)."""

__all__ = [
    "Detected",
    "DetectedFacet",
    "Disagreement",
    "KnownDisagreement",
    "RichText",
    "RichTextError",
    "facet_problems",
    "is_display_of",
    "post_disagreements",
    "richtext_process",
]


class RichTextError(RuntimeError):
    """The Node process failed, answered nonsense, or did not answer in time."""


@dataclass(frozen=True)
class DetectedFacet:
    """A facet as atproto's detection makes it: UTF-8 byte offsets ``[start, end)``."""

    start: int
    end: int
    kind: str  # "link", "tag", "mention" (or "other")
    value: str  # the link's uri, the tag without '#', the mention's handle


@dataclass(frozen=True)
class Detected:
    """What ``new RichText({text})`` makes of one text."""

    text: str
    graphemes: int
    """``RichText.graphemeLength`` (Intl.Segmenter's grapheme clusters): what Bluesky limits."""
    bytes: int
    """``RichText.length``: UTF-8 bytes."""
    facets: tuple[DetectedFacet, ...] = field(default=())
    unassigned: frozenset[str] = frozenset()
    """Characters of the text that Node's Unicode data (ICU's) has not assigned yet."""

    def of_kind(self, kind: str) -> dict[tuple[int, int], str]:
        return {(f.start, f.end): f.value for f in self.facets if f.kind == kind}

    @property
    def links(self) -> dict[tuple[int, int], str]:
        """Detected links by byte range: ``{(start, end): uri}``."""
        return self.of_kind("link")

    @property
    def tags(self) -> dict[tuple[int, int], str]:
        """Detected hashtags by byte range: ``{(start, end): tag}``."""
        return self.of_kind("tag")


class RichText:
    """One running ``richtext.mjs``; :meth:`detect` may be called any number of times."""

    def __init__(self, app_dir: Path, *, timeout: float = TIMEOUT_S) -> None:
        self.app_dir = app_dir
        self.timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._buffer = b""

    def start(self) -> Self:
        node = pds.node_binary(self.app_dir)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- closed by stop()
        self._proc = subprocess.Popen(
            [str(node), str(SCRIPT), str(self.app_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,
        )
        assert self._proc.stdin is not None
        os.set_blocking(self._proc.stdin.fileno(), False)
        [hello] = self._exchange([], 1, START_TIMEOUT_S)
        if not hello.get("ready"):
            raise RichTextError(f"richtext.mjs did not start: {hello}")
        return self

    def stop(self, *, kill: bool = False) -> str:
        """Close stdin (the script then exits), or kill it; returns what it wrote to stderr.
        Idempotent."""
        proc, self._proc = self._proc, None
        stderr, self._stderr = self._stderr, None
        self._buffer = b""
        if proc is not None:
            if kill:
                proc.kill()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if stderr is None:
            return ""
        with stderr:
            stderr.seek(0)
            return stderr.read().decode(errors="replace")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def detect(self, texts: Sequence[str]) -> list[Detected]:
        """RichText's view of each text, in order (one round trip for the whole batch)."""
        lines = [json.dumps({"text": text}, ensure_ascii=True) + "\n" for text in texts]
        answers = self._exchange([line.encode("ascii") for line in lines], len(texts))
        out: list[Detected] = []
        for text, answer in zip(texts, answers, strict=True):
            if "error" in answer:
                raise RichTextError(f"RichText failed on {text!r}: {answer['error']}")
            facets = tuple(
                DetectedFacet(int(f["start"]), int(f["end"]), str(f["kind"]), str(f["value"]))
                for f in answer["facets"]
            )
            out.append(
                Detected(
                    text,
                    int(answer["graphemes"]),
                    int(answer["bytes"]),
                    facets,
                    frozenset(str(c) for c in answer.get("unassigned", ())),
                )
            )
        return out

    def _exchange(
        self, requests: list[bytes], count: int, timeout: float | None = None
    ) -> list[dict[str, Any]]:
        """Write the requests and read ``count`` answer lines, both at once (so neither pipe
        can fill up and block the other side), within ``timeout`` seconds."""
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise RichTextError("richtext.mjs is not running (call start())")
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        pending = b"".join(requests)
        stdin, stdout = proc.stdin.fileno(), proc.stdout.fileno()
        answers: list[dict[str, Any]] = []
        while len(answers) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail(f"no answer within {timeout or self.timeout:g} s")
            readable, writable, _ = select.select(
                [stdout], [stdin] if pending else [], [], remaining
            )
            if writable:
                try:
                    pending = pending[os.write(stdin, pending[:65536]) :]
                except BlockingIOError:
                    pass
                except BrokenPipeError:
                    self._fail("it exited")
            if readable:
                chunk = os.read(stdout, 1 << 16)
                if not chunk:
                    self._fail("it exited")
                self._buffer += chunk
                *complete, self._buffer = self._buffer.split(b"\n")
                answers.extend(json.loads(line) for line in complete)
        if len(answers) > count:
            self._fail(f"{len(answers)} answers to {count} questions")
        return answers

    def _fail(self, why: str) -> NoReturn:
        stderr = self.stop(kill=True)
        raise RichTextError(f"richtext.mjs: {why}\n{stderr[-3000:]}")


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> NoReturn:
    if _ci():
        raise pds.PDSUnavailable(f"CI is set, so a missing RichText (test PDS install): {reason}")
    import pytest

    pytest.skip(f"atproto RichText unavailable (test PDS install): {reason}")


def richtext_process(*, timeout: float = TIMEOUT_S) -> Iterator[RichText]:
    """Generator for a pytest fixture: a running :class:`RichText`, stopped afterwards.

    Installs the test PDS (Node 22 + @atproto) if needed, or waits for an install under way;
    when that is impossible, fails under CI and skips the requesting tests elsewhere.
    """
    try:
        app_dir = pds.install()
    except pds.PDSUnavailable as exc:
        _unavailable(str(exc))
    with RichText(app_dir, timeout=timeout) as richtext:
        yield richtext


# -- comparing the bot's facets with RichText's ----------------------------------------------


def is_display_of(shown: str, uri: str) -> bool:
    """Whether ``shown`` is how a Bluesky app may display a link to ``uri``: the URI itself,
    or without its scheme (and a leading ``www.``; a bare "/" path may be left out, as the apps
    do), the whole host always, and either the whole rest or a cut of it marked with a final
    "…"."""
    scheme, sep, written = uri.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return False
    if shown in (uri, written):  # written out, or as the apps link a domain without scheme
        return True
    rest = written.removeprefix("www.")
    host = regex.match(r"[^/?#]*", rest)
    assert host is not None
    after = rest[host.end() :]
    forms = {rest}
    if after == "/" or after.startswith(("/?", "/#")):
        forms.add(host.group() + after[1:])
    if shown in forms:
        return True
    kept = shown.removesuffix("…")
    return (
        kept != shown
        and len(kept) >= host.end()
        and any(form.startswith(kept) and form != kept for form in forms)
    )


#: What a link facet may leave out where RichText's detection runs on (issue 11: "targets
#: without glued quotes/emphasis"): a URL never ends with sentence punctuation, a closing quote
#: or bracket it did not open, emphasis or an ellipsis, and holds no < > ". Bluesky shows a
#: post's facets as sent, so the bot's link goes to the URL alone.
GLUED = ".,;:!?'\"»«)]}…“”‘’‚„‹›*~「」<>"
#: app.bsky.richtext.facet#tag's maxLength (UTF-8 bytes): the PDS refuses a longer tag facet.
MAX_TAG_BYTES = 640
#: Known disagreements between the bot and the servers' rules (none is left of those the
#: issue "Text exactly as the servers see it" listed; a new one would be pinned by a strict
#: xfail case in tests/test_rendering.py test_text_as_the_servers_see_it).


class KnownDisagreement(Exception):
    """Raised by a test whose only disagreements with the servers are known ones, so that its
    strict ``xfail(raises=KnownDisagreement)`` fails as soon as they are fixed, and any other
    failure is not taken for them."""


@dataclass(frozen=True)
class Disagreement:
    """One way the bot's facets differ from RichText's; ``known`` names a known kind."""

    message: str
    known: str | None = None

    def __str__(self) -> str:
        return self.message if self.known is None else f"{self.message} [{self.known}]"


def facet_problems(text: str, facets: Sequence[Facet], seen: Detected) -> list[Disagreement]:
    """How the bot's facets of a Bluesky post disagree with what RichText detects in its text.

    Tags must agree exactly both ways (same byte range, same tag). A link facet's text must be
    a display of its URI (:func:`is_display_of`), and RichText must either detect a link at
    exactly that range or nothing overlapping it (RichText misses some hosts the bot links:
    ``11.be``, hosts with a '-', non-public TLDs). A link or tag RichText detects where the bot
    put no facet would be plain text in the apps. Known kinds are marked (``known``)."""
    if seen.text != text:
        return [Disagreement(f"RichText was asked about another text: {seen.text!r}")]
    raw = text.encode("utf-8")
    problems: list[Disagreement] = []

    def shown(start: int, end: int) -> str:
        return raw[start:end].decode("utf-8", errors="replace")

    theirs = {(f.start, f.end): f for f in seen.facets if f.kind in ("link", "tag")}
    for facet in facets:
        start, end = facet.start, facet.end
        detected = theirs.get((start, end))
        overlapping = [f for f in seen.facets if f.start < end and start < f.end]
        if facet.kind == "tag":
            if detected is None or detected.kind != "tag" or detected.value != facet.value:
                problems.append(
                    Disagreement(
                        f"tag facet {shown(start, end)!r} ({facet.value!r}) at {start}:{end}:"
                        f" RichText detects {overlapping or 'nothing'} there"
                    )
                )
            continue
        if not is_display_of(shown(start, end), facet.value):
            problems.append(
                Disagreement(f"link text {shown(start, end)!r} does not show {facet.value!r}")
            )
        if overlapping and (detected is None or detected.kind != "link"):
            glued = [
                f
                for f in overlapping
                if f.kind == "link"
                and f.start == start
                and f.end > end
                and not regex.search(r"\s", shown(end, f.end))
                and shown(end, f.end)[0] in GLUED
            ]
            if glued == overlapping:
                continue  # the apps' link would take in a closing quote: the bot's is the URL
            problems.append(
                Disagreement(
                    f"link facet {shown(start, end)!r} at {start}:{end}: RichText detects"
                    f" {overlapping} instead"
                )
            )
    for (start, end), found in theirs.items():
        if any(f.start < end and start < f.end for f in facets):
            continue
        if found.kind == "tag" and len(found.value.encode("utf-8")) > MAX_TAG_BYTES:
            continue  # the lexicon refuses such a tag facet: the bot leaves it plain text
        problems.append(
            Disagreement(
                f"RichText detects {found.kind} {shown(start, end)!r} ({found.value!r}) at"
                f" {start}:{end}; the bot made no facet there"
            )
        )
    return problems


# -- a rendered post against the servers' rules ---------------------------------------------


def post_disagreements(
    post: RenderedPost, limits: PlatformLimits, seen: Detected | None
) -> list[Disagreement]:
    """How a rendered post disagrees with the servers' own rules, for the limits it was
    rendered with: its counted length is Mastodon's ``count_status_length`` (when URLs count
    as ``url_length``) or RichText's ``graphemeLength``; that length and RichText's UTF-8
    length are within the limits; on Bluesky, its facets agree with RichText's detection
    (:func:`facet_problems`). ``seen`` is RichText's view of ``post.text`` (it may be ``None``
    for a post whose URLs count as ``url_length`` on Mastodon)."""
    problems: list[Disagreement] = []
    known = None
    if limits.url_length is not None:
        counted = count_status_length(post.text, url_length=limits.url_length)
        name = "Mastodon"
    else:
        if seen is None:
            raise ValueError("RichText's view is needed for a post counted in graphemes")
        counted, name = seen.graphemes, "RichText"
    if counted != post.length:
        problems.append(Disagreement(f"{name} counts {counted}, the bot {post.length}", known))
    if counted > limits.max_graphemes:
        problems.append(Disagreement(f"{counted} > {limits.max_graphemes} for {name}", known))
    if seen is not None:
        if seen.text != post.text:
            problems.append(Disagreement(f"RichText was asked about another text: {seen.text!r}"))
        if limits.max_bytes is not None and seen.bytes > limits.max_bytes:
            problems.append(Disagreement(f"{seen.bytes} UTF-8 bytes > {limits.max_bytes}"))
    if post.platform == "bluesky":
        if seen is None:
            raise ValueError("RichText's view is needed for a Bluesky post's facets")
        problems.extend(facet_problems(post.text, post.facets, seen))
    return problems
