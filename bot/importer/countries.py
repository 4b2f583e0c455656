"""Country names as the pages write them ("(Spanien)", "(Belgique)") → the dataset's codes."""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

from bot.dataset import EUROPE, EUROPE_TERRITORY, Item


def fold(text: str) -> str:
    """``text`` without accents, case-folded: the form names are compared in."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def country_code(name: str, language: str) -> str | None:
    """The ISO 3166-1 alpha-2 code (or ``Europe``) of a country name written in ``language``,
    if the dataset accepts it as a ``country`` ("European Union" is a Babel territory, not a
    country)."""
    if name == EUROPE:
        return EUROPE
    code = _country_names(language).get(fold(name))
    return code if code is not None and _accepted_country(code) else None


@functools.cache
def _country_names(language: str) -> dict[str, str]:
    """Folded territory name → ISO code (or ``Europe``), in ``language`` and then English."""
    from babel import Locale

    names: dict[str, str] = {}
    for lang in dict.fromkeys((language, "en")):
        territories: dict[str, Any] = dict(Locale.parse(lang).territories)
        for code, name in territories.items():
            if code == EUROPE_TERRITORY:
                names.setdefault(fold(str(name)), EUROPE)
            elif re.fullmatch(r"[A-Z]{2}", code) and code != "ZZ":
                names.setdefault(fold(str(name)), code)
    return names


@functools.cache
def _accepted_country(code: str) -> bool:
    from pydantic import ValidationError

    try:
        Item.model_validate(
            {"id": "x", "kind": "petition", "name": "x", "urls": ["/x"], "country": code}
        )
    except ValidationError:
        return False
    return True
