"""Posting a slot: plan (``planning``), deliver with retries (``delivery``), reconcile posts whose
outcome is not known (``reconcile``); :class:`Poster` (``slot``) runs them for one account."""

from bot.poster.delivery import RetryPolicy
from bot.poster.outcome import PROBLEMS, Outcome
from bot.poster.planning import outgoing
from bot.poster.slot import Poster

__all__ = ["PROBLEMS", "Outcome", "Poster", "RetryPolicy", "outgoing"]
