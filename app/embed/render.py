"""The embeddable widgets as small self-contained HTML pages, built from a published document.

Plain strings with `html.escape` (no template engine needed for two pages). Markdown-derived HTML
(`answer_html`, `description_html`) was sanitized with the allow-list when the document was
rendered, so it is inserted as is; every other text is escaped here.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path
from typing import Any, Literal

from app.schemaorg import jsonld

ASSETS = Path(__file__).parent / "assets"
Theme = Literal["auto", "light", "dark"]
Part = Literal["faqs", "side-effects"]

# Interface text per locale; content locales fall back to the default one, and so do these.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "faqs_title": "{name}: questions and answers",
        "side_effects_title": "{name}: side effects",
        "no_faqs": "No questions and answers have been published for this medicine yet.",
        "no_side_effects": "No side effects have been published for this medicine yet.",
        "common": "Common side effects",
        "serious": "Serious side effects",
        "serious_badge": "Serious",
        "tips": "What can help",
        "contact": "When to contact your care team",
        "urgency": "Urgency",
        "self-care": "Self-care",
        "contact-care-team": "Contact your care team",
        "emergency": "Emergency",
        "about": "About this information",
        "reviewed": "Medically reviewed by {by} on {date}.",
        "reviewed_no_date": "Medically reviewed by {by}.",
        "not_reviewed": "This information has not been reviewed by a medical reviewer.",
        "overdue": "A new review of this information is overdue.",
        "updated": "Last updated {date}.",
        # The parts by their `Part` names, and the notice a widget URL shows when it cannot be served.
        "faqs": "Questions and answers",
        "side-effects": "Side effects",
        "unavailable_title": "{part}: not available",
        "unavailable": "This information is not available.",
        "unavailable_for_now": "This information is not available right now. Please try again later.",
    }
}


@dataclass(frozen=True, slots=True)
class Asset:
    text: str
    csp_hash: str


def _asset(name: str) -> Asset:
    text = (ASSETS / name).read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
    return Asset(text=text, csp_hash=f"'sha256-{digest}'")


@cache
def stylesheet() -> Asset:
    return _asset("widget.css")


@cache
def resize_script() -> Asset:
    return _asset("resize.js")


@cache
def embed_script() -> bytes:
    return (ASSETS / "embed.js").read_bytes()


def content_security_policy(frame_ancestors: list[str]) -> str:
    """Nothing may load or run but our one inline stylesheet and one inline script (by hash)."""
    return "; ".join(
        [
            "default-src 'none'",
            f"style-src {stylesheet().csp_hash}",
            f"script-src {resize_script().csp_hash}",
            "img-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            f"frame-ancestors {' '.join(frame_ancestors)}",
        ]
    )


def labels_for(locale: str, default_locale: str) -> dict[str, str]:
    return LABELS.get(locale) or LABELS.get(default_locale) or LABELS["en"]


def _date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return str(value)


def _footer(document: dict[str, Any], labels: dict[str, str]) -> str:
    review = document["review"]
    if review["status"] == "reviewed":
        key = "reviewed" if review.get("last_reviewed") else "reviewed_no_date"
        review_line = labels[key].format(
            by=escape(review["reviewed_by"]),
            date=f'<time datetime="{escape(review["last_reviewed"] or "")}">'
            f"{escape(review['last_reviewed'] or '')}</time>",
        )
    else:
        review_line = escape(labels["not_reviewed"])
    lines = [f'<p class="review">{review_line}</p>']
    if review.get("overdue"):
        lines.append(f"<p>{escape(labels['overdue'])}</p>")
    if review.get("note"):
        lines.append(f"<p>{escape(review['note'])}</p>")
    if document["disclaimer"]:
        lines.append(f'<p class="disclaimer">{escape(document["disclaimer"])}</p>')
    updated = _date(document["updated_at"])
    lines.append(
        "<p>"
        + labels["updated"].format(date=f'<time datetime="{escape(updated)}">{escape(updated)}</time>')
        + "</p>"
    )
    return (
        '<footer aria-labelledby="about-heading">'
        f'<h2 id="about-heading">{escape(labels["about"])}</h2>' + "".join(lines) + "</footer>"
    )


def _page(
    *,
    locale: str,
    theme: Theme,
    title: str,
    main: str,
    structured_data: dict[str, Any] | None = None,
    footer: str = "",
) -> str:
    color_scheme = {"auto": "light dark", "light": "light", "dark": "dark"}[theme]
    json_ld = (
        f'<script type="application/ld+json">{jsonld.script_json(structured_data)}</script>\n'
        if structured_data is not None
        else ""
    )
    after_main = f"{footer}\n" if footer else ""
    return (
        "<!doctype html>\n"
        f'<html lang="{escape(locale)}" data-theme="{theme}">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="color-scheme" content="{color_scheme}">\n'
        '<meta name="referrer" content="strict-origin-when-cross-origin">\n'
        f"<title>{escape(title)}</title>\n"
        # Links in answers open outside the small frame.
        '<base target="_blank">\n'
        f"<style>{stylesheet().text}</style>\n"
        f"{json_ld}"
        "</head>\n"
        "<body>\n"
        f"<main>\n<h1>{escape(title)}</h1>\n{main}\n</main>\n"
        f"{after_main}"
        f"<script>{resize_script().text}</script>\n"
        "</body>\n"
        "</html>\n"
    )


def faqs_page(
    document: dict[str, Any], *, base_url: str, page_url: str, theme: Theme, default_locale: str
) -> str:
    labels = labels_for(document["locale"], default_locale)
    title = labels["faqs_title"].format(name=document["name"])
    items = [
        "<details>"
        f"<summary>{escape(faq['question'])}</summary>"
        f'<div class="content">{faq["answer_html"]}</div>'
        "</details>"
        for faq in document["faqs"]
    ]
    main = "\n".join(items) if items else f"<p>{escape(labels['no_faqs'])}</p>"
    structured = {
        "@context": jsonld.CONTEXT,
        **jsonld.faq_page(base_url, document, page_id=page_url, url=page_url),
    }
    structured["about"] = {
        "@id": jsonld.drug_id(base_url, document),
        "@type": "Drug",
        "name": document["name"],
    }
    return _page(
        locale=document["locale"],
        theme=theme,
        title=title,
        structured_data=structured,
        main=main,
        footer=_footer(document, labels),
    )


def _side_effect(effect: dict[str, Any], labels: dict[str, str]) -> str:
    parts: list[str] = []
    if effect["description_html"]:
        parts.append(effect["description_html"])
    if effect["management_tips"]:
        tips = "".join(f"<li>{escape(tip)}</li>" for tip in effect["management_tips"])
        parts.append(f"<h3>{escape(labels['tips'])}</h3><ul>{tips}</ul>")
    if effect["when_to_contact_care_team"]:
        parts.append(
            f"<h3>{escape(labels['contact'])}</h3><p>{escape(effect['when_to_contact_care_team'])}</p>"
        )
    if effect["urgency"]:
        parts.append(
            f'<p><span class="label">{escape(labels["urgency"])}:</span> '
            f"{escape(labels.get(effect['urgency'], effect['urgency']))}</p>"
        )
    badge = (
        f' <span class="serious">({escape(labels["serious_badge"])})</span>'
        if effect["seriousness"] == "serious"
        else ""
    )
    return (
        "<details>"
        f"<summary>{escape(effect['name'])}{badge}</summary>"
        f'<div class="content">{"".join(parts)}</div>'
        "</details>"
    )


def side_effects_page(
    document: dict[str, Any], *, base_url: str, page_url: str, theme: Theme, default_locale: str
) -> str:
    labels = labels_for(document["locale"], default_locale)
    title = labels["side_effects_title"].format(name=document["name"])
    sections = []
    for seriousness in ("common", "serious"):
        effects = [e for e in document["side_effects"] if e["seriousness"] == seriousness]
        if effects:
            heading_id = f"{seriousness}-heading"
            body = "\n".join(_side_effect(e, labels) for e in effects)
            sections.append(
                f'<section aria-labelledby="{heading_id}">'
                f'<h2 id="{heading_id}">{escape(labels[seriousness])}</h2>\n{body}</section>'
            )
    main = "\n".join(sections) if sections else f"<p>{escape(labels['no_side_effects'])}</p>"
    therapy = jsonld.therapy_node(base_url, document)
    therapy.pop("indication", None)
    structured = {
        "@context": jsonld.CONTEXT,
        "@id": page_url,
        "@type": "MedicalWebPage",
        "url": page_url,
        "name": title,
        "inLanguage": document["locale"],
        "about": {"@id": jsonld.drug_id(base_url, document), "@type": "Drug", "name": document["name"]},
        "mainEntity": therapy,
        **jsonld.review_properties(document),
    }
    return _page(
        locale=document["locale"],
        theme=theme,
        title=title,
        structured_data=structured,
        main=main,
        footer=_footer(document, labels),
    )


def unavailable_page(part: Part, *, status: int, locale: str, theme: Theme, default_locale: str) -> str:
    """The page a widget URL answers when it cannot show the widget: a short notice, no details.

    It runs the widgets' resize script under the same policy, so `embed.js` shrinks the frame to the
    notice. Nothing from the request is shown (the slug, the query): only the part and the status
    class, both chosen here.
    """
    labels = labels_for(locale, default_locale)
    # A refusal for now (too many requests, the database down) says to try again later.
    notice = labels["unavailable_for_now"] if status >= 500 or status == 429 else labels["unavailable"]
    return _page(
        locale=locale,
        theme=theme,
        title=labels["unavailable_title"].format(part=labels[part]),
        main=f"<p>{escape(notice)}</p>",
    )
