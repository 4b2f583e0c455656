"""The status page as an ASGI application (Starlette): overview, upcoming posts, history,
dataset, ``/healthz``, and the page's own style sheet and pictures. Read-only: every page reads
the configuration, the dataset and the state database, and nothing here can post.

Each request opens its own connection to the state database (pages run in Starlette's thread
pool), so a slow page never holds up another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot.app import App
from bot.errors import StateError
from bot.health import health_of
from bot.logs import mask, register_secret
from bot.web import pages
from bot.web.posts import Pictures, safe_href
from bot.web.security import Guard

HERE = Path(__file__).parent
STATIC = HERE / "static"
STATIC_FILES = {"style.css": "text/css", "favicon.svg": "image/svg+xml"}
NAV = [("overview", "", "Overview"), ("upcoming", "upcoming", "Upcoming posts")]
NAV += [("history", "history", "History"), ("dataset", "dataset", "Dataset")]
NAV += [("engagement", "engagement", "Engagement")]


class StatusPage:
    """The pages of one bot configuration."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.pictures = Pictures()
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
            finalize=_masked,  # every printed value, before it is escaped
        )

    @contextmanager
    def store(self) -> Iterator[Any]:
        with self.app.open_store() as store:
            yield store

    def render(self, request: Request, name: str, status: int = 200, **values: Any) -> Response:
        page = self.templates.get_template(f"{name}.html")
        html = page.render(
            page=name,
            nav=NAV,
            root=request.scope.get("root_path", "") + "/",
            timezone=self.app.settings.timezone,
            open_to_all=self.app.settings.web_password is not None,
            **values,
        )
        return HTMLResponse(html, status_code=status)

    # -- pages ----------------------------------------------------------------------------------

    def overview(self, request: Request) -> Response:
        with self.store() as store:
            rows = pages.overview(self.app, store)
            alerts = store.open_alerts()
        return self.render(
            request,
            "overview",
            rows=rows,
            alerts=alerts,
            alerts_on=self.app.settings.alert_urls is not None,
            local=lambda stamp: pages.local(self.app, stamp),
        )

    def upcoming(self, request: Request) -> Response:
        try:
            count = max(1, min(10, int(request.query_params.get("n", "3"))))
        except ValueError:
            count = 3
        with self.store() as store:
            accounts = pages.upcoming(self.app, store, self.pictures, count)
        return self.render(request, "upcoming", accounts=accounts, count=count)

    def history(self, request: Request) -> Response:
        params = dict(request.query_params)
        with self.store() as store:
            page = pages.history(self.app, store, params)
        return self.render(
            request,
            "history",
            history=page,
            choices=pages.filters(self.app),
            local=lambda stamp: pages.local(self.app, stamp),
            safe_href=safe_href,
        )

    def dataset(self, request: Request) -> Response:
        dry_run = pages.showing_dry_run(self.app, request.query_params.get("dry"))
        with self.store() as store:
            rows = pages.dataset(self.app, store, dry_run)
        return self.render(
            request,
            "dataset",
            rows=rows,
            dry_run=dry_run,
            local=lambda stamp: pages.local(self.app, stamp),
        )

    def engagement(self, request: Request) -> Response:
        from bot.web import engagement

        days = engagement.period(self.app, request.query_params.get("days"))
        with self.store() as store:
            data = engagement.engagement(self.app, store, days)
        return self.render(
            request,
            "engagement",
            data=data,
            charts=engagement.CHARTS,
            titles=engagement.TITLES,
            dry_run_only=all(a.dry_run for a in self.app.accounts),
            local=lambda stamp: pages.local(self.app, stamp),
            safe_href=safe_href,
        )

    def engagement_chart(self, request: Request) -> Response:
        from bot.web import engagement

        days = engagement.period(self.app, request.query_params.get("days"))
        with self.store() as store:
            png = engagement.chart(self.app, store, request.path_params["name"], days)
        if png is None:
            return self.not_found(request)
        return Response(png, media_type="image/png")

    # -- health, files ------------------------------------------------------------------------

    def healthz(self, request: Request) -> Response:
        code, body = health_of(self.app)
        return JSONResponse(body, status_code=code)

    def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return self.not_found(request)
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name])

    def picture(self, request: Request) -> Response:
        from bot.cards import ensure

        picture = self.pictures.get(request.path_params["key"])
        if picture is None:
            return self.not_found(request)
        path = Path(picture.file)
        if not picture.card:  # the item's own picture, in the data folder
            path = self.app.settings.data_dir / picture.file
            if not path.resolve().is_relative_to(self.app.settings.data_dir.resolve()):
                return self.not_found(request)
        try:
            path = ensure(picture) if picture.card else path
        except (OSError, ValueError):
            return self.not_found(request)
        if not path.is_file():
            return self.not_found(request)
        return FileResponse(path)

    async def missing(self, request: Request, exc: Exception) -> Response:
        return self.not_found(request)

    def not_found(self, request: Request) -> Response:
        return self.render(request, "message", 404, title="Not found", text="No such page.")


def _masked(value: Any) -> Any:
    """No registered secret (tokens, passwords, ALERT_URLS) is ever printed on a page."""
    return mask(value) if isinstance(value, str) else value


def _handled(view: Callable[[Request], Response], page: StatusPage) -> Callable[..., Response]:
    def endpoint(request: Request) -> Response:
        try:
            return view(request)
        except StateError as exc:
            return page.render(
                request,
                "message",
                503,
                title="The state database cannot be read",
                text=mask(str(exc)),
            )

    return endpoint


def create_app(app: App) -> Starlette:
    """The status page of ``app``'s configuration, with its login and security headers."""
    for secret in (app.settings.web_password, app.settings.alert_urls):
        register_secret(secret.get_secret_value() if secret else None)
    page = StatusPage(app)
    routes = [
        Route("/", _handled(page.overview, page)),
        Route("/upcoming", _handled(page.upcoming, page)),
        Route("/history", _handled(page.history, page)),
        Route("/dataset", _handled(page.dataset, page)),
        Route("/engagement", _handled(page.engagement, page)),
        Route("/engagement/chart/{name}.png", _handled(page.engagement_chart, page)),
        Route("/healthz", page.healthz),
        Route("/static/{name}", page.static),
        Route("/favicon.ico", lambda request: FileResponse(STATIC / "favicon.svg")),
        Route("/picture/{key}", page.picture),
    ]
    web = Starlette(routes=routes, exception_handlers={404: page.missing})
    password = app.settings.web_password
    web.add_middleware(
        Guard,
        user=app.settings.web_user,
        password=password.get_secret_value() if password else None,
    )
    return web
