"""Behaviour of the Mastodon test server, driven by the real Mastodon.py client."""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonBadGatewayError,
    MastodonInternalServerError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServiceUnavailableError,
    MastodonUnauthorizedError,
)
from mastodon.errors import MastodonDeprecationWarning

from tests.support.fault_proxy import FaultProxy
from tests.support.mastodon_server import (
    FAULT_KINDS,
    MastodonTestServer,
    _extract_urls,
    count_status_length,
    render_status_content,
)
from tests.support.server import wait_until as wait_for

TOKEN = "token-bot"
OTHER_TOKEN = "token-other"
RESET_FORMAT = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")
WWW_AUTHENTICATE = (
    'Bearer realm="Doorkeeper", error="invalid_token", '
    'error_description="The access token is invalid"'
)


@pytest.fixture
def server() -> Iterator[MastodonTestServer]:
    with MastodonTestServer() as srv:
        srv.add_account(TOKEN, "bot")
        srv.add_account(OTHER_TOKEN, "other")
        yield srv
    assert srv.internal_errors == []


def client(server: MastodonTestServer, token: str = TOKEN, timeout: float = 5.0) -> Mastodon:
    return Mastodon(
        access_token=token,
        api_base_url=server.base_url,
        ratelimit_method="throw",
        request_timeout=timeout,
    )


@pytest.fixture
def api(server: MastodonTestServer) -> Mastodon:
    return client(server)


def raw(
    server: MastodonTestServer,
    method: str,
    path: str,
    *,
    token: str | None = TOKEN,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One plain HTTP request; returns (status, lower-cased headers, parsed JSON or text)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        lowered = {name.lower(): value for name, value in response.getheaders()}
    finally:
        connection.close()
    payload: Any = data.decode("utf-8")
    if lowered.get("content-type", "").startswith("application/json"):
        payload = json.loads(data)
    return response.status, lowered, payload


def error_status(error: MastodonAPIError) -> int:
    status = error.args[1]
    assert isinstance(status, int)
    return status


def parse_reset(value: str) -> datetime:
    assert RESET_FORMAT.match(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# -- posting ----------------------------------------------------------------------------------


def test_post_returns_status_entity(server: MastodonTestServer, api: Mastodon) -> None:
    """A posted status comes back as a Status entity with Mastodon's fields and URLs."""
    status = api.status_post("Hello world")
    assert status["content"] == "<p>Hello world</p>"
    assert status["visibility"] == "public"
    assert status["language"] == "en"
    assert status["account"]["username"] == "bot"
    assert status["url"] == f"{server.base_url}/@bot/{status['id']}"
    assert status["uri"].endswith(f"/statuses/{status['id']}")
    assert isinstance(status["id"], str)
    assert status["id"].isdigit()
    assert server.statuses("bot")[0]["id"] == status["id"]


def test_status_ids_increase(api: Mastodon) -> None:
    """Status ids are numeric strings that increase with every post (snowflake-like)."""
    ids = [int(api.status_post(f"post {n}")["id"]) for n in range(5)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5


def test_created_at_follows_server_clock(server: MastodonTestServer, api: Mastodon) -> None:
    """created_at comes from the injectable clock, in Mastodon's millisecond format."""
    server.clock = lambda: datetime(2026, 8, 1, 13, 53, 56, 596000, tzinfo=UTC)
    status_id = api.status_post("clocked")["id"]
    assert server.statuses("bot")[0]["created_at"] == "2026-08-01T13:53:56.596Z"
    assert api.status(status_id)["created_at"] == datetime(2026, 8, 1, 13, 53, 56, 596000, UTC)


def test_language_is_kept_when_valid(api: Mastodon) -> None:
    """A valid ISO 639-1 language code is stored as given."""
    assert api.status_post("Hallo Welt", language="de")["language"] == "de"


def test_unknown_language_falls_back_silently(server: MastodonTestServer) -> None:
    """An unknown code silently becomes the account's default language, like Mastodon."""
    server.add_account("token-ja", "japanese", locale="ja")
    assert client(server).status_post("x", language="xx")["language"] == "en"
    assert client(server, "token-ja").status_post("x", language="xx")["language"] == "ja"
    assert client(server, "token-ja").status_post("x")["language"] == "ja"


def test_default_language_setting_wins_over_locale(server: MastodonTestServer) -> None:
    """Without a valid language the account's default posting language is used first."""
    server.add_account("token-de", "german", locale="ja", default_language="de")
    assert client(server, "token-de").status_post("x")["language"] == "de"


@pytest.mark.parametrize("visibility", ["public", "unlisted", "private", "direct"])
def test_visibility_is_stored(api: Mastodon, visibility: str) -> None:
    """Each of Mastodon's four visibilities is accepted and echoed back."""
    assert api.status_post("x", visibility=visibility)["visibility"] == visibility


def test_invalid_visibility_is_422(server: MastodonTestServer) -> None:
    """An unknown visibility is a 422 validation error (Mastodon.py itself refuses to send it)."""
    status, _, body = raw(
        server,
        "POST",
        "/api/v1/statuses",
        body=b"status=x&visibility=everyone",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 422
    assert body["error"].startswith("Validation failed: ")


def test_spoiler_text_marks_sensitive(api: Mastodon) -> None:
    """spoiler_text is stored and makes the status sensitive."""
    status = api.status_post("Toot!", spoiler_text="Content warning")
    assert status["spoiler_text"] == "Content warning"
    assert status["sensitive"] is True


def test_content_is_escaped_html_with_links(server: MastodonTestServer, api: Mastodon) -> None:
    """Text is HTML-escaped, split into paragraphs, and URLs/hashtags/mentions become links."""
    text = "a < b & 'c'\nline two\n\nSee https://example.com/petition #LeaveX @other"
    content = api.status_post(text)["content"]
    assert content.startswith("<p>a &lt; b &amp; &#39;c&#39;<br />line two</p><p>See ")
    assert (
        '<a href="https://example.com/petition" target="_blank" rel="nofollow noopener" '
        'translate="no"><span class="invisible">https://</span>'
        '<span class="">example.com/petition</span><span class="invisible"></span></a>'
    ) in content
    assert f'<a href="{server.base_url}/tags/LeaveX" class="mention hashtag" rel="tag">' in content
    assert f'<a href="{server.base_url}/@other" class="u-url mention">' in content


def test_tags_and_mentions_entities(api: Mastodon) -> None:
    """Hashtags appear lower-cased in tags; known local accounts appear in mentions."""
    status = api.status_post("#LeaveX @other @nobody")
    assert [tag["name"] for tag in status["tags"]] == ["leavex"]
    assert [mention["acct"] for mention in status["mentions"]] == ["other"]


def test_reply_sets_parent_fields(api: Mastodon) -> None:
    """in_reply_to_id links a reply to its parent and its account."""
    other = client_for_other(api)
    parent = other.status_post("parent")
    reply = api.status_post("@other reply", in_reply_to_id=parent["id"])
    assert reply["in_reply_to_id"] == parent["id"]
    assert reply["in_reply_to_account_id"] == parent["account"]["id"]
    assert api.status(parent["id"])["replies_count"] == 1


def client_for_other(api: Mastodon) -> Mastodon:
    assert api.api_base_url is not None
    return Mastodon(
        access_token=OTHER_TOKEN,
        api_base_url=api.api_base_url,
        ratelimit_method="throw",
        request_timeout=5,
    )


def test_reply_to_unknown_status_is_404(api: Mastodon) -> None:
    """Replying to a status that does not exist is a 404, and nothing is posted."""
    with pytest.raises(MastodonNotFoundError):
        api.status_post("reply", in_reply_to_id="123456")


def test_json_body_is_accepted(server: MastodonTestServer) -> None:
    """POST /api/v1/statuses accepts JSON bodies as well as form data."""
    body = json.dumps({"status": "from json", "language": "fr", "visibility": "unlisted"})
    status, _, payload = raw(
        server,
        "POST",
        "/api/v1/statuses",
        body=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 200
    assert (payload["content"], payload["language"], payload["visibility"]) == (
        "<p>from json</p>",
        "fr",
        "unlisted",
    )


def test_unsupported_features_are_refused(api: Mastodon) -> None:
    """Media ids are refused with a 422 instead of being silently dropped."""
    with pytest.raises(MastodonAPIError) as caught:
        api.status_post("with media", media_ids=["1234"])
    assert error_status(caught.value) == 422
    assert api.account_statuses(api.me()["id"]) == []


# -- length -----------------------------------------------------------------------------------


def test_exactly_at_limit_is_accepted(api: Mastodon) -> None:
    """A status of exactly max_characters graphemes is accepted."""
    api.status_post("a" * 500)


def test_over_limit_is_422(api: Mastodon) -> None:
    """One grapheme over the limit is a 422 with Mastodon's English message."""
    with pytest.raises(MastodonAPIError) as caught:
        api.status_post("a" * 501)
    assert error_status(caught.value) == 422
    assert caught.value.args[3] == "Validation failed: Text character limit of 500 exceeded"


def test_url_counts_as_reserved_length(api: Mastodon) -> None:
    """A URL counts as 23 characters whatever its real length (300 chars in a 500 limit)."""
    url = "https://example.com/" + "p" * 280
    assert len(url) == 300
    text = "a" * (500 - 23 - 1) + " " + url
    assert len(text) > 500
    api.status_post(text)
    with pytest.raises(MastodonAPIError):
        api.status_post("a" + text)


def test_url_length_follows_configuration(server: MastodonTestServer, api: Mastodon) -> None:
    """characters_reserved_per_url is configurable and reported by the instance."""
    server.characters_reserved_per_url = 30
    assert api.instance_v2()["configuration"]["statuses"]["characters_reserved_per_url"] == 30
    url = "https://example.com/x"
    api.status_post("a" * (500 - 30 - 1) + " " + url)
    with pytest.raises(MastodonAPIError):
        api.status_post("a" * (500 - 30) + " " + url)


def test_graphemes_not_code_points_are_counted(api: Mastodon) -> None:
    """A multi-code-point emoji (ZWJ family) counts as one character."""
    family = "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
    api.status_post(family * 500)
    with pytest.raises(MastodonAPIError):
        api.status_post(family * 501)


def test_spoiler_text_counts_towards_limit(api: Mastodon) -> None:
    """The spoiler text and the text share the limit."""
    api.status_post("a" * 490, spoiler_text="b" * 10)
    with pytest.raises(MastodonAPIError):
        api.status_post("a" * 491, spoiler_text="b" * 10)


def test_max_characters_is_configurable(server: MastodonTestServer, api: Mastodon) -> None:
    """max_characters changes both the validation and the instance's configuration."""
    server.max_characters = 1000
    assert api.instance_v2()["configuration"]["statuses"]["max_characters"] == 1000
    api.status_post("a" * 1000)
    with pytest.raises(MastodonAPIError):
        api.status_post("a" * 1001)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@someone@example.social hi", len("@someone hi")),
        ("https://example.com/" + "x" * 100, 23),
        ("http://localhost:3000/path", len("http://localhost:3000/path")),
        ("see https://example.com/a.", len("see ") + 23 + 1),
        ("https://日本.com/(https://", 23 + len("(https://")),  # "(" only balanced in a path
        ("  padded  ", len("padded")),
        ("e\u0301", 1),
    ],
)
def test_length_counting_rules(text: str, expected: int) -> None:
    """Mentions count as @user, real-TLD URLs as 23, others literally, text stripped."""
    assert count_status_length(text) == expected


URL_FRAGMENTS = [
    "https://", "http://", "example", ".com", ".co.uk", ".invalidtld", ".social", "münchen",
    ".de", "www.", "/", "path", "(", ")", ".", ",", "?", "q=1", "&", "=", "#", "!", "~", "%20",
    " ", "\n", "日本", "@", "user", "-", "_", ":8080", "'", "é", "x", "a1", "[", "]",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(URL_FRAGMENTS), max_size=14))
# An unbalanced "(" ends the path: "https://日本.com/", not "https://日本.com/(https://".
@example(["https://", "日本", ".com", "/", "(", "https://"])
def test_url_extraction_matches_twitter_text(parts: list[str]) -> None:
    """URLs start, and their scheme and host end, exactly where twitter-text's regex (as
    shipped in Mastodon.py, the web client's) finds them. Their paths end by the server's own
    rules, which differ (test_url_paths_end_as_the_server_ends_them)."""
    reference = pytest.importorskip("mastodon._url_regex").url_regex
    text = "".join(parts)
    expected = [
        (m.start(3), m.group(4) + m.group(5)) for m in reference.finditer(text) if m.group(4)
    ]
    found = _extract_urls(text)
    assert [
        (e.start, e.value[: len(host)]) for e, (_, host) in zip(found, expected, strict=False)
    ] == expected
    assert len(found) == len(expected)


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("see https://example.org/日本語/パス today", "https://example.org/日本語/パス"),
        ("https://example.org/مرحبا.", "https://example.org/مرحبا"),
        ("“https://example.org/x”, said", "https://example.org/x”"),
        ("**https://example.org/x**", "https://example.org/x"),
        ("https://example.org/x~ and", "https://example.org/x"),
        ("https://example.org/a=", "https://example.org/a"),
        ("https://example.org/y\u200b today", "https://example.org/y\u200b"),
        ("(https://en.wikipedia.org/wiki/A_(b))", "https://en.wikipedia.org/wiki/A_(b)"),
        ("https://example.org/?q=日本", "https://example.org/?q=日本"),
    ],
)
def test_url_paths_end_as_the_server_ends_them(text: str, url: str) -> None:
    """A URL's path ends where the real server ends it: Mastodon replaces twitter-text's path
    rules (config/initializers/twitter_regex.rb): any character but white space and < > ( ) ?
    in a path (CJK, Arabic), no final ! * " ' ; : = , . $ % [ ] ~ & | @ (but a final ” or a
    zero-width space stays), non-ASCII query characters."""
    assert [e.value for e in _extract_urls(text)] == [url]
    assert count_status_length(text) == count_status_length(text.replace(url, "x" * 23))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@josé@mastodon.social", len("@josé@mastodon.social")),
        ("@jose@mastodon.social", len("@jose")),
        ("https://petition.example/aufruf", len("https://petition.example/aufruf")),
        ("https://👍.com/x", len("https://👍.com/x")),
        ("\x00 padded \x00", len("padded")),
        ("कि्या", 2),
    ],
)
def test_counting_follows_the_server(text: str, expected: int) -> None:
    """Counted as the real server counts: a mention of a non-ASCII user is no mention, a URL
    with a TLD twitter-text does not know or a host IDNA 2003 refuses (an emoji, unassigned in
    Unicode 3.2) counts as written, NUL is stripped at the ends, grapheme clusters as ICU."""
    assert count_status_length(text) == expected


def test_empty_status_is_422_blank(api: Mastodon) -> None:
    """An empty or whitespace-only status is a 422 'can't be blank'."""
    for text in ("", "   \n "):
        with pytest.raises(MastodonAPIError) as caught:
            api.status_post(text)
        assert error_status(caught.value) == 422
        assert caught.value.args[3] == "Validation failed: Text can't be blank"


def test_error_messages_follow_account_locale(server: MastodonTestServer) -> None:
    """Validation messages are in the account's language (or the request's lang)."""
    server.add_account("token-ja", "japanese", locale="ja")
    japanese = client(server, "token-ja")
    with pytest.raises(MastodonAPIError) as caught:
        japanese.status_post("a" * 501)
    assert caught.value.args[3] == "バリデーションに失敗しました: Text上限は500文字です"
    japanese.set_language("de")
    with pytest.raises(MastodonAPIError) as caught:
        japanese.status_post("a" * 501)
    assert caught.value.args[3] == (
        "Gültigkeitsprüfung ist fehlgeschlagen: Text Begrenzung von 500 Zeichen überschritten"
    )


def test_render_status_content_without_resolver() -> None:
    """Without a resolver mentions stay plain text; URLs without a real TLD stay text."""
    content, mentions, tags = render_status_content("@who http://localhost/x", base_url="http://h")
    assert content == "<p>@who http://localhost/x</p>"
    assert (mentions, tags) == ([], [])


# -- idempotency ------------------------------------------------------------------------------


def test_idempotency_key_returns_original(server: MastodonTestServer, api: Mastodon) -> None:
    """A repeated Idempotency-Key returns the original status (200) even if the text differs."""
    first = api.status_post("first", idempotency_key="key-1")
    again = api.status_post("something else", idempotency_key="key-1")
    assert again["id"] == first["id"]
    assert again["content"] == "<p>first</p>"
    assert len(server.statuses("bot")) == 1


def test_idempotency_repeat_skips_validation(server: MastodonTestServer, api: Mastodon) -> None:
    """A repeat is answered before validation, so even a too-long text returns the original."""
    first = api.status_post("first", idempotency_key="key-1")
    assert api.status_post("a" * 600, idempotency_key="key-1")["id"] == first["id"]


def test_different_keys_create_statuses(server: MastodonTestServer, api: Mastodon) -> None:
    """Different keys create different statuses."""
    api.status_post("same text", idempotency_key="key-1")
    api.status_post("same text", idempotency_key="key-2")
    assert len(server.statuses("bot")) == 2


def test_idempotency_is_per_account(server: MastodonTestServer, api: Mastodon) -> None:
    """The same key used by another account creates that account's own status."""
    mine = api.status_post("mine", idempotency_key="shared")
    theirs = client_for_other(api).status_post("theirs", idempotency_key="shared")
    assert mine["id"] != theirs["id"]


def test_idempotency_expires_after_an_hour(server: MastodonTestServer, api: Mastodon) -> None:
    """The key is remembered for one hour; after that the same key creates a new status."""
    first = api.status_post("first", idempotency_key="key-1")
    server.advance(3599)
    assert api.status_post("second", idempotency_key="key-1")["id"] == first["id"]
    server.advance(2)
    assert api.status_post("third", idempotency_key="key-1")["id"] != first["id"]
    assert len(server.statuses("bot")) == 2


def test_idempotency_key_not_stored_on_failure(server: MastodonTestServer, api: Mastodon) -> None:
    """A failed create does not store the key, so a corrected retry with it posts."""
    with pytest.raises(MastodonAPIError):
        api.status_post("a" * 501, idempotency_key="key-1")
    created = api.status_post("fixed", idempotency_key="key-1")
    assert api.status_post("again", idempotency_key="key-1")["id"] == created["id"]
    assert len(server.statuses("bot")) == 1


def test_idempotency_key_of_deleted_status_is_404(api: Mastodon) -> None:
    """Repeating the key of a status deleted meanwhile is a 404, not a new status."""
    first = api.status_post("first", idempotency_key="key-1")
    api.status_delete(first["id"])
    with pytest.raises(MastodonNotFoundError):
        api.status_post("first", idempotency_key="key-1")


def test_concurrent_same_key_creates_one_status(server: MastodonTestServer) -> None:
    """Concurrent requests with the same key create a single status."""
    server.delay = 0.05  # keep all requests in flight together
    clients = [client(server) for _ in range(8)]
    barrier = threading.Barrier(len(clients))
    ids: list[str] = []
    errors: list[BaseException] = []

    def post(api: Mastodon) -> None:
        try:
            barrier.wait(timeout=5)
            ids.append(api.status_post("once", idempotency_key="same")["id"])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=post, args=(api,)) for api in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert len(ids) == len(clients)
    assert len(set(ids)) == 1
    assert len(server.statuses("bot")) == 1


# -- authentication ---------------------------------------------------------------------------


def test_bad_token_is_unauthorized(server: MastodonTestServer) -> None:
    """An unknown token raises MastodonUnauthorizedError."""
    with pytest.raises(MastodonUnauthorizedError):
        client(server, "wrong").status_post("x")
    assert server.statuses() == []


def test_401_has_doorkeeper_header(server: MastodonTestServer) -> None:
    """401 carries Mastodon's body and WWW-Authenticate header, with or without a token."""
    for token in ("wrong", None):
        status, headers, body = raw(
            server, "GET", "/api/v1/accounts/verify_credentials", token=token
        )
        assert status == 401
        assert body == {"error": "The access token is invalid"}
        assert headers["www-authenticate"] == WWW_AUTHENTICATE


def test_public_endpoints_reject_invalid_tokens(server: MastodonTestServer, api: Mastodon) -> None:
    """A present but invalid token is a 401 even on public endpoints; instance ignores it."""
    status_id = api.status_post("public")["id"]
    assert raw(server, "GET", f"/api/v1/statuses/{status_id}", token=None)[0] == 200
    assert raw(server, "GET", f"/api/v1/statuses/{status_id}", token="wrong")[0] == 401
    assert raw(server, "GET", "/api/v2/instance", token="wrong")[0] == 200


def test_verify_credentials(server: MastodonTestServer, api: Mastodon) -> None:
    """verify_credentials returns the CredentialAccount with source and role."""
    account = api.account_verify_credentials()
    assert account["username"] == "bot"
    assert account["acct"] == "bot"
    assert account["source"]["privacy"] == "public"
    assert account["role"]["id"] == "-99"
    assert server.account("bot")["id"] == account["id"]


def test_account_lookup_and_get(api: Mastodon) -> None:
    """Accounts can be fetched by id and looked up by acct."""
    me = api.me()
    assert api.account(me["id"])["username"] == "bot"
    assert api.account_lookup("other")["username"] == "other"
    with pytest.raises(MastodonNotFoundError):
        api.account_lookup("nobody")


# -- rate limits ------------------------------------------------------------------------------


def test_every_authenticated_response_has_rate_headers(server: MastodonTestServer) -> None:
    """Responses carry X-RateLimit-Limit/Remaining and an ISO-8601 Reset with Z."""
    status, headers, _ = raw(server, "GET", "/api/v1/accounts/verify_credentials")
    assert status == 200
    assert headers["x-ratelimit-limit"] == "300"
    assert headers["x-ratelimit-remaining"] == "299"
    reset = parse_reset(headers["x-ratelimit-reset"])
    assert int(reset.timestamp()) % 300 == 0
    assert reset > server.now()


def test_client_parses_reset(server: MastodonTestServer, api: Mastodon) -> None:
    """Mastodon.py parses the Reset header into its ratelimit_reset epoch."""
    api.me()
    assert api.ratelimit_limit == 300
    assert api.ratelimit_remaining == 299
    assert api.ratelimit_reset is not None
    assert api.ratelimit_reset > datetime.now(UTC).timestamp()


def test_general_limit_raises_ratelimit_error(server: MastodonTestServer, api: Mastodon) -> None:
    """Exceeding the per-token limit is a 429 mapped to MastodonRatelimitError."""
    server.set_rate_limit("general", 3)
    for _ in range(3):
        api.me()
    with pytest.raises(MastodonRatelimitError):
        api.me()
    assert not isinstance(MastodonRatelimitError("x"), MastodonAPIError)


def test_429_has_headers_but_no_retry_after(server: MastodonTestServer) -> None:
    """A 429 is {"error":"Too many requests"} with rate headers and without Retry-After."""
    server.set_rate_limit("general", 1)
    raw(server, "GET", "/api/v1/accounts/verify_credentials")
    status, headers, body = raw(server, "GET", "/api/v1/accounts/verify_credentials")
    assert status == 429
    assert body == {"error": "Too many requests"}
    assert "retry-after" not in headers
    assert headers["x-ratelimit-remaining"] == "0"
    parse_reset(headers["x-ratelimit-reset"])


def test_limit_window_resets(server: MastodonTestServer, api: Mastodon) -> None:
    """After the window's reset time the requests are allowed again."""
    server.set_rate_limit("general", 1)
    api.me()
    with pytest.raises(MastodonRatelimitError):
        api.me()
    server.advance(300)
    api.me()


def test_limit_is_per_token(server: MastodonTestServer, api: Mastodon) -> None:
    """Another token has its own general budget."""
    server.set_rate_limit("general", 1)
    api.me()
    client_for_other(api).me()


def test_statuses_family_headers_and_limit(server: MastodonTestServer) -> None:
    """Posting answers with the statuses family (3-hour window) and is limited by it."""
    server.set_rate_limit("statuses", 2)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for remaining in ("1", "0"):
        status, headers, _ = raw(server, "POST", "/api/v1/statuses", body=b"status=x", headers=form)
        assert status == 200
        assert (headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"]) == ("2", remaining)
        assert int(parse_reset(headers["x-ratelimit-reset"]).timestamp()) % 10800 == 0
    status, headers, body = raw(server, "POST", "/api/v1/statuses", body=b"status=x", headers=form)
    assert (status, body) == (429, {"error": "Too many requests"})
    assert "retry-after" not in headers
    assert len(server.statuses("bot")) == 2


def test_failed_and_repeated_posts_do_not_use_quota(
    server: MastodonTestServer, api: Mastodon
) -> None:
    """Only created statuses count against the statuses family."""
    server.set_rate_limit("statuses", 1)
    with pytest.raises(MastodonAPIError):
        api.status_post("")
    api.status_post("one", idempotency_key="k")
    api.status_post("one", idempotency_key="k")
    with pytest.raises(MastodonRatelimitError):
        api.status_post("two")


def test_delete_family_limit(server: MastodonTestServer, api: Mastodon) -> None:
    """Deletes have their own limit (30 per 30 minutes by default) and headers."""
    server.set_rate_limit("deletes", 1)
    first, second = api.status_post("a")["id"], api.status_post("b")["id"]
    status, headers, _ = raw(server, "DELETE", f"/api/v1/statuses/{first}")
    assert (status, headers["x-ratelimit-limit"]) == (200, "1")
    assert int(parse_reset(headers["x-ratelimit-reset"]).timestamp()) % 1800 == 0
    with pytest.raises(MastodonRatelimitError):
        api.status_delete(second)


# -- instance ---------------------------------------------------------------------------------


def test_instance_v2_configuration(server: MastodonTestServer, api: Mastodon) -> None:
    """instance_v2 reports max_characters 500 and characters_reserved_per_url 23 by default."""
    instance = api.instance_v2()
    assert instance["domain"] == server.domain
    assert instance["version"] == "4.6.4"
    statuses = instance["configuration"]["statuses"]
    assert (statuses["max_characters"], statuses["characters_reserved_per_url"]) == (500, 23)


def test_instance_paths_with_and_without_slash(server: MastodonTestServer) -> None:
    """Both instance endpoints answer with or without the trailing slash."""
    for path in ("/api/v2/instance", "/api/v2/instance/", "/api/v1/instance", "/api/v1/instance/"):
        status, headers, body = raw(server, "GET", path, token=None)
        assert status == 200, path
        assert headers["content-type"] == "application/json; charset=utf-8"
        assert body["configuration"]["statuses"]["max_characters"] == 500


def test_instance_v1_is_marked_deprecated(api: Mastodon) -> None:
    """v1 carries Mastodon's Deprecation header, which Mastodon.py turns into a warning."""
    with pytest.warns(MastodonDeprecationWarning):
        instance = api.instance_v1()
    assert instance["configuration"]["statuses"]["max_characters"] == 500


def test_old_server_falls_back_to_v1(server: MastodonTestServer, api: Mastodon) -> None:
    """With v2 switched off, instance_v2 is a 404 and instance_v1 still answers."""
    server.instance_v2_enabled = False
    server.version = "3.5.5"
    with pytest.raises(MastodonNotFoundError):
        api.instance_v2()
    with warnings.catch_warnings():
        warnings.simplefilter("error", MastodonDeprecationWarning)
        instance = api.instance_v1()
    assert instance["version"] == "3.5.5"
    assert instance["configuration"]["statuses"]["max_characters"] == 500


def test_instance_failure_switch(server: MastodonTestServer, api: Mastodon) -> None:
    """instance_error makes both instance endpoints fail."""
    server.instance_error = 503
    with pytest.raises(MastodonServiceUnavailableError):
        api.instance_v2()
    with pytest.raises(MastodonServiceUnavailableError):
        api.instance_v1()


# -- reading and deleting ---------------------------------------------------------------------


def test_get_status(api: Mastodon) -> None:
    """GET /api/v1/statuses/:id returns the status."""
    posted = api.status_post("readable")
    assert api.status(posted["id"])["content"] == "<p>readable</p>"


def test_unknown_status_is_404(server: MastodonTestServer, api: Mastodon) -> None:
    """An unknown id is a 404 {"error": "Record not found"}."""
    with pytest.raises(MastodonNotFoundError):
        api.status("12345")
    assert raw(server, "GET", "/api/v1/statuses/12345")[2] == {"error": "Record not found"}


def test_private_status_hidden_from_others(api: Mastodon) -> None:
    """A private status is a 404 for another account."""
    private = api.status_post("secret", visibility="private")
    with pytest.raises(MastodonNotFoundError):
        client_for_other(api).status(private["id"])


def test_delete_returns_source_text(server: MastodonTestServer, api: Mastodon) -> None:
    """DELETE returns the status with `text` instead of `content`; it is then gone."""
    posted = api.status_post("Toot!")
    assert api.status_delete(posted["id"])["text"] == "Toot!"
    second = api.status_post("Second")
    status, _, body = raw(server, "DELETE", f"/api/v1/statuses/{second['id']}")
    assert status == 200
    assert body["text"] == "Second"
    assert "content" not in body
    assert server.statuses("bot") == []
    with pytest.raises(MastodonNotFoundError):
        api.status(posted["id"])
    with pytest.raises(MastodonNotFoundError):
        api.status_delete(posted["id"])


def test_cannot_delete_other_accounts_status(server: MastodonTestServer, api: Mastodon) -> None:
    """Deleting another account's status is a 404 and leaves it in place."""
    theirs = client_for_other(api).status_post("theirs")
    with pytest.raises(MastodonNotFoundError):
        api.status_delete(theirs["id"])
    assert len(server.statuses("other")) == 1


def test_account_statuses_pagination(server: MastodonTestServer, api: Mastodon) -> None:
    """Account statuses come newest first, with limit and Link-header pagination."""
    ids = [api.status_post(f"post {n}")["id"] for n in range(5)]
    account_id = api.me()["id"]
    page = api.account_statuses(account_id, limit=2)
    assert [s["id"] for s in page] == [ids[4], ids[3]]
    page = api.fetch_next(page)
    assert page is not None
    assert [s["id"] for s in page] == [ids[2], ids[1]]
    page = api.fetch_next(page)
    assert page is not None
    assert [s["id"] for s in page] == [ids[0]]
    assert api.fetch_next(page) is None
    status, headers, _ = raw(server, "GET", f"/api/v1/accounts/{account_id}/statuses?limit=2")
    assert status == 200
    base = f"{server.base_url}/api/v1/accounts/{account_id}/statuses"
    next_link = f'<{base}?limit=2&max_id={ids[3]}>; rel="next"'
    prev_link = f'<{base}?limit=2&min_id={ids[4]}>; rel="prev"'
    assert headers["link"] == f"{next_link}, {prev_link}"


def test_account_statuses_id_filters(api: Mastodon) -> None:
    """max_id, since_id and min_id select pages like Mastodon (always newest first)."""
    ids = [api.status_post(f"post {n}")["id"] for n in range(5)]
    account_id = api.me()["id"]
    assert [s["id"] for s in api.account_statuses(account_id, max_id=ids[2])] == [ids[1], ids[0]]
    newest = api.account_statuses(account_id, since_id=ids[0], limit=2)
    assert [s["id"] for s in newest] == [ids[4], ids[3]]
    oldest_above = api.account_statuses(account_id, min_id=ids[0], limit=2)
    assert [s["id"] for s in oldest_above] == [ids[2], ids[1]]


def test_account_statuses_limit_is_capped(api: Mastodon) -> None:
    """limit is capped at 40 and defaults to 20."""
    for n in range(45):
        api.status_post(f"post {n}")
    account_id = api.me()["id"]
    assert len(api.account_statuses(account_id)) == 20
    assert len(api.account_statuses(account_id, limit=100)) == 40


# -- faults -----------------------------------------------------------------------------------


def test_injected_rate_limit(server: MastodonTestServer, api: Mastodon) -> None:
    """An injected 429 raises MastodonRatelimitError, creates nothing, has no Retry-After."""
    server.inject("rate_limit", reset_in=120)
    with pytest.raises(MastodonRatelimitError):
        api.status_post("limited")
    assert server.statuses() == []
    server.inject("rate_limit", reset_in=120)
    status, headers, body = raw(
        server,
        "POST",
        "/api/v1/statuses",
        body=b"status=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (status, body) == (429, {"error": "Too many requests"})
    assert "retry-after" not in headers
    assert headers["x-ratelimit-remaining"] == "0"
    reset = parse_reset(headers["x-ratelimit-reset"])
    assert reset - server.now() > timedelta(seconds=100)
    api.status_post("after the fault")


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("error_500", MastodonInternalServerError),
        ("error_502", MastodonBadGatewayError),
        ("error_503", MastodonServiceUnavailableError),
    ],
)
def test_injected_server_errors(
    server: MastodonTestServer, api: Mastodon, fault: Any, error: type[Exception]
) -> None:
    """Injected 5xx answers map to Mastodon.py's error classes and create nothing."""
    server.inject(fault)
    with pytest.raises(error):
        api.status_post("x")
    assert server.statuses() == []


def test_injected_drop(server: MastodonTestServer, api: Mastodon) -> None:
    """A dropped connection is a MastodonNetworkError and nothing is created."""
    server.inject("drop")
    with pytest.raises(MastodonNetworkError):
        api.status_post("x")
    assert server.statuses() == []
    assert (server.requests[0].fault, server.requests[0].status) == ("drop", None)
    api.status_post("the connection pool recovers")


def test_injected_lost_response(server: MastodonTestServer, api: Mastodon) -> None:
    """A lost response creates the status; a retry with the same key returns it, not a twin."""
    server.inject("lost_response")
    with pytest.raises(MastodonNetworkError):
        api.status_post("x", idempotency_key="k")
    created = server.statuses("bot")
    assert len(created) == 1
    assert api.status_post("x", idempotency_key="k")["id"] == created[0]["id"]
    assert len(server.statuses("bot")) == 1


def test_injected_lost_response_502(server: MastodonTestServer, api: Mastodon) -> None:
    """lost_response_502 answers 502 although the status was created."""
    server.inject("lost_response_502")
    with pytest.raises(MastodonBadGatewayError):
        api.status_post("x")
    assert len(server.statuses("bot")) == 1


def test_injected_delay_times_out_client(server: MastodonTestServer) -> None:
    """A delayed request times the client out; the server still processes it afterwards."""
    server.inject("delay", delay=0.3)
    with pytest.raises(MastodonNetworkError):
        client(server, timeout=0.1).status_post("slow")
    assert server.wait_idle(timeout=5)
    assert len(server.statuses("bot")) == 1


def test_global_delay(server: MastodonTestServer) -> None:
    """server.delay slows every request down."""
    server.delay = 0.3
    with pytest.raises(MastodonNetworkError):
        client(server, timeout=0.1).me()
    server.delay = 0
    assert server.wait_idle(timeout=5)
    client(server).me()


def test_faults_are_consumed_in_order(server: MastodonTestServer, api: Mastodon) -> None:
    """Queued faults apply to consecutive matching requests in injection order."""
    server.inject("error_500", times=2)
    server.inject("error_503")
    for error in (MastodonInternalServerError, MastodonInternalServerError):
        with pytest.raises(error):
            api.status_post("x")
    with pytest.raises(MastodonServiceUnavailableError):
        api.status_post("x")
    api.status_post("x")
    assert server.pending_faults == []
    assert [r.fault for r in server.requests] == ["error_500", "error_500", "error_503", None]


def test_faults_match_method_and_path(server: MastodonTestServer, api: Mastodon) -> None:
    """A fault only hits requests with its method and path (globs allowed)."""
    server.inject("error_500", method="DELETE", path="/api/v1/statuses/*")
    posted = api.status_post("x")
    api.me()
    with pytest.raises(MastodonInternalServerError):
        api.status_delete(posted["id"])
    api.status_delete(posted["id"])


def test_unknown_fault_is_rejected(server: MastodonTestServer) -> None:
    """inject() refuses unknown fault names."""
    assert "lost_response" in FAULT_KINDS
    with pytest.raises(ValueError, match="unknown fault"):
        server.inject("explode")  # type: ignore[arg-type]


def test_fault_proxy_takes_the_same_fault_kinds(server: MastodonTestServer) -> None:
    """The Mastodon test server and FaultProxy share one list of fault kinds."""
    proxy = FaultProxy(server.base_url)
    for kind in FAULT_KINDS:
        server.inject(kind)
        proxy.inject(kind)
    assert [f.kind for f in server.pending_faults] == [f.kind for f in proxy.faults]
    with pytest.raises(ValueError, match="unknown fault"):
        proxy.inject("explode")


def test_stop_interrupts_delayed_request(server: MastodonTestServer) -> None:
    """stop() does not wait for delayed requests; their clients see a network error."""
    server.inject("delay", method="GET", path="/api/v1/accounts/verify_credentials", delay=30)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client(server, timeout=20).me()
        except MastodonNetworkError as error:
            errors.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    assert wait_until(lambda: len(server.requests) == 1)
    server.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(errors) == 1


def wait_until(condition: Any, attempts: int = 500) -> bool:
    event = threading.Event()
    for _ in range(attempts):
        if condition():
            return True
        event.wait(0.01)
    return False


# -- plumbing ---------------------------------------------------------------------------------


def test_request_log_redacts_authorization(server: MastodonTestServer, api: Mastodon) -> None:
    """The request log keeps method, path, headers and form but not the token."""
    api.status_post("logged", idempotency_key="k")
    record = server.requests[-1]
    assert (record.method, record.path, record.username) == ("POST", "/api/v1/statuses", "bot")
    assert record.form["status"] == "logged"
    assert record.headers["Idempotency-Key"] == "k"
    assert record.headers["Authorization"] == "Bearer [redacted]"
    assert TOKEN not in repr(server.requests)


def test_keep_alive_reuses_one_connection(server: MastodonTestServer, api: Mastodon) -> None:
    """Mastodon.py's session sends consecutive requests over one kept-alive connection."""
    for _ in range(5):
        api.me()
    api.status_post("x")
    assert server.connections_opened == 1


@pytest.mark.slow
def test_binds_loopback_and_stops() -> None:
    """The server listens on 127.0.0.1 only and refuses connections after stop()."""
    server = MastodonTestServer().start()
    port = server.port
    assert server.base_url == f"http://127.0.0.1:{port}"
    server.stop()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass


@pytest.mark.slow
def test_start_and_stop_are_idempotent() -> None:
    """start() on a running server returns it unchanged; stop() may be called again."""
    with MastodonTestServer() as server:
        port = server.port
        assert server.start() is server
        assert server.port == port
        assert client(server).instance()["version"] == server.version
    server.stop()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass


def test_waits_are_bounded_in_count_and_time() -> None:
    """wait_until (every test server's readiness wait) gives up after its timeout or polls."""
    calls: list[float] = []

    def never() -> bool:
        calls.append(time.monotonic())
        return False

    started = time.monotonic()
    assert not wait_for(never, timeout=0.2, interval=0.05)
    assert time.monotonic() - started < 2.0
    assert 2 <= len(calls) <= 6  # ceil(0.2 / 0.05) + 1
    assert wait_for(lambda: True, timeout=0.0)


@pytest.mark.slow
def test_accounts_can_be_added_before_start() -> None:
    """The port is fixed at first use, so accounts and URLs can be set up before start()."""
    server = MastodonTestServer()
    try:
        account = server.add_account(TOKEN, "early")
        assert account["url"] == f"{server.base_url}/@early"
        server.start()
        assert client(server).me()["username"] == "early"
    finally:
        server.stop()


def test_restart_keeps_state_and_port(server: MastodonTestServer, api: Mastodon) -> None:
    """A stopped server can be started again on the same port with its statuses."""
    posted = api.status_post("survives")
    port = server.port
    server.stop()
    server.start()
    assert server.port == port
    assert api.status(posted["id"])["content"] == "<p>survives</p>"


def test_unknown_endpoint_is_404(server: MastodonTestServer) -> None:
    """Endpoints the server does not implement answer 404."""
    status, _, body = raw(server, "GET", "/api/v1/notifications")
    assert (status, body) == (404, {"error": "Not Found"})
