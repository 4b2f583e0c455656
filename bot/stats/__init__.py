"""Engagement: what people did with the bot's posts (likes, reposts, replies, quotes), read
back from Mastodon and Bluesky and kept as snapshots in the state database.

``refresh.py``  reads the counts of the posts of a period, account by account, and stores them
``job.py``      when: the worker's ``STATS_SCHEDULE`` and ``leavex-bot stats``, each claimed in
                the database so that several workers never refresh twice
``report.py``   the stored counts per post, summed by item, language, platform or account, and
                over time
``command.py``  ``leavex-bot stats``
``charts.py``   the engagement page's charts (matplotlib)

The platform calls are in ``bot/publishing`` (``engagement.py`` and its readers).
"""
