"""``leavex-bot web``: serve the status page with uvicorn (a production ASGI server); and
``leavex-bot health``, the same health document as ``GET /healthz`` (``bot/health.py``).

It listens on ``$PORT`` (default 8000). Without ``WEB_PASSWORD`` it listens on 127.0.0.1 only
(this computer) and says so; it refuses another interface without a password. With one, it
listens on every interface (as hosting platforms need) behind an HTTP Basic login.
"""

from __future__ import annotations

import click

from bot.errors import ConfigError, Problem


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def choose_host(host: str | None, has_password: bool) -> str:
    """Where to listen: as asked, else every interface with a password, loopback without."""
    if host is None:
        return "0.0.0.0" if has_password else "127.0.0.1"  # noqa: S104 -- behind a login
    if not has_password and not is_loopback(host):
        raise ConfigError(
            [
                Problem(
                    "--host",
                    f"{host} would open the status page to other computers without a login:"
                    " set WEB_PASSWORD first (or leave out --host to stay on 127.0.0.1)",
                )
            ]
        )
    return host


@click.command()
@click.option("--host", default=None, help="Interface to listen on (default: see above).")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="Port (default: $PORT or 8000)."
)
@click.pass_context
def web(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the read-only status page: overview, upcoming posts, history, dataset, /healthz.

    Without WEB_PASSWORD it is open to this computer only (127.0.0.1); with it, to every
    interface behind a login (user WEB_USER, default admin).
    """
    from bot.cli import handles_errors, load_app

    @handles_errors
    def run() -> None:
        app = load_app(ctx)
        password = app.settings.web_password
        from bot.logs import register_secret

        if password is not None:
            register_secret(password.get_secret_value())
        if app.settings.alert_urls is not None:
            register_secret(app.settings.alert_urls.get_secret_value())
        chosen = choose_host(host, password is not None)
        chosen_port = port or app.settings.port
        shown = "127.0.0.1" if chosen == "0.0.0.0" else chosen  # noqa: S104
        click.echo(f"Status page: http://{shown}:{chosen_port}/", err=True)
        if password is None:
            click.echo(
                "No WEB_PASSWORD is set: only this computer can open the page (127.0.0.1).",
                err=True,
            )
        else:
            click.echo(
                f"Log in as {app.settings.web_user!r} with WEB_PASSWORD (listening on {chosen}).",
                err=True,
            )
        serve(app, chosen, chosen_port)

    run()


def serve(app: object, host: str, port: int) -> None:
    import uvicorn

    from bot.app import App
    from bot.web.app import create_app

    assert isinstance(app, App)
    uvicorn.run(
        create_app(app),
        host=host,
        port=port,
        log_config=None,  # our log lines (bot.logs), not uvicorn's own format
        server_header=False,
        timeout_graceful_shutdown=10,
    )


@click.command()
@click.pass_context
def health(ctx: click.Context) -> None:
    """Print each account's health as JSON (as GET /healthz does); exit 0 when every
    account's latest due slot is posted or still being posted, else 1."""
    from bot.cli import handles_errors, load_app

    @handles_errors
    def run() -> None:
        import json
        import sys

        from bot.health import health_of

        app = load_app(ctx)
        code, body = health_of(app)
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        sys.exit(0 if code == 200 else 1)

    run()
