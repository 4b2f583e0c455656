"""Pictures for posts: the item's own picture, or a share card drawn for it (Pillow).

- :func:`picture_for` decides a post's picture and alt text without drawing anything (cheap
  enough for ``check`` and ``preview``): the item's own ``image`` when it has one (with its
  ``image.alt`` in the post's language), else the share card, whose file is named after a hash
  of its content, the layout code and the fonts (a changed name, date or layout gets a new file).
- :func:`ensure` makes sure the picture's file exists, drawing a share card into the cache
  folder when it is missing (first use, or a deleted cache). The poster calls :func:`prepare`
  before it sends a post, which draws in a child process (``python -m bot.cards.draw``) so a
  worker never loads Pillow, and logs instead of failing: a post without its picture still
  goes out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
from functools import cache
from pathlib import Path

from bot.cache import cache_dir
from bot.cards.words import CardTexts, alt_text, card_texts
from bot.dataset import Item
from bot.post import Picture

__all__ = ["CardTexts", "alt_text", "card_file", "card_texts", "ensure", "picture_for", "prepare"]

#: Mastodon's focal point of a share card: the name, a little above the centre.
CARD_FOCUS = (0.0, 0.15)


@cache
def _layout_tag() -> str:
    """Changes with the drawing code, the fonts and Pillow's version (its text layout and
    PNG encoder): cached cards of an older layout are not reused. Pillow is not imported."""
    from importlib.metadata import version

    from bot.cards import draw

    digest = hashlib.sha256(Path(draw.__file__).read_bytes())
    digest.update(f"pillow:{version('pillow')}".encode())
    for font in (draw.REGULAR, draw.BOLD):
        digest.update(f"{font.name}:{font.stat().st_size}".encode())
    return digest.hexdigest()[:16]


def card_file(texts: CardTexts) -> Path:
    """Where the share card with these texts is cached (named by its content)."""
    return Path(_card_path(texts.pairs(), str(_here())))


def _card_path(pairs: tuple[tuple[str, str], ...], folder: str) -> str:
    payload = "\0".join([_layout_tag(), *(f"{k}={v}" for k, v in pairs)])
    key = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]
    return f"{folder}{os.sep}{key}.png"


def _here() -> Path:
    """The cards folder of the current environment."""
    environ = os.environ
    return _cards_dir(environ.get("XDG_CACHE_HOME"), environ.get("HOME"))


@cache
def _cards_dir(cache_home: str | None, home: str | None) -> Path:
    """The cards folder for these environment values (cache_dir() costs 20 µs a call)."""
    return cache_dir() / "cards"


#: Pictures already decided, per item object, language, day and link: the renderer asks for
#: each item once per platform and on every render (``check``, ``preview``).
_DECIDED: dict[tuple[int, str, dt.date, str | None, Path], tuple[Item, Picture | None]] = {}
_DECIDED_MAX = 4096


def picture_for(
    item: Item, language: str, today: dt.date, url: str | None = None
) -> Picture | None:
    """The post's picture: the item's own (preferred), else its share card; ``None`` when
    the item has no picture and there are no card words for ``language``."""
    here = _here()
    key = (id(item), language, today, url, here)
    known = _DECIDED.get(key)
    if known is not None and known[0] is item:
        return known[1]
    picture = _decide(item, language, today, url, str(here))
    if len(_DECIDED) >= _DECIDED_MAX:
        _DECIDED.clear()
    _DECIDED[key] = (item, picture)  # the item is kept, so its id is not reused meanwhile
    return picture


def _decide(
    item: Item, language: str, today: dt.date, url: str | None, folder: str
) -> Picture | None:
    if item.image is not None:
        return Picture(file=item.image.file, alt=item.image.alt.get(language, ""))
    texts = card_texts(item, language, today, url)
    if texts is None:
        return None
    pairs = texts.pairs()
    return Picture(
        file=_card_path(pairs, folder), alt=alt_text(texts), focus=CARD_FOCUS, card=pairs
    )


def ensure(picture: Picture, *, in_process: bool = True) -> Path:
    """The picture's file, drawing a share card if its cached file is missing.

    ``in_process=False`` draws in a short-lived child process, so a long-running worker never
    loads Pillow (about 10 MB it would keep; a card is drawn once per item, language and
    content, so the child's start-up, about 0.3 s, is rare). Threads that need the same new
    card wait for one drawing instead of each drawing it."""
    path = Path(picture.file)
    if not picture.card or path.is_file():
        return path
    with _lock_for(path):
        if path.is_file():  # another thread drew it while this one waited
            return path
        if in_process:
            from bot.cards.draw import draw_card

            data = draw_card(CardTexts.from_pairs(picture.card))
        else:
            data = _draw_in_child(picture.card)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A name of its own (process and thread), then an atomic rename: a concurrent reader
        # sees the whole card or none.
        scratch = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        scratch.write_bytes(data)
        scratch.replace(path)
    return path


_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _LOCKS_LOCK:
        if len(_LOCKS) > 1024:  # cards are few; never let this grow without bound
            _LOCKS.clear()
        return _LOCKS.setdefault(path, threading.Lock())


def _draw_in_child(card: tuple[tuple[str, str], ...]) -> bytes:
    """``python -m bot.cards.draw`` with the card's texts as JSON on stdin; PNG on stdout."""
    import json
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parent.parent.parent)  # this very copy of the bot
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot.cards.draw"],
            input=json.dumps(card).encode("utf-8"),
            capture_output=True,
            env=env,
            timeout=120,
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise ValueError(f"drawing the card failed: {detail[-1] if detail else exc}") from None
    except subprocess.TimeoutExpired:
        raise ValueError("drawing the card took more than 120 s") from None
    if not done.stdout.startswith(b"\x89PNG"):
        raise ValueError("drawing the card gave no PNG")
    return done.stdout


def prepare(picture: Picture) -> None:
    """:func:`ensure`, logging instead of failing: a post goes out without its picture rather
    than not at all (the publishers skip a picture whose file is missing)."""
    import logging

    from bot.logs import log_event

    try:
        ensure(picture, in_process=False)
    except (OSError, ValueError) as exc:
        log_event(
            logging.getLogger("bot.cards"),
            "picture.unavailable",
            logging.WARNING,
            file=picture.file,
            error=str(exc),
        )
