"""A small Mastodon API server for tests (stdlib + ``regex`` only).

No real Mastodon can be installed on the test machines, so the bot's tests run the real
``mastodon.Mastodon`` client against this server.  It implements the slice of the API the bot
uses, shaped after real Mastodon 4.6.4 responses (see ``tests/test_mastodon_contract.py``, which
replays recorded interactions against it):

* ``GET /api/v2/instance`` and ``GET /api/v1/instance`` (with or without a trailing slash);
* ``GET /api/v1/accounts/verify_credentials``, ``GET /api/v1/accounts/:id``,
  ``GET /api/v1/accounts/lookup?acct=``, ``GET /api/v1/accounts/:id/statuses``,
  ``GET /api/v1/timelines/home`` (the account's own statuses; there are no follows here);
* ``POST /api/v1/statuses`` (form or JSON body) with Mastodon's length counting, language
  cascade, visibility, spoiler text, replies and the ``Idempotency-Key`` header;
* ``GET /api/v1/statuses/:id`` and ``DELETE /api/v1/statuses/:id`` (``delete_media``);
* ``POST /api/v1/statuses/:id/favourite``, ``/unfavourite``, ``/reblog``, ``/unreblog``, the
  counts in every status, and ``GET /api/v1/statuses?id[]=`` (up to 20; Mastodon 4.3+), see
  :mod:`~tests.support.mastodon.interactions`;
* ``POST /api/v2/media`` (multipart: an image ``file``, ``description``, ``focus``; limits as
  ``configuration.media_attachments`` reports them), ``GET /api/v1/media/:id``, the file at the
  entity's ``url``, ``media_ids[]`` on statuses (see :mod:`~tests.support.mastodon.media`);
* ``PATCH /api/v1/accounts/update_credentials`` (``bot``, ``display_name``);
* ``quote_approval_policy`` on statuses when ``api_version`` (``api_versions.mastodon``) is 7+;
* rate limits with ``X-RateLimit-*`` headers (fixed windows aligned like Rack::Attack), 429
  ``{"error":"Too many requests"}`` without ``Retry-After``;
* fault injection (429, 500/502/503, dropped connections, lost responses, delays) and an
  injectable clock.

Usage::

    with MastodonTestServer() as server:
        server.add_account("token-1", "bot")
        api = Mastodon(access_token="token-1", api_base_url=server.base_url,
                       ratelimit_method="throw", request_timeout=5)
        api.status_post("Hello", idempotency_key="k1")
        server.inject("lost_response")          # next POST /api/v1/statuses is lost
        assert server.statuses("bot")[0]["content"] == "<p>Hello</p>"

Not implemented (answered with 404 or 422, never silently ignored): video and audio uploads,
polls, scheduled statuses, edits, follows, notifications, streaming, quotes.

Modules: :mod:`~tests.support.mastodon.text` (length counting, URL/mention/hashtag extraction,
HTML rendering), :mod:`~tests.support.mastodon.model` (data types and messages),
:mod:`~tests.support.mastodon.state`, :mod:`~tests.support.mastodon.entities`,
:mod:`~tests.support.mastodon.statuses` and :mod:`~tests.support.mastodon.api` (the
application), :mod:`~tests.support.mastodon.httpd` (HTTP plumbing) and
:mod:`~tests.support.mastodon.app` (:class:`MastodonTestServer`, which puts them together).
"""

from __future__ import annotations

from tests.support.faults import FAULT_KINDS, FaultKind
from tests.support.mastodon.app import MastodonTestServer
from tests.support.mastodon.model import (
    InjectedFault,
    RateFamily,
    RateLimit,
    RecordedRequest,
)
from tests.support.mastodon.text import count_status_length, render_status_content

__all__ = [
    "FAULT_KINDS",
    "FaultKind",
    "InjectedFault",
    "MastodonTestServer",
    "RateFamily",
    "RateLimit",
    "RecordedRequest",
    "count_status_length",
    "render_status_content",
]
