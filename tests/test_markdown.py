"""Markdown → HTML: plain prose takes a short cut, which must give what the full renderer gives."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.markdown import render_full, render_markdown

# Every character the short cut accepts, and the Markdown characters next to them.
PROSE = string.ascii_letters + string.digits + " ,.;:?!'()%/+=-"
MARKDOWN = PROSE + '*_`[]<>&"\\#~|\n\t'


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("Take it with food.", "<p>Take it with food.</p>"),
        ("Call your doctor if it's 38.5 C (101.3 F) or higher: don't wait!", None),
        ("See https://example.org/a?b=1 - not a link", "<p>See https://example.org/a?b=1 - not a link</p>"),
        ("Take *one* capsule", "<p>Take <em>one</em> capsule</p>"),
        ("1. First", "<ol>\n<li>First</li>\n</ol>"),
        ("- a", "<ul>\n<li>a</li>\n</ul>"),
        ("# Title", "<h2>Title</h2>"),
        ("a & b <script>", "<p>a &amp; b &lt;script&gt;</p>"),
        ('say "hi"', '<p>say "hi"</p>'),
        ("one  \ntwo", "<p>one<br>\ntwo</p>"),
        ("ends with a space ", "<p>ends with a space</p>"),
    ],
)
def test_rendering(text: str, html: str | None) -> None:
    assert render_markdown(text) == render_full(text)
    if html is not None:
        assert render_markdown(text) == html


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=PROSE, min_size=1, max_size=120))
def test_plain_prose_renders_as_the_full_renderer_does(text: str) -> None:
    assert render_markdown(text) == render_full(text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=MARKDOWN, min_size=1, max_size=60))
def test_any_text_renders_as_the_full_renderer_does(text: str) -> None:
    assert render_markdown(text) == render_full(text)
