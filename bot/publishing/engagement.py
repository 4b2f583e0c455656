"""Reading back what people did with the bot's posts: likes (Mastodon: favourites), reposts
(boosts), replies and quotes, for many posts at once.

A reader takes the remote ids the state database recorded (Mastodon status ids, Bluesky record
keys) and yields, batch by batch, a :class:`Reading` per post: its counts, or that it is gone
(``deleted``), or that it exists but the platform shows no counts for it now
(``unavailable``: not indexed yet, or hidden). Neither is an error. Readers raise
:class:`bot.errors.PublishError` subclasses only (a 429 as ``TransientPublishError`` with
``retry_after``), between batches, so the batches read before stay usable.

- Mastodon (:mod:`bot.publishing.mastodon_engagement`): ``GET /api/v1/statuses?id[]=`` with 20
  ids per request (Mastodon 4.3 and later), one ``GET /api/v1/statuses/:id`` per post on older
  servers; it stops while the account's rate-limit budget is nearly spent, so posting always
  has requests left.
- Bluesky (:mod:`bot.publishing.bluesky_engagement`): ``app.bsky.feed.getPosts`` with 25 AT-URIs
  per request, through the account's PDS (which asks its AppView).

The SDKs are imported by those modules only, and only when a reader is made.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, cast

from bot.publishing.base import Publisher

if TYPE_CHECKING:
    from bot.publishing.bluesky import BlueskyPublisher
    from bot.publishing.mastodon import MastodonPublisher

#: live: counted; deleted: gone from the platform; unavailable: there, but not counted now
ReadingState = Literal["live", "deleted", "unavailable"]


@dataclass(frozen=True)
class Counts:
    """What people did with one post. Mastodon's favourites are ``likes`` and its boosts are
    ``reposts``."""

    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0

    @property
    def total(self) -> int:
        return self.likes + self.reposts + self.replies + self.quotes


@dataclass(frozen=True)
class Reading:
    """One post's state on its platform, and its counts when it is live."""

    state: ReadingState
    counts: Counts = Counts()


class EngagementReader(Protocol):
    """Reads the counts of one account's posts."""

    #: how many posts one request reads (at most)
    batch_size: int
    #: requests made so far
    requests: int

    def read(self, remote_ids: Sequence[str]) -> Iterator[dict[str, Reading]]:
        """A reading for every id, one batch at a time (remote id → reading)."""
        ...


def chunks(values: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def engagement_reader(publisher: Publisher) -> EngagementReader | None:
    """The reader for a real account's publisher; ``None`` for one that cannot read (a dry
    run's console). A publisher's module is loaded when it exists, so this loads no SDK."""
    mastodon = sys.modules.get("bot.publishing.mastodon")
    if mastodon is not None and isinstance(publisher, mastodon.MastodonPublisher):
        from bot.publishing.mastodon_engagement import MastodonEngagement

        return MastodonEngagement(cast("MastodonPublisher", publisher))
    bluesky = sys.modules.get("bot.publishing.bluesky")
    if bluesky is not None and isinstance(publisher, bluesky.BlueskyPublisher):
        from bot.publishing.bluesky_engagement import BlueskyEngagement

        return BlueskyEngagement(cast("BlueskyPublisher", publisher))
    return None
