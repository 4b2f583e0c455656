"""A Mastodon post's picture: uploaded with ``POST /api/v2/media`` (alt text as ``description``,
a focal point), within the instance's limits from ``/api/v2/instance``
(``configuration.media_attachments``).

A picture the instance cannot take (type, size, pixels), an unreadable file, an upload the
server refuses (4xx) or rate-limits (30 uploads per 30 minutes) leaves the post without media
(logged); the post itself still goes out on time. Other transient errors propagate, so the
delivery retries the whole post. An upload is made once per
post and process: a retry after a lost answer attaches the same media id, and the status's
``Idempotency-Key`` makes a repeat return the original status. After a crash the new process
uploads again; that upload stays unattached if the status was already out (Mastodon deletes
unattached media), so there is never a second status.
"""

from __future__ import annotations

import logging
import mimetypes
import struct
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import PermanentPublishError, TransientPublishError
from bot.logs import log_event
from bot.post import OutgoingPost

log = logging.getLogger("bot.publishing.mastodon")
#: Mastodon's description limit before 4.4 (newer instances report 10,000).
DEFAULT_DESCRIPTION_LIMIT = 1500
#: Asking again for an upload the server is still processing (202): how often, how far apart.
PROCESSING_POLLS = 10
PROCESSING_WAIT_S = 1.0


@dataclass(frozen=True)
class MediaLimits:
    """What the instance accepts as an image (``None``: not reported, not checked)."""

    mime_types: frozenset[str] | None = None
    size: int | None = None
    matrix: int | None = None
    description: int = DEFAULT_DESCRIPTION_LIMIT


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def media_limits(info: Any) -> MediaLimits:
    """The image limits in an instance entity (v2 or v1)."""
    media = _get(_get(info, "configuration"), "media_attachments")
    types = _get(media, "supported_mime_types")
    size, matrix = _get(media, "image_size_limit"), _get(media, "image_matrix_limit")
    description = _get(media, "description_limit")
    return MediaLimits(
        mime_types=frozenset(types) if isinstance(types, list) else None,
        size=size if isinstance(size, int) and size > 0 else None,
        matrix=matrix if isinstance(matrix, int) and matrix > 0 else None,
        description=description
        if isinstance(description, int) and description > 0
        else DEFAULT_DESCRIPTION_LIMIT,
    )


def api_version(info: Any) -> int:
    """``api_versions.mastodon`` of a v2 instance entity (0 when absent: before 4.3)."""
    version = _get(_get(info, "api_versions"), "mastodon")
    return version if isinstance(version, int) else 0


def fit_description(alt: str, limit: int) -> str:
    """The alt text within ``limit`` characters, cut at a word with an ellipsis."""
    if len(alt) <= limit:
        return alt
    cut = alt[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def _pixels(data: bytes) -> int | None:
    """Width × height of a PNG (from its header); ``None`` for other formats."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width) * int(height)
    return None


class MediaUploader:
    """Uploads a post's picture for one Mastodon account."""

    def __init__(
        self,
        client: Callable[[], Any],
        translate: Callable[[str], AbstractContextManager[None]],
        account_name: str,
        image_root: Path | None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.sleep = sleep
        self.translate = translate
        self.account_name = account_name
        self.image_root = image_root
        self._uploaded: dict[str, str] = {}  # post key → media id, for retries in this process

    def media_ids(self, post: OutgoingPost, limits: MediaLimits) -> list[str]:
        """The media to attach to ``post``: its picture uploaded, or none."""
        picture = post.picture
        if picture is None:
            return []
        if post.key in self._uploaded:
            return [self._uploaded[post.key]]
        path = Path(picture.file)
        if not path.is_absolute() and self.image_root is not None:
            path = self.image_root / path
        try:
            data = path.read_bytes()
        except OSError as exc:
            return self._skip(post, "unreadable", file=str(path), error=exc.strerror)
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        problem = self._problem(data, mime, limits)
        if problem:
            return self._skip(post, "unsuitable", file=str(path), error=problem)
        return self._upload(post, path, data, mime, limits)

    def _upload(
        self, post: OutgoingPost, path: Path, data: bytes, mime: str, limits: MediaLimits
    ) -> list[str]:
        assert post.picture is not None
        try:
            with self.translate("POST /api/v2/media"):
                media = self.client().media_post(
                    data,
                    mime_type=mime,
                    description=fit_description(post.picture.alt, limits.description),
                    focus=post.picture.focus,
                    file_name=path.name,
                )
            processed = self._processed(media)
        except PermanentPublishError as exc:
            return self._skip(post, "refused", file=str(path), error=str(exc))
        except TransientPublishError as exc:
            if exc.status != 429:
                raise
            # 30 uploads per 30 minutes: the post goes out on time, without its picture.
            return self._skip(post, "rate_limited", file=str(path), error=str(exc))
        if processed is None:
            seconds = PROCESSING_POLLS * PROCESSING_WAIT_S
            return self._skip(
                post, "processing", file=str(path), error=f"still processing after {seconds:.0f} s"
            )
        media_id = str(media["id"])
        self._uploaded[post.key] = media_id
        log_event(log, "mastodon.media_uploaded", account=self.account_name, media=media_id)
        return [media_id]

    def _processed(self, media: Any) -> Any:
        """The media once the server has processed it (``None``: still not after
        :data:`PROCESSING_POLLS` requests, :data:`PROCESSING_WAIT_S` apart: the post goes out
        without it). Images are processed at once (200); a server that processes later answers
        202 without a ``url``, and ``GET /api/v1/media/:id`` answers 206 until it is done.
        Mastodon.py's own wait has no bound and asks the server its version each time."""
        for _ in range(PROCESSING_POLLS):
            if _get(media, "url") is not None:
                return media
            self.sleep(PROCESSING_WAIT_S)
            with self.translate("GET /api/v1/media/:id"):
                media = self.client().media(media)
        return media if _get(media, "url") is not None else None

    @staticmethod
    def _problem(data: bytes, mime: str, limits: MediaLimits) -> str | None:
        if limits.mime_types is not None and mime not in limits.mime_types:
            return f"the instance does not take {mime}"
        if limits.size is not None and len(data) > limits.size:
            return f"{len(data)} bytes; the instance takes {limits.size}"
        pixels = _pixels(data)
        if limits.matrix is not None and pixels is not None and pixels > limits.matrix:
            return f"{pixels} pixels; the instance takes {limits.matrix}"
        return None

    def _skip(self, post: OutgoingPost, why: str, **fields: Any) -> list[str]:
        log_event(
            log,
            f"mastodon.media_{why}",
            logging.WARNING,
            account=self.account_name,
            item=post.item_id,
            **fields,
        )
        return []
