"""The counts of a Bluesky account's posts: likes, reposts, replies, quotes.

``app.bsky.feed.getPosts`` takes up to 25 AT-URIs; it is asked through the account's PDS, which
passes it on to its AppView (as apps do), with the session the publisher keeps (no login when a
session is stored). A post the answer leaves out is looked up at its record key on the PDS
(``getRecord``): gone means ``deleted``; still there means the AppView does not show it now
(``unavailable``: not indexed yet, or taken down), which the next refresh asks again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

from bot.publishing.bluesky import BlueskyPublisher
from bot.publishing.bluesky_records import POST_COLLECTION
from bot.publishing.engagement import Counts, Reading, chunks

#: AT-URIs per getPosts (the lexicon's maxLength)
BATCH = 25


def counts_of(view: Any) -> Counts:
    def number(name: str) -> int:
        value = getattr(view, name, None)
        return value if isinstance(value, int) and value >= 0 else 0

    return Counts(
        likes=number("like_count"),
        reposts=number("repost_count"),
        replies=number("reply_count"),
        quotes=number("quote_count"),
    )


class BlueskyEngagement:
    """Reads one Bluesky account's posts in batches of :data:`BATCH`."""

    batch_size = BATCH

    def __init__(self, publisher: BlueskyPublisher) -> None:
        self.publisher = publisher
        self.session = publisher.session
        self.requests = 0

    def read(self, remote_ids: Sequence[str]) -> Iterator[dict[str, Reading]]:
        rkeys = list(dict.fromkeys(remote_ids))
        if not rkeys:
            return
        did = self.session.did
        for batch in chunks(rkeys, BATCH):
            uris = [f"at://{did}/{POST_COLLECTION}/{rkey}" for rkey in batch]
            self.requests += 1
            answer = self.session.call("getPosts", partial(self._get_posts, uris))
            found = {
                str(view.uri).rsplit("/", 1)[-1]: Reading("live", counts_of(view))
                for view in answer.posts
            }
            for rkey in batch:
                if rkey not in found:
                    self.requests += 1
                    found[rkey] = Reading(
                        "unavailable" if self.publisher.exists(rkey) else "deleted"
                    )
            yield found

    def _get_posts(self, uris: list[str]) -> Any:
        return self.session.client.app.bsky.feed.get_posts({"uris": uris})
