"""Rendering: where a post's text is decided (templates, typography, counting, shortening).

``Renderer`` and ``TemplateSet`` are loaded on first use, so code that only counts text
(``bot.rendering.text``, ``bot.rendering.length``) does not import Jinja2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.rendering.render import Renderer, TemplateSet

__all__ = ["Renderer", "TemplateSet"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from bot.rendering import render

        return getattr(render, name)
    raise AttributeError(name)
