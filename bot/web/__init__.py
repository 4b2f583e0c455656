"""The status page (``leavex-bot web``): what the bot does, for the people who run it.

``app.py`` is the ASGI application (Starlette) and its routes, ``pages.py`` what each page
shows, ``posts.py`` an upcoming post as followers will see it, ``security.py`` the login and
the security headers, ``command.py`` the command that serves it with uvicorn. Templates and the
style sheet are in ``templates/`` and ``static/``; the page loads nothing from anywhere else.
Read-only: it reads the configuration, the dataset and the state database, and cannot post.
"""
