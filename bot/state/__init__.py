"""The state store: where every post is recorded, on SQLite or PostgreSQL.

``Store`` is one connection that does four jobs, each in its own module:

``database.py``  the connection (SQLite or PostgreSQL), transactions, errors as ``StateError``
``schema.py``    the tables and their migrations (``SCHEMA_VERSION``)
``posts.py``     table ``posts``: where a post is recorded, claimed and settled
                 (``records.py``: what a row is and what its statuses mean;
                 ``queries.py``: reading posts back)
``rotation.py``  tables ``rotation`` and ``rotation_sync``: which item is posted next
``kv.py``        table ``kv``: small values such as a Bluesky session string (``StoreVault``)
``alerts.py``    table ``alerts``: which problems are open and when each was last alerted
``overview.py``  reading posts for the status page: the history in pages, latest posts
``snapshots.py`` tables ``engagement_latest``, ``engagement`` and ``refreshes``: what people
                 did with each post (likes, reposts, replies, quotes) and its changes
"""

from __future__ import annotations

from bot.state.alerts import Alerts, ClearedAlert
from bot.state.kv import KeyValue, StoreVault
from bot.state.overview import Cursor, HistoryFilter, ItemStats, Overview
from bot.state.posts import Posts
from bot.state.records import TAKEN, UNSETTLED, PostRecord, Status
from bot.state.schema import SCHEMA_VERSION
from bot.state.snapshots import Snapshot, Snapshots

__all__ = [
    "SCHEMA_VERSION",
    "TAKEN",
    "UNSETTLED",
    "ClearedAlert",
    "Cursor",
    "HistoryFilter",
    "ItemStats",
    "PostRecord",
    "Snapshot",
    "Status",
    "Store",
    "StoreVault",
]


class Store(Posts, KeyValue, Alerts, Overview, Snapshots):
    """Records posts and answers the questions selection asks. One connection per instance,
    opened with the schema brought up to date."""
