"""Embeddable widgets for clinic portals: `/embed/drugs/{slug}/faqs|side-effects` and `/embed.js`.

The pages carry their own strict Content-Security-Policy (hashed inline style and script,
`frame-ancestors` from settings); a global security-headers layer must leave these routes' CSP and
framing alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

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

ThemeParam = Annotated[
    render.Theme,
    Query(description="`light`, `dark`, or `auto` (follows the reader's `prefers-color-scheme`)."),
]
LocaleParam = Annotated[
    str | None,
    Query(
        pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$",
        max_length=35,
        description="BCP 47 language tag; content not available in it is served in the default locale.",
    ),
]


def served_locale(requested: str | None, settings: Settings) -> str:
    """The locale the widget is served in.

    Content exists in the default locale only for now, so every request falls back to it; the
    `lang` attribute and `Content-Language` always name the locale actually served.
    """
    return settings.default_locale


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
        extra_headers={
            "Content-Security-Policy": render.content_security_policy(settings.embed_frame_ancestors),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "strict-origin-when-cross-origin",
        },
    )


@router.get(
    "/embed/drugs/{slug}/faqs",
    response_class=HTMLResponse,
    summary="Embeddable FAQ widget (HTML page for an iframe)",
    responses=problem_responses(400, 404, 422),
)
def embed_faqs(
    request: Request,
    slug: SlugPath,
    store: Store,
    settings: SettingsDep,
    theme: ThemeParam = "auto",
    locale: LocaleParam = None,
) -> Response:
    """The drug's FAQs as `<details>` elements, readable without JavaScript, with the disclaimer,
    review status and schema.org `FAQPage` JSON-LD. Made to be framed (see `/embed.js`)."""
    return _widget_response(
        request, settings, store, slug, served_locale(locale, settings), theme, "faqs", render.faqs_page
    )


@router.get(
    "/embed/drugs/{slug}/side-effects",
    response_class=HTMLResponse,
    summary="Embeddable side-effects widget (HTML page for an iframe)",
    responses=problem_responses(400, 404, 422),
)
def embed_side_effects(
    request: Request,
    slug: SlugPath,
    store: Store,
    settings: SettingsDep,
    theme: ThemeParam = "auto",
    locale: LocaleParam = None,
) -> Response:
    """Common and serious side effects with management tips and when to contact the care team."""
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
