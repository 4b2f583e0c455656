"""Publishing: one seam, :class:`Publisher`; console, Mastodon and Bluesky implementations.

Mastodon.py and atproto are imported only inside their publishers, so commands that do not
publish (``preview``, ``check``, ``--help``) never pay for importing them.
"""

from bot.post import OutgoingPost, Published
from bot.publishing.base import Publisher

__all__ = ["OutgoingPost", "Published", "Publisher"]
