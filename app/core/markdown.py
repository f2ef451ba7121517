"""Markdown → safe HTML: raw HTML is never rendered, and the output is sanitized with an allow-list."""

from __future__ import annotations

import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
    "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
ALLOWED_URL_SCHEMES = {"https", "http", "mailto", "tel"}

# js-default: CommonMark with raw HTML off and the unsafe-link validator on (no linkify, no
# typographer: a URL or a quote in plain text stays as it is).
_md = MarkdownIt("js-default")

# One line of plain prose: it starts with a letter (a digit, sign or symbol could open a list, a
# heading, a quote or a code block) and holds only letters, digits, spaces and punctuation that
# CommonMark gives no meaning inside a line (no emphasis, code, link, entity, escape or HTML
# character, and no `"`, which the renderer writes as an entity). Its HTML is one paragraph of the
# text as it is; a test checks that against the full renderer for any such text.
_PLAIN_PROSE = re.compile(r"[A-Za-z][A-Za-z0-9 ,.;:?!'()%/+=-]*")


@lru_cache(maxsize=4096)
def render_markdown(text: str) -> str:
    """Render Markdown and sanitize the result; headings start at h2 (the page owns h1).

    Plain prose, most patient text, skips the parser and the sanitizer (~90 µs of an admin edit)."""
    if _PLAIN_PROSE.fullmatch(text) and not text[-1].isspace():
        return f"<p>{text}</p>"
    return render_full(text)


def render_full(text: str) -> str:
    """`render_markdown` through the parser and the sanitizer, whatever the text."""
    html = _md.render(text).replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    ).strip()
