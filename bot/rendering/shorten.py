"""Shortening a description that does not fit: whole sentences first, else a cut at a word.

Sentences come from ``sentencex`` (Wikimedia's segmenter, which knows German, English and French
abbreviations such as "z. B.", "e.g." and "p. ex."), corrected where it errs on this dataset's
texts: a title or a month ("Mme.", "Dr.", "janv.") ends no sentence, and "X." before a capital
does ("… left X. We follow." — at the cost of "Malcolm X. Little"); a German day before its
month ("am 20. Januar") is an ordinal. Only when not even the first sentence fits is the
description cut at a word, with an ellipsis. A cut never falls inside a word, so a link,
a domain, a hashtag or a mention is kept whole; punctuation is taken off the last word before
the ellipsis only when that word is not one of them (``https://a.example/aufruf-2025-`` keeps
its ``-``), so a post never ends in ``.…``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import regex

from bot.post import PlatformLimits
from bot.rendering import text as rt
from bot.rendering.length import size

ELLIPSIS = "…"
_CUT_PUNCTUATION = ".,;:!?—–-(«\"'“„‚‘ \u00a0\u202f"
#: A word that is (or holds) a link, a domain, a tag, a cashtag or a mention: never trimmed.
_PROTECTED = regex.compile(r"://|^[(«“„‚'\"]*[#＃$@]|[\p{L}\p{N}]\.[\p{L}\p{N}]")
_WORD_END = regex.compile(r"(?<=\S)(?=\s)")

Attempt = Callable[[str | None], list[rt.Segment]]


def sentence_ends(description: str, language: str) -> list[int]:
    """Offsets after each whole sentence but the last, at white space (never inside a word)."""
    return list(_sentence_ends(description, language))


#: Titles and month abbreviations sentencex takes for a sentence's end ("Mme. Durand", "Dr.
#: Martin", "Hrn. Müller", "janv. 2025"), lower-cased, without their dot.
_ABBREVIATIONS = {
    "de": {"hr", "hrn", "fr", "dr", "prof", "nr", "jan", "feb", "mär", "apr", "aug", "sept"}
    | {"sep", "okt", "nov", "dez", "ca", "bzw", "vgl", "evtl", "ggf", "inkl", "st"},
    "en": {"mr", "mrs", "ms", "dr", "prof", "st", "jan", "feb", "mar", "apr", "jun"}
    | {"jul", "aug", "sep", "sept", "oct", "nov", "dec", "vs", "approx"},
    "fr": {"m", "mm", "mme", "mmes", "mlle", "mlles", "dr", "pr", "st", "ste", "janv"}
    | {"févr", "avr", "juil", "sept", "oct", "nov", "déc", "env", "cf", "n°"},
}
_WORD_BEFORE = regex.compile(r"(\w+)\.\s*$")
#: A German date's day ("am 20. Januar", "20. Jan."): an ordinal, not a sentence's end.
_DAY = regex.compile(r"(?<!\d)\d{1,2}\.$")
_MONTH = regex.compile(r"\s+(?:Jan|Feb|Mär|Apr|Mai|Jun|Jul|Aug|Sep|Okt|Nov|Dez)", regex.IGNORECASE)


def _german_day(description: str, end: int) -> bool:
    return bool(_DAY.search(description, 0, end) and _MONTH.match(description, end))


#: "… left X. We …": sentencex takes the platform's one-letter name for an initial.
_X_ENDS = regex.compile(r"(?<![\w.])X\.(?=\s+[\p{Lu}«“„\"'])")


@functools.lru_cache(maxsize=64)
def _sentence_ends(description: str, language: str) -> tuple[int, ...]:
    # Both platforms shorten the same descriptions.
    import sentencex  # type: ignore[import-untyped]  # no type information shipped

    pieces = list(sentencex.segment(language, description))
    if "".join(pieces) != description:
        return ()
    ends, position = [], 0
    for piece in pieces[:-1]:
        position += len(piece)
        before, after = description[position - 1], description[position]
        if (before.isspace() or after.isspace()) and description[:position].strip():
            ends.append(len(description[:position].rstrip()))
    ends.extend(m.end() for m in _X_ENDS.finditer(description) if m.end() < len(description))
    abbreviations = _ABBREVIATIONS.get(language, set())
    return tuple(
        sorted(
            end
            for end in set(ends)
            if not _abbreviated(description[:end], abbreviations)
            and not (language == "de" and _german_day(description, end))
        )
    )


def _abbreviated(sentence: str, abbreviations: set[str]) -> bool:
    word = _WORD_BEFORE.search(sentence)
    return word is not None and word.group(1).casefold() in abbreviations


def _largest(
    count: int, candidate: Callable[[int], str], attempt: Attempt, limits: PlatformLimits
) -> list[rt.Segment]:
    """The post with the longest of ``count`` candidates (shortest first) that fits (binary
    search; ``[]`` if none does). ``candidate(i)`` is asked only for the candidates tried."""
    best: list[rt.Segment] = []
    low, high = 0, count - 1
    while low <= high:
        middle = (low + high) // 2
        segments = attempt(candidate(middle))
        if size(limits, segments)[1]:
            best, low = segments, middle + 1
        else:
            high = middle - 1
    return best


def _with_ellipsis(kept: str) -> str:
    if not _PROTECTED.search(kept.rsplit(None, 1)[-1]):
        kept = kept.rstrip(_CUT_PUNCTUATION)
        if not kept:
            return ""
    if _PROTECTED.search(kept.rsplit(None, 1)[-1]):
        return f"{kept} {ELLIPSIS}"  # glued, the ellipsis would join the link or tag
    return f"{kept}{ELLIPSIS}"


def shorten(
    attempt: Attempt, description: str, language: str, limits: PlatformLimits
) -> list[rt.Segment]:
    """The post with as many whole sentences of ``description`` as fit; if none fits, with the
    most words of it that fit and an ellipsis; if no word fits, without the description."""
    ends = sentence_ends(description, language)
    best = _largest(len(ends), lambda i: description[: ends[i]], attempt, limits)
    if best:
        return best
    ends = [m.start() for m in _WORD_END.finditer(description)]
    # A cut is empty only when all it keeps is punctuation and spaces, so the empty ones come
    # first; the others are made only when tried.
    first = 0
    while first < len(ends) and not _with_ellipsis(description[: ends[first]]):
        first += 1
    best = _largest(
        len(ends) - first,
        lambda i: _with_ellipsis(description[: ends[first + i]]),
        attempt,
        limits,
    )
    return best or attempt(None)
