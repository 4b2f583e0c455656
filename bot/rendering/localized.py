"""Localized strings from Babel (country names, long dates, lists), remembered between runs
through :func:`bot.cache.remembered` so a warm start does not load Babel at all."""

from __future__ import annotations

import datetime as dt

from bot.cache import remembered, reset

__all__ = ["country_name", "long_date", "remembered", "reset", "word_list"]


def country_name(territory: str, language: str) -> str:
    def compute() -> str:
        from babel import Locale

        return str(Locale.parse(language).territories.get(territory, territory))

    return remembered(f"territory|{language}|{territory}", compute)


def long_date(date: dt.date, language: str) -> str:
    def compute() -> str:
        from babel.dates import format_date

        return str(format_date(date, format="long", locale=language))

    return remembered(f"date|{language}|{date.isoformat()}", compute)


def word_list(words: tuple[str, ...], language: str) -> str:
    def compute() -> str:
        from babel.lists import format_list

        return str(format_list(list(words), locale=language))

    return remembered(f"list|{language}|{'|'.join(words)}", compute)
