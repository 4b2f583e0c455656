"""What ``check`` says about a post's picture: alt text in the post's language, and a file the
platforms can take (an image type both accept, small enough for a Bluesky card thumbnail)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from bot.cards.draw import MAX_BYTES
from bot.post import Picture

#: Image types both Mastodon (``supported_mime_types``) and Bluesky (blob) take as a picture.
FORMATS = frozenset({"PNG", "JPEG", "GIF", "WEBP"})
#: Mastodon's default ``description_limit`` is 1,500 characters (10,000 on recent versions).
MAX_ALT = 1500


def picture_problem(picture: Picture, language: str, data_dir: Path) -> str | None:
    """Why ``picture`` cannot go with a post in ``language``; ``None`` if it can."""
    if not picture.alt.strip():
        return f"picture {picture.file} has no alt text in {language!r} (image.alt.{language})"
    if len(picture.alt) > MAX_ALT:
        return (
            f"the alt text of {picture.file} in {language!r} is {len(picture.alt)} characters"
            f" long; Mastodon takes {MAX_ALT}"
        )
    if picture.card:
        return None  # a share card: drawn to fit (tests/test_cards.py)
    path = Path(picture.file)
    return _file_problem(path if path.is_absolute() else data_dir / path)


@cache
def _file_problem(path: Path) -> str | None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"picture {path} cannot be read: {exc.strerror}"
    if size >= MAX_BYTES:
        return (
            f"picture {path} has {size:,} bytes; a Bluesky link-card thumbnail must be under"
            f" {MAX_BYTES:,}"
        )
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            kind = image.format
            image.verify()
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return f"picture {path} is not an image Pillow can read"
    if kind not in FORMATS:
        return f"picture {path} is {kind}; Mastodon and Bluesky take {', '.join(sorted(FORMATS))}"
    return None
