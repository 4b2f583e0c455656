"""Reading a Mastodon account's counts (bot.publishing.mastodon_engagement) from the Mastodon
test server: 20 statuses per request where the server has the multi-id lookup, one by one
where it has not, deleted statuses recorded as deleted, and the rate-limit
budget left to posting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mastodon import Mastodon
from pydantic import SecretStr

from bot.errors import TransientPublishError
from bot.publishing.engagement import Counts, Reading, engagement_reader
from bot.publishing.mastodon import MastodonPublisher
from bot.publishing.mastodon_engagement import MastodonEngagement
from tests.helpers import account
from tests.support.mastodon_server import MastodonTestServer

TOKEN = "token-bot"
FANS = [f"token-fan-{n}" for n in range(3)]


@pytest.fixture
def server() -> Iterator[MastodonTestServer]:
    with MastodonTestServer() as srv:
        srv.add_account(TOKEN, "bot")
        for n, token in enumerate(FANS):
            srv.add_account(token, f"fan{n}")
        yield srv
    assert srv.internal_errors == []


def publisher(server: MastodonTestServer) -> MastodonPublisher:
    acct = account(name="m", api_base_url=server.base_url, access_token=SecretStr(TOKEN))
    return MastodonPublisher(acct, request_timeout=5)


def fan(server: MastodonTestServer, n: int) -> Mastodon:
    return Mastodon(
        access_token=FANS[n],
        api_base_url=server.base_url,
        ratelimit_method="throw",
        version_check_mode="none",
    )


def read_into(reader: MastodonEngagement, ids: list[str], result: dict[str, Reading]) -> None:
    for batch in reader.read(ids):
        result.update(batch)


def read_all(reader: MastodonEngagement, ids: list[str]) -> dict[str, Reading]:
    result: dict[str, Reading] = {}
    read_into(reader, ids, result)
    return result


def requests_to(server: MastodonTestServer, path: str) -> int:
    return sum(1 for r in server.requests if r.method == "GET" and r.path.startswith(path))


def test_counts_of_45_statuses_in_3_requests(server: MastodonTestServer) -> None:
    ids = [server.create_status("bot", f"post {n}")["id"] for n in range(45)]
    fan(server, 0).status_favourite(ids[0])
    fan(server, 1).status_favourite(ids[0])
    fan(server, 0).status_reblog(ids[0])
    fan(server, 2).status_post("nice", in_reply_to_id=ids[44])
    reader = engagement_reader(publisher(server))
    assert isinstance(reader, MastodonEngagement)
    before = len(server.requests)
    readings = read_all(reader, ids)
    assert len(server.requests) - before == 3 == reader.requests
    assert readings[ids[0]] == Reading("live", Counts(likes=2, reposts=1))
    assert readings[ids[44]] == Reading("live", Counts(replies=1))
    assert readings[ids[7]] == Reading("live", Counts())
    assert len(readings) == 45


def test_deleted_statuses_are_recorded_as_deleted(server: MastodonTestServer) -> None:
    ids = [server.create_status("bot", f"post {n}")["id"] for n in range(5)]
    pub = publisher(server)
    pub.delete(ids[2])
    reader = MastodonEngagement(pub)
    readings = read_all(reader, ids)
    assert readings[ids[2]] == Reading("deleted")
    assert [readings[i].state for i in ids] == ["live", "live", "deleted", "live", "live"]
    assert reader.requests == 1  # the owner sees all its statuses: left out means deleted


def test_servers_older_than_4_3_are_read_one_by_one(server: MastodonTestServer) -> None:
    server.version = "4.2.10"
    ids = [server.create_status("bot", f"post {n}")["id"] for n in range(25)]
    fan(server, 0).status_favourite(ids[24])
    reader = MastodonEngagement(publisher(server))
    readings = read_all(reader, ids)
    assert readings[ids[24]] == Reading("live", Counts(likes=1))
    assert reader.multi is False
    # One try of the multi-id route, then one request per status (no second try).
    assert requests_to(server, "/api/v1/statuses") == 1 + 25 == reader.requests


def test_the_rate_limit_budget_is_left_to_posting(server: MastodonTestServer) -> None:
    server.set_rate_limit("general", 35)
    ids = [server.create_status("bot", f"post {n}")["id"] for n in range(200)]
    reader = MastodonEngagement(publisher(server), reserve=30)
    done: dict[str, Reading] = {}
    with pytest.raises(TransientPublishError) as stopped:
        read_into(reader, ids, done)
    assert stopped.value.status == 429
    assert stopped.value.retry_after is not None and stopped.value.retry_after > 0
    # Whole batches only, all of them kept: 35 - 1 (the server's instance, asked once for the
    # client's version) - 5 requests leave 29 < 30, so it stops there.
    assert reader.requests == 5
    assert len(done) == 100
    assert not any(r.status == 429 for r in server.requests)
