"""The Mastodon test server's API: Rack::Attack throttles, Doorkeeper auth, routes, handlers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import regex

from tests.support.mastodon.interactions import Interactions
from tests.support.mastodon.model import (
    INSTANCE_CACHE_CONTROL,
    INVALID_TOKEN,
    JSON_TYPE,
    NOT_FOUND,
    WWW_AUTHENTICATE,
    Account,
    ApiError,
    Call,
    Request,
    Response,
    Result,
    as_int,
    json_bytes,
    truthy,
)

__all__ = ["ApiRoutes"]


def _route(pattern: str) -> regex.Pattern[str]:
    return regex.compile(rf"/api/v1/{pattern}")


class ApiRoutes(Interactions):
    """Answers one parsed request (no sockets here): throttles, authentication, the endpoints."""

    def _account_for(self, request: Request) -> Account | None:
        token = self._bearer(request)
        return self._tokens.get(token) if token else None

    @staticmethod
    def _bearer(request: Request) -> str | None:
        value = request.headers.get("authorization", "")
        if value[:7].lower() == "bearer ":
            return value[7:].strip() or None
        return None

    @staticmethod
    def _header_family(request: Request, account: Account | None) -> str:
        if account is None:
            return "unauthenticated"
        if request.method == "POST" and request.path == "/api/v1/statuses":
            return "statuses"
        if request.method == "DELETE" and regex.fullmatch(r"/api/v1/statuses/[^/]+", request.path):
            return "deletes"
        if request.method == "POST" and request.path in ("/api/v1/media", "/api/v2/media"):
            return "media"
        return "general"

    @staticmethod
    def _json(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
        all_headers = [("Content-Type", JSON_TYPE), *(headers or [])]
        return Response(status, json_bytes(payload), all_headers)

    def _dispatch(self, request: Request) -> Response:
        with self._lock:
            now = self.now()
            token = self._bearer(request)
            account = self._tokens.get(token) if token else None
            headers: list[tuple[str, str]] = [
                ("Cache-Control", "private, no-store"),
                ("Vary", "Authorization, Origin"),
                ("X-Request-Id", str(uuid.uuid4())),
            ]
            if request.path.startswith("/system/"):
                return self._media_file_response(request.path, headers)
            if not request.path.startswith("/api/"):
                return self._json(404, {"error": "Not Found"}, headers)

            # Rack::Attack: general per-token / per-IP throttles, then the delete throttle.
            if account is not None:
                general_family, subject = "general", f"token:{token}"
            else:
                general_family, subject = "unauthenticated", f"ip:{request.client_ip}"
            count = self._count(general_family, subject, now, hit=True)
            if count > self.rate_limits[general_family].limit:
                limited = self._rate_headers(general_family, count, now, exhausted=True)
                return self._json(429, {"error": "Too many requests"}, headers + limited)
            rate_headers = self._rate_headers(general_family, count, now)
            remaining = self.rate_limits[general_family].limit - count
            family = self._header_family(request, account) if account is not None else ""
            if account is not None and family in ("deletes", "media"):
                deletes = self._count(family, f"account:{account.id}", now, hit=True)
                if deletes > self.rate_limits[family].limit:
                    limited = self._rate_headers(family, deletes, now, exhausted=True)
                    return self._json(429, {"error": "Too many requests"}, headers + limited)
                if self.rate_limits[family].limit - deletes <= remaining:
                    rate_headers = self._rate_headers(family, deletes, now)

            try:
                status, payload, extra = self._route(request, account, token, now)
            except ApiError as error:
                status, payload, extra = error.status, {"error": error.message}, []
                if error.status == 401:
                    extra = [("WWW-Authenticate", WWW_AUTHENTICATE)]
            if account is not None and self._header_family(request, account) == "statuses":
                statuses = self._count("statuses", f"account:{account.id}", now, hit=False)
                rate_headers = self._rate_headers(
                    "statuses", statuses, now, exhausted=status == 429
                )
            extra_names = {name.lower() for name, _ in extra}
            if "cache-control" in extra_names:
                headers = [h for h in headers if h[0] != "Cache-Control"]
            return self._json(status, payload, headers + extra + rate_headers)

    def _media_file_response(self, path: str, headers: list[tuple[str, str]]) -> Response:
        """An uploaded file, as the media entity's ``url`` and ``preview_url`` name it."""
        found = regex.fullmatch(r"/system/media_attachments/(\d+)/(?:original|small)", path)
        media = self._media.get(int(found.group(1))) if found else None
        if media is None:
            return self._json(404, {"error": "Not Found"}, headers)
        return Response(200, media.data, [("Content-Type", media.mime_type)])

    def _route(
        self, request: Request, account: Account | None, token: str | None, now: datetime
    ) -> Result:
        if request.path in ("/api/v1/instance", "/api/v2/instance") and request.method in (
            "GET",
            "HEAD",
        ):
            return self._get_instance(request.path)
        # Doorkeeper: a token that is present must be valid, even on public endpoints.
        if token is not None and account is None:
            raise ApiError(401, INVALID_TOKEN)
        method = "GET" if request.method == "HEAD" else request.method
        for route_method, pattern, handler in self._routes():
            match = pattern.fullmatch(request.path)
            if match is not None and route_method == method:
                return handler(Call(request, account, now, match.groups()))
        raise ApiError(404, "Not Found")

    def _routes(self) -> list[tuple[str, regex.Pattern[str], Callable[[Call], Result]]]:
        return [
            ("POST", regex.compile(r"/api/v2/media"), self._api_upload_media),
            ("GET", _route("media/([^/]+)"), self._api_get_media),
            ("PATCH", _route("accounts/update_credentials"), self._api_update_credentials),
            ("GET", _route("accounts/verify_credentials"), self._api_verify_credentials),
            ("GET", _route("accounts/lookup"), self._api_lookup_account),
            ("GET", _route("accounts/([^/]+)"), self._api_get_account),
            ("GET", _route("accounts/([^/]+)/statuses"), self._api_account_statuses),
            ("GET", _route("timelines/home"), self._api_home_timeline),
            ("GET", _route("statuses/([^/]+)"), self._api_get_status),
            ("GET", _route("statuses"), self._api_statuses_index),
            ("POST", _route("statuses/([^/]+)/favourite"), self._api_favourite),
            ("POST", _route("statuses/([^/]+)/unfavourite"), self._api_unfavourite),
            ("POST", _route("statuses/([^/]+)/reblog"), self._api_reblog),
            ("POST", _route("statuses/([^/]+)/unreblog"), self._api_unreblog),
            ("POST", _route("statuses"), self._api_post_status),
            ("DELETE", _route("statuses/([^/]+)"), self._api_delete_status),
        ]

    def _api_verify_credentials(self, call: Call) -> Result:
        return 200, self._credential_account(self._require(call.account)), []

    def _api_update_credentials(self, call: Call) -> Result:
        account = self._require(call.account)
        params = call.request.params
        if "bot" in params:
            account.bot = truthy(params["bot"])
        if "display_name" in params:
            account.display_name = str(params["display_name"])
        return 200, self._credential_account(account), []

    def _api_lookup_account(self, call: Call) -> Result:
        acct = (call.request.query.get("acct") or [""])[-1].lstrip("@")
        username, _, domain = acct.partition("@")
        found = self._find_account(username)
        if found is None or domain.lower() not in ("", self.domain, "127.0.0.1"):
            raise ApiError(404, NOT_FOUND)
        return 200, self._account_entity(found), []

    def _api_get_account(self, call: Call) -> Result:
        return 200, self._account_entity(self._get_account(call.args[0])), []

    def _api_account_statuses(self, call: Call) -> Result:
        target = self._get_account(call.args[0])
        endpoint = f"accounts/{call.args[0]}/statuses"
        return self._list_statuses(call.request, target, call.account, endpoint)

    def _api_home_timeline(self, call: Call) -> Result:
        owner = self._require(call.account)
        return self._list_statuses(call.request, owner, owner, "timelines/home")

    def _api_get_status(self, call: Call) -> Result:
        status = self._visible_status(call.args[0], call.account)
        return 200, self._status_entity(status, call.account), []

    def _api_post_status(self, call: Call) -> Result:
        return self._post_status(call.request, self._require(call.account), call.now)

    def _api_delete_status(self, call: Call) -> Result:
        delete_media = truthy(call.request.params.get("delete_media") or "")
        return self._delete_status(
            call.args[0], self._require(call.account), delete_media=delete_media
        )

    @staticmethod
    def _require(account: Account | None) -> Account:
        if account is None:
            raise ApiError(401, INVALID_TOKEN)
        return account

    def _get_account(self, raw_id: str) -> Account:
        account_id = as_int(raw_id)
        account = self._accounts.get(account_id) if account_id is not None else None
        if account is None:
            raise ApiError(404, NOT_FOUND)
        return account

    def _get_instance(self, path: str) -> Result:
        if self.instance_error is not None:
            return self.instance_error, {"error": "Instance information unavailable"}, []
        headers = [("Cache-Control", INSTANCE_CACHE_CONTROL)]
        if path == "/api/v2/instance":
            if not self.instance_v2_enabled:
                raise ApiError(404, "Not Found")
            return 200, self._instance_v2(), headers
        if self.instance_v2_enabled:
            headers.append(("Deprecation", "@1668384000"))
        return 200, self._instance_v1(), headers
