"""Typography rules per language, applied to plain-text runs only (never inside links or tags)."""

from __future__ import annotations

import regex

NNBSP = "\u202f"  # narrow no-break space
_FR_BEFORE = regex.compile(r"(?<=[^\s(\[«])[ \u00a0\u202f]*([:;!?]+)(?=\s|$|[»)\]\"”])")
_FR_AFTER_GUILLEMET = regex.compile(r"«[ \u00a0\u202f]*")
_FR_BEFORE_GUILLEMET = regex.compile(r"[ \u00a0\u202f]*»")


def french(text: str) -> str:
    """French spacing: a narrow no-break space before ``: ; ! ?`` and inside « guillemets »."""
    text = _FR_BEFORE.sub(lambda m: NNBSP + m.group(1), text)
    text = _FR_AFTER_GUILLEMET.sub("«" + NNBSP, text)
    return _FR_BEFORE_GUILLEMET.sub(NNBSP + "»", text)


def apply(language: str, text: str) -> str:
    return french(text) if language == "fr" else text
