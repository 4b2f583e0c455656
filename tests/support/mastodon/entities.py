"""JSON entities of the Mastodon test server: Account, CredentialAccount, Status, Instance."""

from __future__ import annotations

from typing import Any

from tests.support.mastodon.media import MediaActions
from tests.support.mastodon.model import Account, Status, iso_ms
from tests.support.mastodon.state import ServerState

__all__ = ["EntityViews"]

_MIME_TYPES_TEXT = (
    "image/jpeg image/png image/gif image/heic image/heif image/webp image/avif video/webm "
    "video/mp4 video/quicktime video/ogg audio/wave audio/wav audio/x-wav audio/x-pn-wave "
    "audio/vnd.wave audio/ogg audio/vorbis audio/mpeg audio/mp3 audio/webm audio/flac audio/aac "
    "audio/m4a audio/x-m4a audio/mp4 audio/3gpp video/x-ms-asf"
)
_MIME_TYPES = tuple(_MIME_TYPES_TEXT.split())
_POLLS = {
    "max_options": 4,
    "max_characters_per_option": 50,
    "min_expiration": 300,
    "max_expiration": 2629746,
}


class EntityViews(ServerState, MediaActions):
    """Renders the state as the entities Mastodon 4.6.4 answers with (shapes as recorded)."""

    def _account_entity(self, account: Account) -> dict[str, Any]:
        base = self.base_url
        statuses = self._live_statuses(account)
        last = max((s.created_at for s in statuses), default=None)
        return {
            "id": str(account.id),
            "username": account.username,
            "acct": account.username,
            "display_name": account.display_name,
            "locked": False,
            "bot": account.bot,
            "discoverable": None,
            "indexable": False,
            "group": False,
            "created_at": iso_ms(account.created_at),
            "note": "",
            "url": f"{base}/@{account.username}",
            "uri": f"{base}/ap/users/{account.id}",
            "avatar": f"{base}/avatars/original/missing.png",
            "avatar_static": f"{base}/avatars/original/missing.png",
            "avatar_description": "",
            "header": f"{base}/headers/original/missing.png",
            "header_static": f"{base}/headers/original/missing.png",
            "header_description": "",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": len(statuses),
            "last_status_at": last.strftime("%Y-%m-%d") if last else None,
            "hide_collections": None,
            "show_media": True,
            "show_media_replies": True,
            "show_featured": True,
            "noindex": False,
            "feature_approval": {"automatic": [], "manual": [], "current_user": "denied"},
            "emojis": [],
            "roles": [],
            "fields": [],
        }

    def _credential_account(self, account: Account) -> dict[str, Any]:
        entity = self._account_entity(account)
        fields_ = entity.pop("emojis"), entity.pop("roles"), entity.pop("fields")
        entity["source"] = {
            "privacy": account.default_visibility,
            "sensitive": account.default_sensitive,
            "language": account.default_language,
            "note": "",
            "fields": [],
            "follow_requests_count": 0,
            "hide_collections": None,
            "discoverable": None,
            "indexable": False,
            "attribution_domains": [],
            "quote_policy": "public",
        }
        entity["emojis"], entity["roles"], entity["fields"] = fields_
        entity["role"] = {
            "id": "-99",
            "name": "",
            "permissions": "65536",
            "color": "",
            "highlighted": False,
            "collection_limit": 10,
        }
        return entity

    def _status_entity(
        self, status: Status, viewer: Account | None, *, source: bool = False
    ) -> dict[str, Any]:
        base = self.base_url
        owned = viewer is not None and viewer is status.account
        entity: dict[str, Any] = {
            "id": str(status.id),
            "created_at": iso_ms(status.created_at),
            "in_reply_to_id": str(status.in_reply_to_id) if status.in_reply_to_id else None,
            "in_reply_to_account_id": (
                str(status.in_reply_to_account_id) if status.in_reply_to_account_id else None
            ),
            "sensitive": status.sensitive,
            "spoiler_text": status.spoiler_text,
            "visibility": status.visibility,
            "language": status.language,
            "uri": f"{base}/ap/users/{status.account.id}/statuses/{status.id}",
            "url": f"{base}/@{status.account.username}/{status.id}",
            "replies_count": status.replies_count,
            "reblogs_count": len(self._reblogs_of(status)),
            "favourites_count": len(status.favourited_by),
            "quotes_count": 0,
            "edited_at": None,
        }
        boosted = self._statuses.get(status.reblog_of_id) if status.reblog_of_id else None
        if viewer is not None:
            proper = boosted or status  # a boost tells whether the viewer acted on the original
            entity.update(
                favourited=viewer.id in proper.favourited_by,
                reblogged=any(r.account is viewer for r in self._reblogs_of(proper)),
                muted=False,
                bookmarked=False,
            )
            if owned and status.visibility != "direct":
                entity["pinned"] = False
        if source:
            entity["text"] = status.text
        else:
            entity["content"] = status.content
        if viewer is not None:
            entity["filtered"] = []
        entity["reblog"] = self._status_entity(boosted, viewer) if boosted else None
        if owned:
            entity["application"] = {"name": status.application, "website": None}
        public = status.visibility in ("public", "unlisted")
        entity.update(
            {
                "account": self._account_entity(status.account),
                "media_attachments": [
                    self._media_entity(self._media[i]) for i in status.media_ids if i in self._media
                ],
                "mentions": [dict(m) for m in status.mentions],
                "tags": [dict(t) for t in status.tags],
                "emojis": [],
                "tagged_collections": [],
                "quote": None,
                "card": None,
                "poll": None,
                "quote_approval": self._quote_approval(status, public, owned),
            }
        )
        return entity

    @staticmethod
    def _quote_approval(status: Status, public: bool, owned: bool) -> dict[str, Any]:
        """Who may quote: the policy the status was posted with, limited by its visibility."""
        allowed = {"public": ["public"], "followers": ["followers"], "nobody": []}
        automatic = allowed.get(status.quote_policy, ["public"]) if public else []
        return {
            "automatic": automatic,
            "manual": [],
            "current_user": "automatic" if owned or "public" in automatic else "denied",
        }

    def _mention_entity(self, username: str, domain: str | None) -> dict[str, Any] | None:
        if domain is not None and domain.lower() not in (self.domain, "127.0.0.1", "localhost"):
            return None
        account = self._find_account(username)
        if account is None:
            return None
        return {
            "id": str(account.id),
            "username": account.username,
            "url": f"{self.base_url}/@{account.username}",
            "acct": account.username,
        }

    def _instance_v2(self) -> dict[str, Any]:
        base = self.base_url
        icons = [
            {"src": f"{base}/packs/icons/android-chrome-{n}x{n}.png", "size": f"{n}x{n}"}
            for n in (36, 48, 72, 96, 144, 192, 256, 384, 512)
        ]
        return {
            "domain": self.domain,
            "title": "Mastodon",
            "version": self.version,
            "source_url": "https://github.com/mastodon/mastodon",
            "description": "",
            "usage": {"users": {"active_month": len(self._accounts)}},
            "thumbnail": {"url": f"{base}/packs/images/preview.png", "description": ""},
            "icon": icons,
            "languages": ["en"],
            "configuration": {
                "urls": {
                    "streaming": f"ws://{self.domain}",
                    "status": None,
                    "about": f"{base}/about",
                    "privacy_policy": f"{base}/privacy-policy",
                    "terms_of_service": None,
                },
                "vapid": {"public_key": "BAhxXyHfAoMqrZECjRI56F5QrE4ynVlkZFMdKSpTIsWRNoWU="},
                "accounts": {
                    "max_display_name_length": 40,
                    "max_note_length": 500,
                    "max_avatar_description_length": 150,
                    "max_header_description_length": 150,
                    "max_featured_tags": 10,
                    "max_pinned_statuses": 5,
                    "max_profile_fields": 4,
                    "profile_field_name_limit": 255,
                    "profile_field_value_limit": 255,
                },
                "statuses": self._statuses_configuration(),
                "media_attachments": {
                    "description_limit": self.media_description_limit,
                    "image_matrix_limit": self.image_matrix_limit,
                    "image_size_limit": self.image_size_limit,
                    "supported_mime_types": [
                        t
                        for t in _MIME_TYPES
                        if not t.startswith("image/") or t in self.supported_image_types
                    ],
                    "video_frame_rate_limit": 120,
                    "video_matrix_limit": 8294400,
                    "video_size_limit": 103809024,
                },
                "polls": dict(_POLLS),
                "translation": {"enabled": False},
                "timelines_access": {
                    feed: {"local": "public", "remote": "public"}
                    for feed in ("live_feeds", "hashtag_feeds", "trending_link_feeds")
                },
                "limited_federation": False,
            },
            "registrations": {
                "enabled": False,
                "approval_required": False,
                "reason_required": False,
                "message": None,
                "min_age": None,
                "url": None,
            },
            "api_versions": {"mastodon": self.api_version},
            "wrapstodon": None,
            "contact": {"email": "", "account": None},
            "rules": [],
        }

    def _instance_v1(self) -> dict[str, Any]:
        base = self.base_url
        live = [s for s in self._statuses.values() if not s.deleted]
        return {
            "uri": self.domain,
            "title": "Mastodon",
            "short_description": "",
            "description": "",
            "email": "",
            "version": self.version,
            "urls": {"streaming_api": f"ws://{self.domain}"},
            "stats": {
                "user_count": len(self._accounts),
                "status_count": len(live),
                "domain_count": 1,
            },
            "thumbnail": f"{base}/packs/images/preview.png",
            "languages": ["en"],
            "registrations": False,
            "approval_required": False,
            "invites_enabled": True,
            "configuration": {
                "accounts": {"max_featured_tags": 10},
                "statuses": self._statuses_configuration(),
                "media_attachments": {
                    "supported_mime_types": list(_MIME_TYPES),
                    "image_size_limit": 16777216,
                    "image_matrix_limit": 33177600,
                    "video_size_limit": 103809024,
                    "video_frame_rate_limit": 120,
                    "video_matrix_limit": 8294400,
                },
                "polls": dict(_POLLS),
            },
            "contact_account": None,
            "rules": [],
        }

    def _statuses_configuration(self) -> dict[str, Any]:
        return {
            "max_characters": self.max_characters,
            "max_media_attachments": 4,
            "characters_reserved_per_url": self.characters_reserved_per_url,
        }
