"""Embeddable widgets for clinic portals: `/embed/drugs/{slug}/faqs|side-effects` and `/embed.js`.

The pages carry their own strict Content-Security-Policy (hashed inline style and script,
`frame-ancestors` from settings); a global security-headers layer must leave these routes' CSP and
framing alone. A widget URL that fails answers with the same status, but as a small page of the
same kind (`WidgetRoute`), never as problem+json: the browser would refuse to frame that.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, cast, get_args

from fastapi import Query, Request
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Scope

from app.core.config import Settings
from app.core.deps import SettingsDep
from app.core.errors import problem_responses
from app.core.http import public_json
from app.core.routing import GuardedRouter
from app.delivery.dependencies import Store
from app.delivery.router import DrugNotPublished, SlugPath
from app.delivery.store import PublishedStore, strong_etag
from app.embed import render

HTML_MEDIA_TYPE = "text/html; charset=utf-8"
JS_MEDIA_TYPE = "text/javascript; charset=utf-8"

router = GuardedRouter(tags=["embeds"])

LOCALE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$"
LOCALE_MAX_LENGTH = 35

ThemeParam = Annotated[
    render.Theme,
    Query(description="`light`, `dark`, or `auto` (follows the reader's `prefers-color-scheme`)."),
]
LocaleParam = Annotated[
    str | None,
    Query(
        pattern=LOCALE_PATTERN,
        max_length=LOCALE_MAX_LENGTH,
        description="BCP 47 language tag; content not available in it is served in the default locale.",
    ),
]


def served_locale(requested: str | None, settings: Settings) -> str:
    """The locale the widget is served in.

    Content exists in the default locale only for now, so every request falls back to it; the
    `lang` attribute and `Content-Language` always name the locale actually served.
    """
    return settings.default_locale


def _page_headers(settings: Settings) -> dict[str, str]:
    """What every widget page carries, the widget and its failure notice alike."""
    return {
        "Content-Security-Policy": render.content_security_policy(settings.embed_frame_ancestors),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }


def _widget_response(
    request: Request,
    settings: Settings,
    store: PublishedStore,
    slug: str,
    locale: str,
    theme: render.Theme,
    part: render.Part,
    build: Callable[..., str],
) -> Response:
    base_url = str(request.base_url)
    page_url = str(request.url.replace(query=None))

    def shape(document: dict[str, Any]) -> str:
        return build(
            document,
            base_url=base_url,
            page_url=page_url,
            theme=theme,
            default_locale=settings.default_locale,
        )

    rendered = store.find_rendered(
        slug,
        locale,
        ("embed", part, theme, page_url),
        shape,
        encode=lambda html: html.encode("utf-8"),
        media_type=HTML_MEDIA_TYPE,
    )
    if rendered is None:
        raise DrugNotPublished(f"No published drug with slug {slug!r}.")
    return public_json(
        request,
        settings,
        rendered.body,
        rendered.etag,
        rendered.last_modified,
        content_language=locale,
        media_type=HTML_MEDIA_TYPE,
        extra_headers=_page_headers(settings),
    )


async def _problem_for(request: Request, exc: Exception) -> Response | None:
    """The answer the app's error handlers give `exc` (as Starlette picks the handler), or None.

    Asked rather than repeated here: they set the status and headers (`Retry-After`), classify a
    database error (503, 507 or 500) and log it, as for every other endpoint.
    """
    handlers = request.app.exception_handlers
    handler = handlers.get(exc.status_code) if isinstance(exc, HTTPException) else None
    if handler is None:
        handler = next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)
    if handler is None:
        return None
    if inspect.iscoroutinefunction(handler):
        answer = await handler(request, exc)
    else:
        answer = await run_in_threadpool(handler, request, exc)
    return cast(Response | None, answer)


def _requested_theme(request: Request) -> render.Theme:
    """`?theme=` when it is one of ours (it may be what failed validation), else `auto`."""
    theme = request.query_params.get("theme")
    return cast(render.Theme, theme) if theme in get_args(render.Theme) else "auto"


def _requested_locale(request: Request) -> str | None:
    """`?locale=` when it is a well-formed tag (it may be what failed validation), else None."""
    locale = request.query_params.get("locale")
    if locale is None or len(locale) > LOCALE_MAX_LENGTH or not re.fullmatch(LOCALE_PATTERN, locale):
        return None
    return locale


def _unavailable_response(request: Request, part: render.Part, problem: Response) -> Response:
    settings: Settings = request.app.state.settings
    locale = served_locale(_requested_locale(request), settings)
    page = render.unavailable_page(
        part,
        status=problem.status_code,
        locale=locale,
        theme=_requested_theme(request),
        default_locale=settings.default_locale,
    )
    headers = {
        **_page_headers(settings),
        "Content-Language": locale,
        # Never kept: the drug may be published, or the database back, a moment later.
        "Cache-Control": "no-store",
    }
    if "retry-after" in problem.headers:
        headers["Retry-After"] = problem.headers["retry-after"]
    return HTMLResponse(page, status_code=problem.status_code, headers=headers)


WIDGET_PATH = re.compile(
    r"/embed/drugs/[^/]+/(?P<part>" + "|".join(map(re.escape, get_args(render.Part))) + ")"
)


def widget_refusal(scope: Scope, problem: Response) -> Response | None:
    """A widget URL refused before it is routed (the rate limit, `RateLimitMiddleware`) answers
    with the widget's notice page, as `WidgetRoute` does for its other failures; else None."""
    match = WIDGET_PATH.fullmatch(scope["path"])
    if match is None or scope.get("method") not in ("GET", "HEAD"):
        return None
    return _unavailable_response(Request(scope), cast(render.Part, match["part"]), problem)


class WidgetRoute(APIRoute):
    """A widget page whose failures (404, 400/422 parameters, 503 database) are pages too.

    Inside a portal's iframe a problem+json answer (`frame-ancestors 'none'`, `X-Frame-Options:
    DENY`) is refused, and Chromium draws its error box where the widget should be. Here the app's
    own error handlers still decide the status and headers (and log), and the answer becomes a
    short notice under the widget's policy, which reports its height as a widget does: `embed.js`
    shrinks the frame to it.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        part = self.path.rpartition("/")[2]
        if part not in get_args(render.Part):
            raise ValueError(f"{self.path}: a widget route ends with its part ({get_args(render.Part)})")

        async def handle_or_explain(request: Request) -> Response:
            try:
                return await handle(request)
            except Exception as exc:
                problem = await _problem_for(request, exc)
                if problem is None:
                    raise
                return _unavailable_response(request, cast(render.Part, part), problem)

        return handle_or_explain


def widget_error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`problem_responses`, but the answers are HTML pages (see `WidgetRoute`)."""
    return {
        status: {**documented, "content": {"text/html": {"schema": {"type": "string"}}}}
        for status, documented in problem_responses(*statuses).items()
    }


def widget(path: str, *, summary: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """`router.get` for a widget page, answered by a `WidgetRoute`."""

    def register(endpoint: Callable[..., Response]) -> Callable[..., Response]:
        router.add_api_route(
            path,
            endpoint,
            methods=["GET"],
            response_class=HTMLResponse,
            summary=summary,
            responses=widget_error_responses(400, 404, 422, 429, 503),
            route_class_override=WidgetRoute,
        )
        return endpoint

    return register


@widget("/embed/drugs/{slug}/faqs", summary="Embeddable FAQ widget (HTML page for an iframe)")
def embed_faqs(
    request: Request,
    slug: SlugPath,
    store: Store,
    settings: SettingsDep,
    theme: ThemeParam = "auto",
    locale: LocaleParam = None,
) -> Response:
    """The drug's FAQs as `<details>` elements, readable without JavaScript, with the disclaimer,
    review status and schema.org `FAQPage` JSON-LD. Made to be framed (see `/embed.js`). Errors are
    short HTML notices with the same status and policy, sized like a widget."""
    return _widget_response(
        request, settings, store, slug, served_locale(locale, settings), theme, "faqs", render.faqs_page
    )


@widget(
    "/embed/drugs/{slug}/side-effects", summary="Embeddable side-effects widget (HTML page for an iframe)"
)
def embed_side_effects(
    request: Request,
    slug: SlugPath,
    store: Store,
    settings: SettingsDep,
    theme: ThemeParam = "auto",
    locale: LocaleParam = None,
) -> Response:
    """Common and serious side effects with management tips and when to contact the care team.
    Errors are short HTML notices, as for the FAQ widget."""
    return _widget_response(
        request,
        settings,
        store,
        slug,
        served_locale(locale, settings),
        theme,
        "side-effects",
        render.side_effects_page,
    )


@router.get(
    "/embed.js",
    response_class=Response,
    summary="The embed script portals paste into their pages",
    responses={200: {"content": {"text/javascript": {"schema": {"type": "string"}}}}},
)
def embed_js(request: Request, settings: SettingsDep) -> Response:
    """Turns every `<div data-druginfo="SLUG" data-part="faqs|side-effects">` into a widget iframe
    sized to its content. It adds no global CSS and no globals to the host page."""
    body = render.embed_script()
    return public_json(request, settings, body, strong_etag(body), None, media_type=JS_MEDIA_TYPE)
