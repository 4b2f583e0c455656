"""The Mastodon test server's favourites, boosts and multi-id lookup, against Mastodon's
contract (its API documentation and its controllers), driven by the real Mastodon.py client:
counts in every status entity, idempotent favourites and boosts, what a boost looks like,
who may boost what, and ``GET /api/v1/statuses?id[]=`` (at most 20 ids, invisible and deleted
statuses left out, each once, newest first, only from Mastodon 4.3 on)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from mastodon import Mastodon, MastodonAPIError, MastodonNotFoundError

from tests.support.mastodon_server import MastodonTestServer

TOKEN = "token-bot"
FAN = "token-fan"
OTHER = "token-other"


@pytest.fixture
def server() -> Iterator[MastodonTestServer]:
    with MastodonTestServer() as srv:
        srv.add_account(TOKEN, "bot")
        srv.add_account(FAN, "fan")
        srv.add_account(OTHER, "other")
        yield srv
    assert srv.internal_errors == []


def client(server: MastodonTestServer, token: str | None = TOKEN) -> Mastodon:
    return Mastodon(
        access_token=token,
        api_base_url=server.base_url,
        ratelimit_method="throw",
        request_timeout=5,
        version_check_mode="none",
    )


def test_favourites_are_counted_once_per_account(server: MastodonTestServer) -> None:
    status = client(server).status_post("Hello", visibility="public")
    fan, other = client(server, FAN), client(server, OTHER)
    first = fan.status_favourite(status["id"])
    assert (first["favourited"], first["favourites_count"]) == (True, 1)
    again = fan.status_favourite(status["id"])  # FavouriteService: no second favourite
    assert again["favourites_count"] == 1
    assert other.status_favourite(status["id"])["favourites_count"] == 2
    seen = client(server).status(status["id"])
    assert (seen["favourites_count"], seen["favourited"]) == (2, False)
    undone = other.status_unfavourite(status["id"])
    assert (undone["favourited"], undone["favourites_count"]) == (False, 1)


def test_a_boost_wraps_the_boosted_status(server: MastodonTestServer) -> None:
    status = client(server).status_post("Boost me", visibility="public")
    fan = client(server, FAN)
    boost = fan.status_reblog(status["id"])
    assert boost["id"] != status["id"]
    assert boost["account"]["username"] == "fan"
    assert boost["content"] == ""
    assert boost["reblogged"] is True
    inner = boost["reblog"]
    assert (inner["id"], inner["reblogs_count"], inner["reblogged"]) == (status["id"], 1, True)
    assert fan.status_reblog(status["id"])["id"] == boost["id"]  # once per account
    assert (
        client(server, OTHER).status_reblog(status["id"], visibility="unlisted")["visibility"]
        == "unlisted"
    )
    seen = client(server).status(status["id"])
    assert (seen["reblogs_count"], seen["reblogged"]) == (2, False)
    # The boost is on the booster's profile (not with exclude_reblogs), not on the author's.
    fan_id = fan.account_verify_credentials()["id"]
    assert [s["id"] for s in fan.account_statuses(fan_id)] == [boost["id"]]
    assert fan.account_statuses(fan_id, exclude_reblogs=True) == []
    undone = fan.status_unreblog(status["id"])
    assert (undone["id"], undone["reblogs_count"], undone["reblogged"]) == (status["id"], 1, False)


def test_who_may_favourite_and_boost(server: MastodonTestServer) -> None:
    bot, fan = client(server), client(server, FAN)
    private = bot.status_post("Followers only", visibility="private")
    with pytest.raises(MastodonNotFoundError):  # invisible to the fan: "Record not found"
        fan.status_favourite(private["id"])
    with pytest.raises(MastodonNotFoundError):
        fan.status_reblog(private["id"])
    with pytest.raises(MastodonAPIError) as refused:  # visible, but cannot be boosted
        bot.status_reblog(private["id"])
    assert refused.value.args[1] == 403
    with pytest.raises(MastodonAPIError) as anonymous:
        client(server, None).status_favourite(private["id"])
    assert anonymous.value.args[1] == 401


def test_replies_are_counted(server: MastodonTestServer) -> None:
    status = client(server).status_post("Reply to me", visibility="public")
    reply = client(server, FAN).status_post("A reply", in_reply_to_id=status["id"])
    assert client(server).status(status["id"])["replies_count"] == 1
    client(server, FAN).status_delete(reply["id"])
    assert client(server).status(status["id"])["replies_count"] == 0


def test_deleting_a_status_discards_its_boosts(server: MastodonTestServer) -> None:
    status = client(server).status_post("Soon gone", visibility="public")
    boost = client(server, FAN).status_reblog(status["id"])
    client(server).status_delete(status["id"])
    with pytest.raises(MastodonNotFoundError):
        client(server, FAN).status(boost["id"])


def test_multi_id_lookup(server: MastodonTestServer) -> None:
    bot = client(server)
    first = bot.status_post("one", visibility="public")
    second = bot.status_post("two", visibility="unlisted")
    private = bot.status_post("three", visibility="private")
    gone = bot.status_post("four", visibility="public")
    bot.status_delete(gone["id"])
    client(server, FAN).status_favourite(first["id"])
    ids = [first["id"], second["id"], private["id"], gone["id"], "999", first["id"]]
    mine = bot.statuses(ids)
    # Newest first, each once, without the deleted and unknown ids; the counts are there.
    assert [s["id"] for s in mine] == [private["id"], second["id"], first["id"]]
    assert mine[-1]["favourites_count"] == 1
    theirs = client(server, FAN).statuses(ids)
    assert [s["id"] for s in theirs] == [second["id"], first["id"]]  # the private one is not
    assert [s["id"] for s in client(server, None).statuses(ids)] == [second["id"], first["id"]]
    assert bot.statuses([]) == []


def test_multi_id_lookup_takes_at_most_20_ids(server: MastodonTestServer) -> None:
    bot = client(server)
    ids = [bot.status_post(f"status {n}")["id"] for n in range(21)]
    assert len(bot.statuses(ids[:20])) == 20
    with pytest.raises(MastodonAPIError) as too_many:
        bot.statuses(ids)
    assert too_many.value.args[1] == 422
    query = "&".join(f"id[]={i}" for i in ids)
    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(f"{server.base_url}/api/v1/statuses?{query}", timeout=5)
    assert json.loads(raw.value.read()) == {"error": "Mastodon::ValidationError"}
    assert len(bot.statuses(ids[:20] + ids[:5])) == 20  # repeated ids count once


def test_no_multi_id_lookup_before_mastodon_4_3(server: MastodonTestServer) -> None:
    bot = client(server)
    status = bot.status_post("old server")
    server.version = "4.2.10"
    with pytest.raises(MastodonNotFoundError):
        bot.statuses([status["id"]])
    assert bot.status(status["id"])["id"] == status["id"]  # one by one still works
