"""Selection: which item, in which language, an account posts in a slot.

Per account and language slot, the least recently posted eligible item comes first; items never
posted come before all others, in dataset order. Nothing repeats until every eligible item has
been posted, and the choice depends only on the dataset and the state, so it is deterministic.

An account with several languages either rotates the language slot by slot (the least recently
used language first) or posts every language in each slot. An item with no text in the slot's
language falls back to the account's fallback language, or is skipped for that language.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.clock import iso
from bot.config import Account
from bot.dataset import Dataset, Item
from bot.state import Store

#: (item id, ordinal, eligible) of every item, and a fingerprint of that list
Eligibility = tuple[list[tuple[str, int, bool]], str]


@dataclass
class _Remembered:
    """Eligibility computed for one dataset on one day, by account, language slot, fallback
    and the set of renderable items. Kept while the dataset lives (a weak reference) and only
    for the current day, so it never grows."""

    day: dt.date
    eligibility: dict[tuple[str, str, str | None, frozenset[str] | None], Eligibility] = field(
        default_factory=dict
    )


_REMEMBERED: weakref.WeakKeyDictionary[Dataset, _Remembered] = weakref.WeakKeyDictionary()


@dataclass
class Simulation:
    """Choices made in a preview but not recorded: they count as posted for later slots."""

    moved: dict[str, list[str]] = field(default_factory=dict)
    languages_used: dict[str, str] = field(default_factory=dict)

    def record(self, item: Item, slot_language: str, slot_at: dt.datetime) -> None:
        order = self.moved.setdefault(slot_language, [])
        if item.id in order:
            order.remove(item.id)
        order.append(item.id)
        self.languages_used[slot_language] = iso(slot_at)


def slot_key(slot_at: dt.datetime, slot_language: str, mode: str) -> str:
    """The unique key of a post within an account: one per slot, or one per slot and language."""
    return iso(slot_at) if mode == "rotate" else f"{iso(slot_at)}/{slot_language}"


class Selector:
    """Chooses the posts of a slot from the dataset and the store."""

    def __init__(
        self,
        store: Store,
        dataset: Dataset,
        *,
        can_render: frozenset[str] | None = None,
    ) -> None:
        self.store = store
        self.dataset = dataset
        #: ids of items whose links can be resolved (``None``: all can)
        self.can_render = can_render
        self._day: dt.date | None = None
        self._eligibility: dict[
            tuple[str, str, str | None], tuple[list[tuple[str, int, bool]], str]
        ]
        self._eligibility = {}

    def eligibility(self, account: Account, slot_language: str, today: dt.date) -> Eligibility:
        """(item id, ordinal, eligible) for every item, and a fingerprint of that list.

        Remembered per dataset for the day (see :class:`_Remembered`), so a slot costs one
        indexed query, not a pass over every item."""
        memory = _REMEMBERED.get(self.dataset)
        if memory is None or memory.day != today:
            memory = _REMEMBERED[self.dataset] = _Remembered(today)
        key = (account.name, slot_language, account.fallback_language, self.can_render)
        cached = memory.eligibility.get(key)
        if cached is None:
            rows = [
                (
                    item.id,
                    ordinal,
                    self.language_for(item, slot_language, account, today) is not None,
                )
                for ordinal, item in enumerate(self.dataset)
            ]
            digest = hashlib.sha256(self.dataset.fingerprint.encode())
            digest.update(bytes(eligible for _, _, eligible in rows))
            cached = (rows, digest.hexdigest()[:16])
            memory.eligibility[key] = cached
        return cached

    def language_for(
        self, item: Item, slot_language: str, account: Account, today: dt.date
    ) -> str | None:
        """The language ``item`` is posted in for this language slot, or ``None`` if it is not
        eligible (closed, inactive, links unresolvable, no text in either language)."""
        if not item.is_open(today):
            return None
        if self.can_render is not None and item.id not in self.can_render:
            return None
        available = item.languages()
        if available is None or slot_language in available:
            return slot_language
        fallback = account.fallback_language
        if fallback and fallback in available:
            return fallback
        return None

    def rotate_language(self, account: Account, simulation: Simulation | None = None) -> str:
        """In ``rotate`` mode: the language slot used least recently, ties in configured order."""
        used = self.store.last_language_use(account.name, account.languages, account.dry_run)
        if simulation:
            used.update(simulation.languages_used)
        order = {language: index for index, language in enumerate(account.languages)}
        return min(account.languages, key=lambda lang: (used.get(lang, ""), order[lang]))

    def candidates(
        self,
        account: Account,
        slot_language: str,
        today: dt.date,
        simulation: Simulation | None = None,
    ) -> Iterator[Item]:
        """Eligible items for a language slot, best first."""
        rows, fingerprint = self.eligibility(account, slot_language, today)
        self.store.sync_rotation(account.name, slot_language, account.dry_run, rows, fingerprint)
        moved = simulation.moved.get(slot_language, []) if simulation else []
        skip = set(moved)
        order = self.store.rotation_order(account.name, slot_language, account.dry_run)
        ids = itertools.chain((item_id for item_id, _ in order if item_id not in skip), moved)
        for item_id in ids:
            item = self.dataset.by_id.get(item_id)
            if item is None:  # removed from the dataset since it was posted
                continue
            if self.language_for(item, slot_language, account, today) is not None:
                yield item
