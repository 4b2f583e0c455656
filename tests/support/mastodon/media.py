"""Media in the Mastodon test server: ``POST /api/v2/media`` (multipart, with ``description`` and
``focus``), ``GET /api/v1/media/:id``, attaching media to a status, and the file itself.

Shaped after the recorded Mastodon 4.6.4 responses (``test_media_post*.yaml``): an image answers
200 with its ``url`` at once; the entity has ``meta.original``/``small``/``focus`` and the
``description``. With ``media_processing_polls`` set to N, an upload is processed later, as
Mastodon processes video and audio (and some servers every file): the upload answers 202 with
``url: null``, ``GET /api/v1/media/:id`` answers 206 with ``url: null`` N times, then 200, and a
status may not carry it before (422 "Cannot attach files that have not finished processing").
Limits come from the server's ``media_*`` attributes, which ``/api/v2/instance`` reports as
``configuration.media_attachments``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from tests.support.mastodon.model import NOT_FOUND, Account, ApiError, Call, Result, as_int

__all__ = ["Media", "MediaActions", "media_not_found"]


@dataclass
class Media:
    id: int
    account: Account
    mime_type: str
    data: bytes
    width: int
    height: int
    description: str
    focus: tuple[float, float] | None
    status_id: int | None = None
    #: how many more times GET /api/v1/media/:id answers 206 (still processing)
    pending: int = 0


def media_not_found(ids: list[str], messages: dict[str, str]) -> ApiError:
    """Mastodon's 422 for media that is not the account's or is attached already."""
    return ApiError(422, messages["media_not_found"].format(ids=", ".join(ids)))


def _focus(value: Any) -> tuple[float, float] | None:
    if value in (None, ""):
        return None
    try:
        x, y = (float(part) for part in str(value).split(","))
    except ValueError:
        return None
    return max(-1.0, min(1.0, x)), max(-1.0, min(1.0, y))


class MediaActions:
    """Upload, read and attach media (mixed into the test server's application)."""

    media_description_limit = 10000  # as recorded from 4.6.4 (1,500 before 4.4)
    media_processing_polls = 0  # > 0: uploads are processed later (202, then 206 N times)
    image_size_limit = 16 * 1024 * 1024
    image_matrix_limit = 33177600
    supported_image_types: tuple[str, ...] = (
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/heic",
        "image/heif",
        "image/webp",
        "image/avif",
    )
    _media: dict[int, Media]
    base_url: str

    def _media_entity(self, media: Media) -> dict[str, Any]:
        base = f"{self.base_url}/system/media_attachments/{media.id}"
        # Mastodon's "small" version has at most 230,400 pixels (480×480, 640×360).
        scale = min(1.0, (230_400 / max(1, media.width * media.height)) ** 0.5)
        small_w = max(1, round(media.width * scale))
        small_h = max(1, round(media.height * scale))
        meta: dict[str, Any] = {
            "original": {
                "width": media.width,
                "height": media.height,
                "size": f"{media.width}x{media.height}",
                "aspect": round(media.width / max(1, media.height), 4),
            },
            "small": {
                "width": small_w,
                "height": small_h,
                "size": f"{small_w}x{small_h}",
                "aspect": round(small_w / small_h, 4),
            },
        }
        if media.focus is not None:
            meta["focus"] = {"x": media.focus[0], "y": media.focus[1]}
        return {
            "id": str(media.id),
            "type": "image",
            "url": None if media.pending else f"{base}/original",
            "preview_url": f"{base}/small",
            "remote_url": None,
            "preview_remote_url": None,
            "text_url": None,
            "meta": meta,
            "description": media.description or None,
            "blurhash": "UPN1Ddxup{IT9an~.8RjK-oy%gkE%#W?i^t6",
        }

    def _api_upload_media(self, call: Call) -> Result:
        account = call.account
        if account is None:
            raise ApiError(401, "The access token is invalid")
        upload = call.request.params.get("file")
        if not isinstance(upload, dict):
            raise ApiError(422, "Validation failed: File can't be blank")
        data = bytes(upload["data"])
        mime = str(upload.get("content_type") or "application/octet-stream")
        description = str(call.request.params.get("description") or "")
        if mime not in self.supported_image_types:
            raise ApiError(422, "Validation failed: File content type is invalid")
        if len(data) > self.image_size_limit:
            megabytes = self.image_size_limit // (1024 * 1024)
            raise ApiError(
                422, f"Validation failed: File file size must be less than {megabytes} MB"
            )
        if len(description) > self.media_description_limit:
            raise ApiError(
                422,
                "Validation failed: Description is too long (maximum is "
                f"{self.media_description_limit} characters)",
            )
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
        except (OSError, UnidentifiedImageError):
            raise ApiError(422, "Validation failed: File could not be processed") from None
        if width * height > self.image_matrix_limit:
            raise ApiError(422, "Validation failed: File dimensions are too large")
        media = Media(
            id=self._next_id(call.now),  # type: ignore[attr-defined]
            account=account,
            mime_type=mime,
            data=data,
            width=width,
            height=height,
            description=description,
            focus=_focus(call.request.params.get("focus")),
            pending=self.media_processing_polls,
        )
        self._media[media.id] = media
        return 202 if media.pending else 200, self._media_entity(media), []

    def _api_get_media(self, call: Call) -> Result:
        media_id = as_int(call.args[0])
        media = self._media.get(media_id) if media_id is not None else None
        if media is None or media.account is not call.account:
            raise ApiError(404, NOT_FOUND)
        if media.pending:
            entity = self._media_entity(media)
            media.pending -= 1
            return 206, entity, []
        return 200, self._media_entity(media), []

    def _attachable(self, account: Account, raw_ids: Any, messages: dict[str, str]) -> list[Media]:
        """The media a new status may carry, or the 422 Mastodon answers."""
        ids = [str(i) for i in (raw_ids if isinstance(raw_ids, list) else [raw_ids]) if i]
        if len(ids) > 4:
            raise ApiError(422, "Validation failed: You cannot attach more than 4 files")
        found = []
        for raw in ids:
            media_id = as_int(raw)
            media = self._media.get(media_id) if media_id is not None else None
            if media is None or media.account is not account or media.status_id is not None:
                raise media_not_found(ids, messages)
            if media.pending:
                raise ApiError(
                    422,
                    "Cannot attach files that have not finished processing. Try again in a moment!",
                )
            found.append(media)
        return found

    def _release_media(self, media_ids: list[int], *, delete: bool) -> None:
        """A deleted status's media: detached for a redraft, or deleted (``delete_media``)."""
        for media_id in media_ids:
            media = self._media.get(media_id)
            if media is None:
                continue
            if delete:
                del self._media[media_id]
            else:
                media.status_id = None

    def media_file(self, media_id: int) -> Media | None:
        """The uploaded media with this id (tests read its bytes and description)."""
        return self._media.get(media_id)
