"""One worker process for multi-worker tests: runs the given slots (ISO-8601 arguments) for
every configured account, reading the configuration from the environment like the bot."""

from __future__ import annotations

import datetime as dt
import sys

from bot import logs
from bot.app import App
from bot.worker import run_once


def main(argv: list[str]) -> int:
    app = App.load()
    logs.setup(app.settings.log_level, app.settings.log_format)
    try:
        for value in argv:
            run_once(app, app.accounts, dt.datetime.fromisoformat(value))
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
