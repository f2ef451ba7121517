"""The widget in real headless Chromium (Debian's package), embedded by a portal on another origin.

The app runs under uvicorn on 127.0.0.1; two "portal" pages are served from 127.0.0.2 on two ports
(two origins): A is allowed by `frame-ancestors`, B is not. Skipped, with the reason, when Chromium
or Playwright is missing, unless DRUGINFO_REQUIRE_BROWSER=1 (CI), where that fails the run.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.cli import DEFAULT_SEED, migrate_database, seed_database
from app.core.config import Settings
from app.main import create_app
from tests.factories import import_into
from tests.interop.bundles import XSS_FLAG, xss_bundle

pytestmark = pytest.mark.browser

REQUIRE_BROWSER = os.environ.get("DRUGINFO_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
SEED = json.loads(DEFAULT_SEED.read_text())
QUESTIONS = [f["question"] for f in next(d for d in SEED["drugs"] if d["slug"] == "pomalidomide")["faqs"]]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APP_HOST, PORTAL_HOST = "127.0.0.1", "127.0.0.2"


def _unavailable() -> str | None:
    if shutil.which("chromium") is None:
        return "Debian chromium is not installed (apt-get install chromium chromium-driver)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (Python) is not installed"
    return None


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    reason = _unavailable()
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(f"{reason} (DRUGINFO_REQUIRE_BROWSER=1)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _portal_page(app_origin: str, slug: str, part: str, theme: str | None) -> str:
    """A host page with its own styles, a link before the widget (Tab order) and the snippet."""
    theme_attr = f' data-theme="{theme}"' if theme else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test portal</title>
<style>body {{ font-family: Georgia, serif; color: rgb(10, 20, 30); margin: 24px; width: 640px; }}</style>
</head><body>
<h1>Test clinic portal</h1>
<a id="before" href="#top">Portal link before the widget</a>
<div id="widget" data-druginfo="{slug}" data-part="{part}"{theme_attr}></div>
<script src="{app_origin}/embed.js" async></script>
</body></html>"""


class _PortalHandler(http.server.BaseHTTPRequestHandler):
    pages: dict[str, str] = {}

    def do_GET(self) -> None:
        body = self.pages.get(self.path.split("?")[0])
        if body is None:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Servers:
    app: str
    portal_allowed: str
    portal_blocked: str


@contextlib.contextmanager
def _serve_portal(port: int, pages: dict[str, str]) -> Iterator[None]:
    handler = type("Handler", (_PortalHandler,), {"pages": pages})
    server = http.server.ThreadingHTTPServer((PORTAL_HOST, port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def servers(chromium: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    import uvicorn

    app_port, allowed_port, blocked_port = (
        _free_port(APP_HOST),
        _free_port(PORTAL_HOST),
        _free_port(PORTAL_HOST),
    )
    app_origin = f"http://{APP_HOST}:{app_port}"
    allowed = f"http://{PORTAL_HOST}:{allowed_port}"
    database = tmp_path_factory.mktemp("browser") / "druginfo.db"
    settings = Settings(database_url=f"sqlite:///{database}", embed_frame_ancestors=[allowed])
    migrate_database(settings)
    seed_database(settings, DEFAULT_SEED)
    import_into(settings, xss_bundle())

    pages = {
        "/faqs.html": _portal_page(app_origin, "pomalidomide", "faqs", "light"),
        "/faqs-auto.html": _portal_page(app_origin, "pomalidomide", "faqs", None),
        "/side-effects.html": _portal_page(app_origin, "pomalidomide", "side-effects", "light"),
        "/xss.html": _portal_page(app_origin, "testdrug-xss", "faqs", None),
        "/xss-side-effects.html": _portal_page(app_origin, "testdrug-xss", "side-effects", None),
        "/unknown.html": _portal_page(app_origin, "no-such-drug", "faqs", None),
        # Too long for a slug (422), which embed.js does not check.
        "/bad-slug.html": _portal_page(app_origin, "a" * 101, "side-effects", "dark"),
    }
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host=APP_HOST, port=app_port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    with _serve_portal(allowed_port, pages), _serve_portal(blocked_port, pages):
        yield Servers(
            app=app_origin, portal_allowed=allowed, portal_blocked=f"http://{PORTAL_HOST}:{blocked_port}"
        )
    server.should_exit = True
    thread.join(timeout=10)


@dataclass
class Portal:
    page: Any
    dialogs: list[str]

    @property
    def iframe(self) -> Any:
        return self.page.locator("#widget iframe")

    @property
    def frame(self) -> Any:
        return self.iframe.element_handle().content_frame()

    def iframe_height(self) -> float:
        return float(self.iframe.evaluate("f => f.getBoundingClientRect().height"))

    def content_height(self) -> float:
        return float(self.frame.evaluate("() => document.documentElement.scrollHeight"))

    def wait_for_fit(self) -> None:
        """Until the iframe is as tall as its document (the resize message has been applied)."""
        deadline = time.monotonic() + 10
        while abs(self.iframe_height() - self.content_height()) > 2:
            assert time.monotonic() < deadline, (self.iframe_height(), self.content_height())
            time.sleep(0.05)


@pytest.fixture
def open_portal(chromium: Any, servers: Servers) -> Iterator[Any]:
    contexts = []

    def open_(path: str, *, origin: str | None = None, color_scheme: str = "light") -> Portal:
        context = chromium.new_context(viewport={"width": 800, "height": 900}, color_scheme=color_scheme)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        dialogs: list[str] = []

        def on_dialog(dialog: Any) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto((origin or servers.portal_allowed) + path)
        page.wait_for_selector("#widget iframe", state="attached")
        return Portal(page, dialogs)

    yield open_
    for context in contexts:
        context.close()


def _navigated(portal: Portal) -> Any:
    """The widget's frame once it has left `about:blank` (for its page, or for Chromium's error page)."""
    deadline = time.monotonic() + 10
    while (frame := portal.frame) is None or frame.url in ("", "about:blank"):
        assert time.monotonic() < deadline, "the frame never navigated"
        time.sleep(0.05)
    frame.wait_for_load_state()
    return frame


def _summaries(portal: Portal) -> Any:
    portal.frame.wait_for_selector("summary")
    return portal.frame.locator("summary")


def test_portal_shows_the_six_questions_sized_to_fit_without_touching_its_styles(open_portal: Any) -> None:
    portal = open_portal("/faqs.html")

    summaries = _summaries(portal)
    assert summaries.all_inner_texts() == QUESTIONS
    portal.wait_for_fit()
    assert portal.iframe.get_attribute("title") == "Pomalidomide: questions and answers"
    assert portal.frame.evaluate("() => document.documentElement.lang") == "en"
    host = portal.page.evaluate(
        """() => ({
            sheets: document.styleSheets.length,
            styles: document.querySelectorAll('style, link[rel=stylesheet]').length,
            font: getComputedStyle(document.body).fontFamily,
            color: getComputedStyle(document.body).color,
            added: [...document.getElementById('widget').children].map(e => e.tagName),
            globals: Object.keys(window).filter(k => k.toLowerCase().includes('druginfo')),
        })"""
    )
    assert host == {
        "sheets": 1,
        "styles": 1,
        "font": "Georgia, serif",
        "color": "rgb(10, 20, 30)",
        "added": ["IFRAME"],
        "globals": [],
    }
    ARTIFACTS.mkdir(exist_ok=True)
    summaries.nth(0).click()
    portal.wait_for_fit()
    portal.page.screenshot(path=str(ARTIFACTS / "embed-faqs.png"), full_page=True)


def test_a_question_expands_on_click_and_the_frame_grows(open_portal: Any) -> None:
    portal = open_portal("/faqs.html")
    summaries = _summaries(portal)
    portal.wait_for_fit()
    collapsed = portal.iframe_height()

    summaries.nth(1).click()

    assert portal.frame.locator("details").nth(1).evaluate("d => d.open")
    assert portal.frame.locator("details").nth(1).locator(".content").is_visible()
    portal.wait_for_fit()
    expanded = portal.iframe_height()
    assert expanded > collapsed + 20
    # Collapsing shrinks it back.
    summaries.nth(1).click()
    portal.wait_for_fit()
    assert abs(portal.iframe_height() - collapsed) <= 2


def test_questions_open_from_the_keyboard_with_visible_focus(open_portal: Any) -> None:
    portal = open_portal("/faqs.html")
    _summaries(portal)
    portal.wait_for_fit()
    portal.page.focus("#before")

    portal.page.keyboard.press("Tab")  # from the portal's link into the widget's first question
    focused = portal.frame.evaluate("() => document.activeElement.textContent")
    assert focused == QUESTIONS[0]
    outline = portal.frame.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert outline[0] != "none" and outline[1] != "0px", "keyboard focus is visible"
    portal.page.keyboard.press("Enter")
    portal.page.keyboard.press("Tab")
    assert portal.frame.evaluate("() => document.activeElement.textContent") == QUESTIONS[1]
    portal.page.keyboard.press("Space")

    opened = portal.frame.locator("details").evaluate_all("ds => ds.map(d => d.open)")
    assert opened[:3] == [True, True, False]
    portal.wait_for_fit()


def test_side_effects_widget_renders_in_the_portal(open_portal: Any) -> None:
    portal = open_portal("/side-effects.html")
    _summaries(portal)

    headings = portal.frame.locator("h2").all_inner_texts()
    assert headings[:2] == ["Common side effects", "Serious side effects"]
    portal.wait_for_fit()


def test_auto_theme_follows_a_dark_reader(open_portal: Any) -> None:
    portal = open_portal("/faqs-auto.html", color_scheme="dark")
    _summaries(portal)

    background = portal.frame.evaluate("() => getComputedStyle(document.documentElement).backgroundColor")
    channels = [int(c) for c in background.removeprefix("rgb(").removesuffix(")").split(",")[:3]]
    assert sum(channels) / 3 < 80, background
    ARTIFACTS.mkdir(exist_ok=True)
    portal.page.screenshot(path=str(ARTIFACTS / "embed-faqs-dark.png"), full_page=True)


@pytest.mark.parametrize("path", ["/xss.html", "/xss-side-effects.html"])
def test_stored_xss_does_not_execute(open_portal: Any, path: str) -> None:
    portal = open_portal(path)
    summaries = _summaries(portal)
    for i in range(summaries.count()):
        summaries.nth(i).click()
    for link in portal.frame.locator("a").all():
        with contextlib.suppress(Exception):
            link.click(timeout=1000)
    portal.page.wait_for_timeout(300)

    assert portal.frame.evaluate(f"() => window.{XSS_FLAG} === undefined")
    assert portal.page.evaluate(f"() => window.{XSS_FLAG} === undefined")
    assert portal.dialogs == []
    assert portal.frame.locator("img, svg").count() == 0
    assert "<script>" in portal.frame.locator("details").first.inner_text()


def test_frame_ancestors_blocks_a_portal_that_is_not_allowed(open_portal: Any, servers: Servers) -> None:
    blocked = open_portal("/faqs.html", origin=servers.portal_blocked)

    # Chromium replaces a frame refused by frame-ancestors with its own error page.
    deadline = time.monotonic() + 10
    while not ((frame := blocked.frame) is not None and frame.url.startswith("chrome-error://")):
        assert time.monotonic() < deadline, frame.url if frame else "no frame"
        time.sleep(0.05)
    assert frame.locator("summary").count() == 0
    assert blocked.iframe_height() == 240, "no resize message ever came"


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("/unknown.html", "Questions and answers: not available"),
        ("/bad-slug.html", "Side effects: not available"),
    ],
)
def test_a_widget_that_cannot_be_served_shows_a_small_notice(open_portal: Any, path: str, title: str) -> None:
    portal = open_portal(path)

    frame = _navigated(portal)
    assert not frame.url.startswith("chrome-error://"), "Chromium refused the frame"
    assert frame.locator("h1").inner_text() == title
    assert frame.locator("main p").inner_text() == "This information is not available."
    # The notice reports its height as a widget does: the frame shrinks from its 240 px placeholder.
    portal.wait_for_fit()
    assert portal.iframe_height() < 160, portal.iframe_height()
    assert portal.iframe.get_attribute("title") == title
    host = portal.page.evaluate(
        """() => ({
            heading: document.querySelector('h1').textContent,
            font: getComputedStyle(document.body).fontFamily,
            added: [...document.getElementById('widget').children].map(e => e.tagName),
        })"""
    )
    assert host == {"heading": "Test clinic portal", "font": "Georgia, serif", "added": ["IFRAME"]}
    assert portal.dialogs == []
    ARTIFACTS.mkdir(exist_ok=True)
    portal.page.screenshot(path=str(ARTIFACTS / f"embed-unavailable-{Path(path).stem}.png"), full_page=True)
