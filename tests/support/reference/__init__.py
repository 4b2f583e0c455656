"""The text rules as they were before rendering was made fast again (commit 8c80b84): verbatim
copies of bot/rendering/mastodon_text.py, bluesky_text.py, text.py, graphemes.py,
typography.py and shorten.py, importing each other instead of the bot's.
tests/test_rendering_equivalence.py compares the bot with them."""
