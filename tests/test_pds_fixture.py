"""The loopback test PDS (tests/support/pds.py) behaves like Bluesky for the atproto SDK.

These tests pin the PDS behaviour that the bot relies on, against a real PDS (not a mock):
login, posts with langs, facets and link cards, record keys, create-once writes, the length
limit, session reuse and the login rate limit. First run installs the PDS (about 2 minutes).
"""

from __future__ import annotations

import json
import os
import socket
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from atproto import Client, client_utils, models
from atproto.exceptions import AtProtocolError, BadRequestError, RateLimitExceededError
from atproto_client.request import Response

from tests.support.pds import PDS, Account, pds_server

pytestmark = pytest.mark.slow

POST = "app.bsky.feed.post"
B32_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def pds() -> Iterator[PDS]:
    yield from pds_server()


@pytest.fixture(scope="module")
def pds_rate_limited() -> Iterator[PDS]:
    yield from pds_server(rate_limits=True)


@pytest.fixture(scope="module")
def account(pds: PDS) -> Account:
    return pds.create_account()


@pytest.fixture(scope="module")
def client(pds: PDS, account: Account) -> Client:
    logged_in = Client(base_url=pds.url)
    logged_in.login(account.handle, account.password)
    return logged_in


def make_tid(micros: int, clock_id: int = 0) -> str:
    """A record key in TID form (13 base32-sortable chars), as post rkeys must be."""
    value = ((micros & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF)
    return "".join(B32_SORTABLE[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def create_once(client: Client, did: str, rkey: str, record: dict[str, Any]) -> Response:
    """putRecord with an explicit JSON `"swapRecord": null`: create only if the rkey is free.

    The SDK's models drop None fields, so the body is sent as raw JSON bytes.
    """
    body = {
        "repo": did,
        "collection": POST,
        "rkey": rkey,
        "swapRecord": None,
        "record": record,
    }
    with warnings.catch_warnings():
        # the SDK hands raw bytes to httpx as data=, which httpx deprecates; harmless here
        warnings.filterwarnings("ignore", "Use 'content=", DeprecationWarning)
        return client.invoke_procedure(
            "com.atproto.repo.putRecord",
            data=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8"},
            output_encoding="application/json",
        )


def error_response(exc: AtProtocolError) -> Response:
    response = exc.response
    assert isinstance(response, Response)
    return response


def error_name(exc: AtProtocolError) -> str:
    return str(getattr(error_response(exc).content, "error", ""))


def rkey_of(uri: str) -> str:
    return uri.rsplit("/", 1)[1]


def test_fixture_listens_on_loopback_only(pds: PDS) -> None:
    """Every service the fixture starts has a 127.0.0.1 URL and runs on Node 22."""
    info = pds.info
    urls = [info["pdsUrl"], info["plcUrl"], info["appviewUrl"]]
    assert all(url.startswith("http://127.0.0.1:") for url in urls), urls
    assert info["nodeVersion"].startswith("v22.")
    assert info["rateLimits"] is False
    assert pds.url == info["pdsUrl"]


def test_create_account_then_login_with_password(pds: PDS) -> None:
    """create_account() makes an account that Client(base_url=pds.url).login() accepts."""
    account = pds.create_account()
    assert account.handle.endswith(".test")
    assert account.did.startswith("did:plc:")

    client = Client(base_url=pds.url)
    profile = client.login(account.handle, account.password)

    assert profile is not None
    assert profile.did == account.did
    assert client.me is not None
    assert client.me.handle == account.handle


def test_post_keeps_langs_and_facet_utf8_byte_offsets(client: Client, account: Account) -> None:
    """A TextBuilder post keeps its langs, and its facets' UTF-8 byte offsets span the link/tag."""
    builder = client_utils.TextBuilder()
    builder.text("Grüße 👋 aus Köln: ")
    builder.link("openpetition.eu/leavex", "https://openpetition.eu/leavex")
    builder.text(" ")
    builder.tag("#LeaveX", "LeaveX")

    ref = client.send_post(builder, langs=["de"])
    post = client.get_post(rkey_of(ref.uri), profile_identify=account.did).value

    assert post.text == "Grüße 👋 aus Köln: openpetition.eu/leavex #LeaveX"
    assert post.langs == ["de"]
    assert post.facets is not None
    assert len(post.facets) == 2
    encoded = post.text.encode("utf-8")
    spans = [encoded[f.index.byte_start : f.index.byte_end].decode() for f in post.facets]
    assert spans == ["openpetition.eu/leavex", "#LeaveX"]
    # byte offsets, not character offsets: the text before the link is 18 chars, 24 bytes
    prefix = "Grüße 👋 aus Köln: "
    assert (len(prefix), len(prefix.encode("utf-8"))) == (18, 24)
    assert post.facets[0].index.byte_start == 24
    link, tag = post.facets[0].features[0], post.facets[1].features[0]
    assert isinstance(link, models.AppBskyRichtextFacet.Link)
    assert link.uri == "https://openpetition.eu/leavex"
    assert isinstance(tag, models.AppBskyRichtextFacet.Tag)
    assert tag.tag == "LeaveX"


def test_external_embed_round_trips(client: Client, account: Account) -> None:
    """A link card (app.bsky.embed.external) is stored with its uri, title and description."""
    card = models.AppBskyEmbedExternal.External(
        uri="https://example.org/initiative",
        title="An initiative",
        description="Sign it",
    )
    ref = client.send_post(
        "with a card", embed=models.AppBskyEmbedExternal.Main(external=card), langs=["en"]
    )

    post = client.get_post(rkey_of(ref.uri), profile_identify=account.did).value

    assert isinstance(post.embed, models.AppBskyEmbedExternal.Main)
    assert post.embed.external.uri == "https://example.org/initiative"
    assert post.embed.external.title == "An initiative"
    assert post.embed.external.description == "Sign it"


def test_get_record_by_rkey_tells_whether_it_exists(client: Client, account: Account) -> None:
    """getRecord by rkey returns the post's uri/cid, and 400 RecordNotFound for a free rkey."""
    ref = client.send_post("find me by rkey")
    params = {"repo": account.did, "collection": POST}

    found = client.com.atproto.repo.get_record({**params, "rkey": rkey_of(ref.uri)})
    assert (found.uri, found.cid) == (ref.uri, ref.cid)

    with pytest.raises(BadRequestError) as missing:
        client.com.atproto.repo.get_record({**params, "rkey": make_tid(1)})
    assert error_response(missing.value).status_code == 400
    assert error_name(missing.value) == "RecordNotFound"


def test_put_record_with_null_swap_creates_only_once(client: Client, account: Account) -> None:
    """putRecord with JSON "swapRecord": null creates once; a second try is 400 InvalidSwap."""
    rkey = make_tid(time.time_ns() // 1000, clock_id=7)
    record = {
        "$type": POST,
        "text": "exactly once",
        "createdAt": client.get_current_time_iso(),
        "langs": ["de"],
    }

    first = create_once(client, account.did, rkey, record)
    assert first.status_code == 200
    with pytest.raises(BadRequestError) as again:
        create_once(client, account.did, rkey, {**record, "text": "twice"})

    assert error_response(again.value).status_code == 400
    assert error_name(again.value) == "InvalidSwap"
    stored = client.get_post(rkey, profile_identify=account.did).value
    assert stored.text == "exactly once"


def test_301_graphemes_rejected_300_accepted(client: Client) -> None:
    """The PDS accepts 300 graphemes and rejects 301 with 400 "grapheme too big"."""
    client.send_post("👍" * 300)

    with pytest.raises(BadRequestError) as too_long:
        client.send_post("👍" * 301)

    response = error_response(too_long.value)
    assert response.status_code == 400
    assert "grapheme too big" in str(getattr(response.content, "message", ""))


def test_session_string_is_reused_without_password(pds: PDS, client: Client) -> None:
    """A session exported with export_session_string() logs a new Client in and can post."""
    session = client.export_session_string()

    reused = Client(base_url=pds.url)
    reused.login(session_string=session)
    ref = reused.send_post("posted with a reused session")

    assert client.me is not None
    assert ref.uri.startswith(f"at://{client.me.did}/{POST}/")


def test_rate_limits_are_off_by_default(pds: PDS) -> None:
    """Without rate_limits, 31 createSession calls for one account in a row all succeed."""
    account = pds.create_account()
    client = Client(base_url=pds.url)
    data = models.ComAtprotoServerCreateSession.Data(
        identifier=account.handle, password=account.password
    )

    sessions = [client.com.atproto.server.create_session(data) for _ in range(31)]

    assert all(session.did == account.did for session in sessions)


def test_31st_login_in_5_minutes_gets_429(pds_rate_limited: PDS) -> None:
    """With PDS_RATE_LIMITS on, the 31st createSession within 5 minutes is 429 for the SDK."""
    pds = pds_rate_limited
    assert pds.info["rateLimits"] is True
    account = pds.create_account()
    data = models.ComAtprotoServerCreateSession.Data(
        identifier=account.handle, password=account.password
    )
    raw = Client(base_url=pds.url)
    for _ in range(30):
        raw.com.atproto.server.create_session(data)

    with pytest.raises(RateLimitExceededError) as limited:
        Client(base_url=pds.url).login(account.handle, account.password)

    response = error_response(limited.value)
    assert response.status_code == 429
    headers = {key.lower(): value for key, value in response.headers.items()}
    assert headers["ratelimit-limit"] == "30"
    assert headers["ratelimit-remaining"] == "0"
    assert int(headers["ratelimit-reset"]) > time.time()


@pytest.mark.usefixtures("pds")  # installed (or skipped) through the fixture
def test_stop_ends_the_server_and_deletes_its_state() -> None:
    """PDS.stop() ends the Node process, frees the PDS port and deletes the data folder."""
    server = PDS(appview_stub=False).start()
    try:
        pid = int(server.info["pid"])
        port = int(server.url.rsplit(":", 1)[1])
        log_path = server.log_path
        assert log_path is not None
        assert log_path.is_file()
        account = server.create_account()
        client = Client(base_url=server.url)  # no AppView stub: skip the profile fetch
        client.login(account.handle, account.password, fetch_bsky_profile=False)
    finally:
        server.stop()

    assert not server.running
    assert not log_path.parent.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
        probe.bind(("127.0.0.1", port))  # fails while anything still listens there
