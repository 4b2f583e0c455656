"""Statuses in the Mastodon test server: visibility, timelines, posting, deleting."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from tests.support.mastodon.entities import EntityViews
from tests.support.mastodon.model import (
    MESSAGES,
    NOT_FOUND,
    REPLY_NOT_FOUND,
    SUPPORTED_LANGUAGES,
    VISIBILITIES,
    Account,
    ApiError,
    Request,
    Result,
    Status,
    as_int,
    truthy,
)
from tests.support.mastodon.text import (
    RUBY_STRIP,
    count_status_length,
    normalize_tag,
    render_status_content,
)

__all__ = ["StatusActions"]


class StatusActions(EntityViews):
    """What the status endpoints do: who sees what, pagination, validation, idempotency."""

    def _can_see(self, status: Status, viewer: Account | None) -> bool:
        if status.deleted:
            return False
        if viewer is status.account or status.visibility in ("public", "unlisted"):
            return True
        if status.visibility == "direct" and viewer is not None:
            return any(m["id"] == str(viewer.id) for m in status.mentions)
        return False

    def _visible_status(self, raw_id: str, viewer: Account | None) -> Status:
        status_id = as_int(raw_id)
        status = self._statuses.get(status_id) if status_id is not None else None
        if status is None or not self._can_see(status, viewer):
            raise ApiError(404, NOT_FOUND)
        return status

    def _list_statuses(
        self, request: Request, target: Account, viewer: Account | None, endpoint: str
    ) -> Result:
        query = {key: values[-1] for key, values in request.query.items() if values}
        candidates = [s for s in self._live_statuses(target) if self._can_see(s, viewer)]
        if truthy(query.get("pinned", "")) or truthy(query.get("only_media", "")):
            candidates = []
        if truthy(query.get("exclude_replies", "")):
            candidates = [
                s
                for s in candidates
                if s.in_reply_to_id is None or s.in_reply_to_account_id == target.id
            ]
        if truthy(query.get("exclude_reblogs", "")):
            candidates = [s for s in candidates if s.reblog_of_id is None]
        if query.get("tagged"):
            tag = normalize_tag(query["tagged"])
            candidates = [s for s in candidates if any(t["name"] == tag for t in s.tags)]
        limit = 20
        if "limit" in query:
            limit = min(abs(as_int(query["limit"]) or 0), 40)
        max_id, since_id, min_id = (
            as_int(query.get(key, "")) for key in ("max_id", "since_id", "min_id")
        )
        if max_id is not None:
            candidates = [s for s in candidates if s.id < max_id]
        if min_id is not None:
            ascending = sorted((s for s in candidates if s.id > min_id), key=lambda s: s.id)
            page = list(reversed(ascending[:limit]))
        else:
            if since_id is not None:
                candidates = [s for s in candidates if s.id > since_id]
            page = sorted(candidates, key=lambda s: s.id, reverse=True)[:limit]
        keep = ("limit", "only_media", "exclude_replies", "exclude_reblogs", "pinned", "tagged")
        link_params = {key: query[key] for key in keep if key in query}
        links = []
        url = f"{self.base_url}/api/v1/{endpoint}"
        if page and len(page) == limit:
            links.append(f'<{url}?{urlencode({**link_params, "max_id": page[-1].id})}>; rel="next"')
        if page:
            links.append(f'<{url}?{urlencode({**link_params, "min_id": page[0].id})}>; rel="prev"')
        headers = [("Link", ", ".join(links))] if links else []
        return 200, [self._status_entity(s, viewer) for s in page], headers

    def _locale(self, request: Request, account: Account) -> str:
        lang = str(request.params.get("lang") or (request.query.get("lang") or [""])[-1])
        return lang if lang in MESSAGES else account.locale

    def _post_status(self, request: Request, account: Account, now: datetime) -> Result:
        params = request.params
        key = request.headers.get("idempotency-key") or None
        locale = self._locale(request, account)
        # set_thread runs before PostStatusService (404 for an unknown/invisible parent).
        reply_to = params.get("in_reply_to_id")
        if reply_to not in (None, ""):
            parent_id = as_int(reply_to)
            parent = self._statuses.get(parent_id) if parent_id is not None else None
            if parent is None or not self._can_see(parent, account):
                raise ApiError(404, REPLY_NOT_FOUND)
        if key is not None:
            remembered = self._idempotency.get((account.id, key))
            if remembered is not None and remembered[1] > now:
                original = self._statuses.get(remembered[0])
                if original is None or original.deleted:
                    raise ApiError(404, NOT_FOUND)
                return 200, self._status_entity(original, account), []
        status = self._build_status(account, params, locale, enforce_rate_limit=True)
        if key is not None:
            expires = now + timedelta(seconds=self.idempotency_ttl)
            self._idempotency[(account.id, key)] = (status.id, expires)
        return 200, self._status_entity(status, account), []

    def _build_status(
        self,
        account: Account,
        params: dict[str, Any],
        locale: str,
        *,
        enforce_rate_limit: bool = False,
    ) -> Status:
        messages = MESSAGES.get(locale, MESSAGES["en"])

        def invalid(message_key: str, **values: Any) -> ApiError:
            detail = messages[message_key].format(**values)
            return ApiError(422, messages["validation"].format(detail))

        attached = self._attachable(
            account, params.get("media_ids[]", params.get("media_ids")), messages
        )
        quote_policy = str(params.get("quote_approval_policy") or "public")
        if self.api_version < 7:
            quote_policy = "public"  # older servers ignore the parameter
        elif quote_policy not in ("public", "followers", "nobody"):
            raise ApiError(422, "Validation failed: Quote approval policy is invalid")
        if any(k == "poll" or k.startswith("poll[") for k in params):
            raise ApiError(422, "Validation failed: polls are not supported by the test server")
        if params.get("scheduled_at"):
            raise ApiError(
                422, "Validation failed: scheduled statuses are not supported by the test server"
            )
        visibility = str(params.get("visibility") or account.default_visibility)
        if visibility not in VISIBILITIES:
            raise invalid("visibility")
        text = str(params.get("status") or "").strip(RUBY_STRIP)
        spoiler_text = str(params.get("spoiler_text") or "").strip(RUBY_STRIP)
        if (not text or text.isspace()) and not attached:
            raise invalid("blank")
        length = count_status_length(
            text, spoiler_text, url_length=self.characters_reserved_per_url
        )
        if length > self.max_characters:
            raise invalid("too_long", max=self.max_characters)
        now = self.now()
        if enforce_rate_limit:
            used = self._count("statuses", f"account:{account.id}", now, hit=False)
            if used >= self.rate_limits["statuses"].limit:
                raise ApiError(429, "Too many requests")
            self._count("statuses", f"account:{account.id}", now, hit=True)
        parent: Status | None = None
        parent_id = as_int(params.get("in_reply_to_id") or "")
        if parent_id is not None:
            parent = self._statuses.get(parent_id)
        language = next(
            (
                str(candidate)
                for candidate in (params.get("language"), account.default_language, account.locale)
                if candidate and str(candidate) in SUPPORTED_LANGUAGES
            ),
            "en",
        )
        sensitive_param = params.get("sensitive")
        sensitive = (
            account.default_sensitive if sensitive_param in (None, "") else truthy(sensitive_param)
        ) or bool(spoiler_text)
        content, mentions, tags = render_status_content(
            text, base_url=self.base_url, resolve_mention=self._mention_entity
        )
        status = Status(
            id=self._next_id(now),
            account=account,
            text=text,
            spoiler_text=spoiler_text,
            visibility=visibility,
            language=language,
            sensitive=sensitive,
            created_at=now,
            content=content,
            mentions=mentions,
            tags=tags,
            application=account.app_name,
            in_reply_to_id=parent.id if parent else None,
            in_reply_to_account_id=parent.account.id if parent else None,
            media_ids=[m.id for m in attached],
            quote_policy=quote_policy,
        )
        for media in attached:
            media.status_id = status.id
        if parent is not None:
            parent.replies_count += 1
        self._statuses[status.id] = status
        return status

    def _delete_status(
        self, raw_id: str, account: Account, *, delete_media: bool = False
    ) -> Result:
        status_id = as_int(raw_id)
        status = self._statuses.get(status_id) if status_id is not None else None
        if status is None or status.deleted or status.account is not account:
            raise ApiError(404, NOT_FOUND)
        status.deleted = True
        for boost in self._reblogs_of(status):  # discard_with_reblogs
            boost.deleted = True
        if status.in_reply_to_id is not None:
            parent = self._statuses.get(status.in_reply_to_id)
            if parent is not None and parent.replies_count > 0:
                parent.replies_count -= 1
        entity = self._status_entity(status, account, source=True)
        self._release_media(status.media_ids, delete=delete_media)
        return 200, entity, []
