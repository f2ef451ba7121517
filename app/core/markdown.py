"""Markdown → safe HTML: raw HTML is never rendered, and the output is sanitized with an allow-list."""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
    "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
ALLOWED_URL_SCHEMES = {"https", "http", "mailto", "tel"}

# js-default: CommonMark with raw HTML off and the unsafe-link validator on.
_md = MarkdownIt("js-default")


@lru_cache(maxsize=4096)
def render_markdown(text: str) -> str:
    """Render Markdown and sanitize the result; headings start at h2 (the page owns h1)."""
    html = _md.render(text).replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    ).strip()
