"""Planning a slot: which posts it owes, which item each one carries, and the plan row that is
written before the platform is called (write-ahead), with the key the platform will see."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.clock import iso, parse_iso
from bot.config import Account
from bot.dataset import Dataset
from bot.errors import RenderError
from bot.logs import log_event
from bot.post import OutgoingPost, PlatformLimits, RenderedPost, decode_extras, encode_extras
from bot.poster.claims import OWNER
from bot.publishing.base import idempotency_key, new_tid
from bot.rendering.render import Renderer
from bot.selection import Selector, Simulation, slot_key
from bot.state import TAKEN, PostRecord, Store

log = logging.getLogger("bot.poster")


@dataclass(frozen=True)
class Owed:
    """One post a slot owes: its key, its language slot, and its row if it has one."""

    key: str
    slot_language: str
    record: PostRecord | None


@dataclass
class SlotChoices:
    """(item, language) pairs already used in one slot: a slot posts an item at most once per
    account and language actually used (``LANGUAGE_MODE=all`` with a fallback language would
    otherwise post the same text once per language slot)."""

    used: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def of(cls, owed: list[Owed]) -> SlotChoices:
        return cls(
            {
                (o.record.item_id, o.record.language)
                for o in owed
                if o.record is not None and o.record.status in TAKEN
            }
        )


def outgoing(record: PostRecord) -> OutgoingPost:
    """The post a plan row describes, exactly as its first attempt sent it."""
    return OutgoingPost(
        account=record.account,
        platform=record.platform,
        item_id=record.item_id,
        language=record.language,
        slot_at=parse_iso(record.slot_at),
        text=record.text,
        key=record.remote_key,
        **decode_extras(record.payload),
    )


class Planner:
    """Chooses and renders the posts of a slot and records them as planned."""

    def __init__(
        self,
        store: Store,
        dataset: Dataset,
        renderer: Renderer,
        today: Callable[[], dt.date],
    ) -> None:
        self.store = store
        self.dataset = dataset
        self.renderer = renderer
        self.today = today
        renderable = frozenset(i.id for i in dataset if not renderer.unresolved_links(i))
        self.selector = Selector(store, dataset, can_render=renderable)
        #: what a preview (a simulation of many slots) has already warned about
        self._warned: set[tuple[str, str, str]] = set()

    def owed(
        self, account: Account, slot_at: dt.datetime, simulation: Simulation | None = None
    ) -> list[Owed]:
        """The posts a slot owes: one per language in ``all`` mode, else one."""
        dry = account.dry_run
        if account.language_mode == "all":
            keys = [(slot_key(slot_at, lang, "all"), lang) for lang in account.languages]
            return [Owed(k, lang, self.store.get_post(account.name, k, dry)) for k, lang in keys]
        existing = self.store.get_post(account.name, iso(slot_at), dry)
        if existing is not None:
            return [Owed(existing.slot_key, existing.slot_language, existing)]
        language = self.selector.rotate_language(account, simulation)
        return [Owed(slot_key(slot_at, language, "rotate"), language, None)]

    def choose(
        self,
        account: Account,
        slot_language: str,
        limits: PlatformLimits,
        choices: SlotChoices,
        simulation: Simulation | None = None,
    ) -> RenderedPost | None:
        """The best eligible item for a language slot, rendered for the account's limits;
        items that cannot be rendered are logged and skipped (``check`` reports them)."""
        today = self.today()
        for item in self.selector.candidates(account, slot_language, today, simulation):
            language = self.selector.language_for(item, slot_language, account, today)
            if language is None or (item.id, language) in choices.used:
                continue
            try:
                post = self.renderer.render(item, language, account.platform, limits)
            except RenderError as exc:
                seen = (account.name, item.id, language)
                if simulation is not None and seen in self._warned:
                    continue  # a preview warns once, not once per slot it shows
                self._warned.add(seen)
                log_event(
                    log,
                    "post.unrenderable",
                    logging.WARNING,
                    account=account.name,
                    item=item.id,
                    language=language,
                    error=str(exc),
                )
                continue
            choices.used.add((item.id, language))
            return post
        return None

    def plan(
        self,
        account: Account,
        slot_at: dt.datetime,
        owed: Owed,
        post: RenderedPost,
        lease_until: dt.datetime,
    ) -> tuple[PostRecord, bool]:
        """Record the post as planned, with the key every attempt will send; ``False``: another
        worker planned this slot first (its row is returned)."""
        remote_key = (
            new_tid() if account.platform == "bluesky" else idempotency_key(account.name, owed.key)
        )
        return self.store.plan(
            account=account.name,
            platform=account.platform,
            slot_at=slot_at,
            slot_key=owed.key,
            dry_run=account.dry_run,
            item_id=post.item_id,
            slot_language=owed.slot_language,
            language=post.language,
            text=post.text,
            payload=encode_extras(post),
            remote_key=remote_key,
            owner=OWNER,
            lease_until=lease_until,
            first_attempt=True,
        )
