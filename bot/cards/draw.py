"""Drawing a share card with Pillow: 1200×630, the bundled DejaVu Sans, PNG ≤ 1,000,000 bytes.

Layout, top to bottom: a band with the kind and the country; the item's name, as large as fits
(wrapped at spaces, shrunk down to :data:`MIN_NAME_SIZE`; a word that is still too wide is
broken, and text that is still too long ends with "…" — it never overflows); the call to
action or the departure line; a footer with the network's name and the site's domain.
Pillow is imported here only, when a card is drawn.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cards.words import CardTexts

if TYPE_CHECKING:
    from PIL import ImageFont

WIDTH, HEIGHT = 1200, 630
MARGIN = 64
MAX_BYTES = 1_000_000  # a Bluesky link-card thumbnail must be under this; Mastodon takes more
FONTS = Path(__file__).resolve().parent / "fonts"
REGULAR, BOLD = FONTS / "DejaVuSans.ttf", FONTS / "DejaVuSans-Bold.ttf"

BACKGROUND = (20, 33, 61)
BAND = (252, 163, 17)
INK = (255, 255, 255)
INK_ON_BAND = (20, 33, 61)
ACCENT = (252, 163, 17)
MUTED = (196, 206, 222)

MAX_NAME_SIZE, MIN_NAME_SIZE = 92, 40
NAME_BOX = (WIDTH - 2 * MARGIN, 300)  # the name's area: full width, between band and line
LINE_SIZE, BAND_SIZE, FOOTER_SIZE = 38, 34, 30


@cache
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    from PIL import ImageFont

    return ImageFont.truetype(str(path), size)


def _wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Greedy wrap at spaces; a word wider than ``width`` is broken between characters."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if measure(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        rest = word
        while measure(rest) > width:
            cut = max([1, *(i for i in range(1, len(rest)) if measure(rest[:i]) <= width)])
            lines.append(rest[:cut])
            rest = rest[cut:]
        current = rest
    if current:
        lines.append(current)
    return lines


def _ellipsize(line: str, width: float, measure: Callable[[str], float]) -> str:
    while line and measure(line + "…") > width:
        line = line[:-1].rstrip()
    return line + "…"


def fit_name(name: str) -> tuple[int, list[str]]:
    """The largest font size and lines at which ``name`` fits the name box; at the smallest
    size, words are broken and the last line that fits ends with an ellipsis."""
    width, height = NAME_BOX
    for size in range(MAX_NAME_SIZE, MIN_NAME_SIZE - 1, -4):
        font = _font(BOLD, size)
        measure = font.getlength
        words_fit = all(measure(word) <= width for word in name.split())
        lines = _wrap(name, width, measure)
        if words_fit and len(lines) * _line_height(size) <= height:
            return size, lines
    size = MIN_NAME_SIZE
    measure = _font(BOLD, size).getlength
    lines = _wrap(name, width, measure)
    room = max(1, int(height // _line_height(size)))
    if len(lines) > room:
        lines = [*lines[: room - 1], _ellipsize(lines[room - 1], width, measure)]
    return size, lines


def _line_height(size: int) -> int:
    return int(size * 1.18)


def _fit_one_line(
    text: str, path: Path, size: int, width: float
) -> tuple[ImageFont.FreeTypeFont, str]:
    """A single line: shrink to 3/4 of ``size`` if needed, then cut with an ellipsis."""
    for candidate in range(size, int(size * 0.75) - 1, -2):
        font = _font(path, candidate)
        if font.getlength(text) <= width:
            return font, text
    font = _font(path, int(size * 0.75))
    return font, _ellipsize(text, width, font.getlength)


def draw_card(texts: CardTexts) -> bytes:
    """The card as PNG bytes (under :data:`MAX_BYTES`). The fonts of all sizes tried are let
    go afterwards: a worker draws a card now and then, and keeping a dozen FreeType faces
    cost it 4 MB."""
    try:
        return _draw(texts)
    finally:
        _font.cache_clear()


def _draw(texts: CardTexts) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    pen = ImageDraw.Draw(image)
    inner = WIDTH - 2 * MARGIN

    # The band: kind, and the country on the right.
    pen.rectangle((0, 0, WIDTH, 96), fill=BAND)
    kind_font, kind = _fit_one_line(texts.kind.upper(), BOLD, BAND_SIZE, inner / 2)
    pen.text((MARGIN, 48), kind, font=kind_font, fill=INK_ON_BAND, anchor="lm")
    if texts.country:
        font, country = _fit_one_line(texts.country, REGULAR, BAND_SIZE, inner / 2 - 24)
        pen.text((WIDTH - MARGIN, 48), country, font=font, fill=INK_ON_BAND, anchor="rm")

    # The name, centred vertically in its box.
    size, lines = fit_name(texts.name)
    name_font = _font(BOLD, size)
    block = len(lines) * _line_height(size)
    top = 120 + (NAME_BOX[1] - block) // 2
    for index, line in enumerate(lines):
        y = top + index * _line_height(size) + _line_height(size) // 2
        pen.text((MARGIN, y), line, font=name_font, fill=INK, anchor="lm")

    # The call to action or the departure line.
    if texts.line:
        font, line = _fit_one_line(texts.line, BOLD, LINE_SIZE, inner)
        pen.text((MARGIN, 468), line, font=font, fill=ACCENT, anchor="lm")

    # The footer: network and site.
    pen.line((MARGIN, 526, WIDTH - MARGIN, 526), fill=MUTED, width=2)
    font, network = _fit_one_line(texts.network, BOLD, FOOTER_SIZE, inner / 2)
    pen.text((MARGIN, 578), network, font=font, fill=MUTED, anchor="lm")
    if texts.site:
        font, site = _fit_one_line(texts.site, REGULAR, FOOTER_SIZE, inner / 2 - 24)
        pen.text((WIDTH - MARGIN, 578), site, font=font, fill=MUTED, anchor="rm")

    return _encode(image)


def _encode(image: object) -> bytes:
    """PNG with a 64-colour palette (text on flat colours needs no more); JPEG if that were
    ever too large."""
    from PIL import Image

    assert isinstance(image, Image.Image)
    out = io.BytesIO()
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)
    if out.tell() < MAX_BYTES:
        return out.getvalue()
    for quality in (85, 70, 50):  # pragma: no cover - flat cards are ~40 KB as PNG
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, optimize=True)
        if out.tell() < MAX_BYTES:
            return out.getvalue()
    raise ValueError("the share card does not fit in 1,000,000 bytes")  # pragma: no cover


def main() -> None:
    """``python -m bot.cards.draw``: the card's texts as JSON pairs on stdin, PNG on stdout
    (how a worker draws without loading Pillow itself)."""
    import json
    import sys

    pairs = tuple((str(k), str(v)) for k, v in json.loads(sys.stdin.buffer.read()))
    sys.stdout.buffer.write(draw_card(CardTexts.from_pairs(pairs)))


if __name__ == "__main__":
    main()
