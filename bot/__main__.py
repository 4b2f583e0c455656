"""``python -m bot``: the same as the ``leavex-bot`` command."""

from bot.cli import main

main()
