"""Rendering: where a post's text is decided (templates, typography, counting, shortening)."""

from bot.rendering.render import RenderedPost, Renderer, TemplateSet

__all__ = ["RenderedPost", "Renderer", "TemplateSet"]
