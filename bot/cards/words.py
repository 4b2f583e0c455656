"""What a share card says, per language, and its alt text (generated from the same data).

A card shows the item's name, what it is (initiative / petition), its country, a call to action
for petitions, the departure date where known, the network's name and the site's domain. The
alt text says the same in a sentence, so a screen-reader user gets what a sighted one sees.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from urllib.parse import urlsplit

from bot.dataset import Item

#: Words of the cards per language. A language without words gets no share card (``check``
#: warns); the bundled templates' languages all have them.
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "initiative": "Initiative",
        "petition": "Petition",
        "cta": "Sign the petition",
        "left": "Left X on {date} for {platforms}",
        "leaves": "Leaves X on {date} for {platforms}",
        "network": "LeaveX network",
        "alt": "Share card of the {network}: {kind} “{name}”{country}.{line}{site}",
        "site": " Website: {site}.",
    },
    "de": {
        "initiative": "Initiative",
        "petition": "Petition",
        "cta": "Jetzt unterschreiben",
        "left": "Hat X am {date} verlassen – für {platforms}",
        "leaves": "Verlässt X am {date} – für {platforms}",
        "network": "Netzwerk LeaveX",
        "alt": "Karte des {network}: {kind} „{name}“{country}.{line}{site}",
        "site": " Website: {site}.",
    },
    "fr": {
        "initiative": "Initiative",
        "petition": "Pétition",
        "cta": "Signez la pétition",
        "left": "A quitté X le {date} pour {platforms}",
        "leaves": "Quitte X le {date} pour {platforms}",
        "network": "Réseau LeaveX",
        "alt": "Carte du {network}\u202f: {kind} «\u202f{name}\u202f»{country}.{line}{site}",
        "site": " Site web\u202f: {site}.",
    },
}
#: The German alt text says "des Netzwerks LeaveX", the French one "du réseau LeaveX".
_NETWORK_IN_ALT = {"en": "LeaveX network", "de": "Netzwerks LeaveX", "fr": "réseau LeaveX"}


@dataclass(frozen=True)
class CardTexts:
    """Everything a share card shows, already in the post's language."""

    language: str
    name: str
    kind: str
    country: str
    #: the call to action (petitions) or the departure line; may be empty
    line: str
    network: str
    site: str

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """As stored with a planned post (``Picture.card``), to draw the card again."""
        return tuple((name, getattr(self, name)) for name in _FIELDS)

    @classmethod
    def from_pairs(cls, pairs: tuple[tuple[str, str], ...]) -> CardTexts:
        values = {k: v for k, v in pairs if k in _FIELDS}
        return cls(**{name: values.get(name, "") for name in _FIELDS})


_FIELDS = tuple(f.name for f in fields(CardTexts))


def has_words(language: str) -> bool:
    return language in WORDS


def card_texts(
    item: Item, language: str, today: dt.date, url: str | None = None
) -> CardTexts | None:
    """The card's texts for ``item`` in ``language``; ``None`` without words for it."""
    from bot.rendering import localized

    words = WORDS.get(language)
    if words is None:
        return None
    country = localized.country_name(item.territory, language) if item.territory is not None else ""
    line = ""
    if item.kind == "petition":
        line = words["cta"]
    elif item.departure is not None:
        names = {"mastodon": "Mastodon", "bluesky": "Bluesky"}
        platforms = localized.word_list(tuple(names[p] for p in item.departure.platforms), language)
        phrase = words["left" if item.departure.date <= today else "leaves"]
        line = phrase.format(
            date=localized.long_date(item.departure.date, language), platforms=platforms
        )
    host = urlsplit(url or item.url).hostname or ""
    return CardTexts(
        language=language,
        name=item.name_in(language),
        kind=words[item.kind],
        country=country,
        line=line,
        network=words["network"],
        site=host.removeprefix("www."),
    )


def alt_text(texts: CardTexts) -> str:
    """A sentence that says what the card shows, in the card's language."""
    words = WORDS[texts.language]
    return words["alt"].format(
        network=_NETWORK_IN_ALT[texts.language],
        kind=texts.kind.lower() if texts.language != "de" else texts.kind,
        name=texts.name,
        country=f", {texts.country}" if texts.country else "",
        line=f" {texts.line}." if texts.line else "",
        site=words["site"].format(site=texts.site) if texts.site else "",
    )
