"""The Infobutton knowledge response: an Atom feed, as JSON (MedlinePlus Connect's shape) or XML.

MedlinePlus Connect answers the HL7 URL-based Infobutton request with an Atom feed; its JSON
rendering wraps text values as `{"_value": …}` and lists the request back as `category` entries.
EHRs that already parse that can be pointed at this server unchanged.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html import escape
from typing import Any

from app.delivery.store import dumps

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_NS = "http://www.w3.org/XML/1998/namespace"


@dataclass(frozen=True, slots=True)
class Link:
    href: str
    rel: str
    type: str
    title: str


@dataclass(frozen=True, slots=True)
class Entry:
    title: str
    links: list[Link]
    id: str
    updated: dt.datetime
    summary_html: str


@dataclass(frozen=True, slots=True)
class Feed:
    base: str
    lang: str
    subtitle: str
    id: str
    updated: dt.datetime
    categories: list[tuple[str, str]]
    entries: list[Entry]


def entry_for(document: dict[str, Any], *, base_url: str) -> Entry:
    """One matching drug: its title, a summary with the disclaimer, and links to its pages."""
    root = base_url.rstrip("/")
    slug = document["slug"]
    parts = []
    if document["summary"]:
        parts.append(f"<p>{escape(document['summary'])}</p>")
    if document["brand_names"]:
        parts.append(f'<p class="alsoCalled">Also called: {escape(", ".join(document["brand_names"]))}</p>')
    review = document["review"]
    if review["status"] != "reviewed":
        parts.append('<p class="review">Not reviewed by a medical reviewer.</p>')
    else:
        reviewed = f"Medically reviewed by {review['reviewed_by']} on {review['last_reviewed']}"
        overdue = " (its next review is overdue)" if review.get("overdue") else ""
        parts.append(f'<p class="review">{escape(reviewed + overdue)}.</p>')
    if document["disclaimer"]:
        parts.append(f'<p class="disclaimer">{escape(document["disclaimer"])}</p>')
    name = document["name"]
    return Entry(
        title=name,
        links=[
            Link(
                f"{root}/embed/drugs/{slug}/faqs", "alternate", "text/html", f"{name}: questions and answers"
            ),
            Link(f"{root}/embed/drugs/{slug}/side-effects", "related", "text/html", f"{name}: side effects"),
            Link(f"{root}{document['links']['self']}", "alternate", "application/json", name),
        ],
        id=f"{root}{document['links']['self']}",
        updated=document["published_at"],
        summary_html="".join(parts),
    )


def _instant(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def to_json(feed: Feed) -> bytes:
    return dumps(
        {
            "feed": {
                "xsi": "http://www.w3.org/2001/XMLSchema-instance",
                "base": feed.base,
                "lang": feed.lang,
                "title": {"_value": "druginfo", "type": "text"},
                "subtitle": {"_value": feed.subtitle, "type": "text"},
                "author": {"name": {"_value": "druginfo"}, "uri": {"_value": feed.base}},
                "updated": {"_value": _instant(feed.updated)},
                "category": [{"scheme": scheme, "term": term} for scheme, term in feed.categories],
                "id": {"_value": feed.id},
                "entry": [
                    {
                        "lang": feed.lang,
                        "title": {"_value": entry.title, "type": "text"},
                        "link": [
                            {"title": link.title, "rel": link.rel, "type": link.type, "href": link.href}
                            for link in entry.links
                        ],
                        "id": {"_value": entry.id},
                        "updated": {"_value": _instant(entry.updated)},
                        "summary": {"_value": entry.summary_html, "type": "html"},
                    }
                    for entry in feed.entries
                ],
            }
        }
    )


def to_atom(feed: Feed) -> bytes:
    ET.register_namespace("", ATOM_NS)
    atom = f"{{{ATOM_NS}}}"
    root = ET.Element(f"{atom}feed", {f"{{{XML_NS}}}lang": feed.lang, f"{{{XML_NS}}}base": feed.base})
    ET.SubElement(root, f"{atom}title", type="text").text = "druginfo"
    ET.SubElement(root, f"{atom}subtitle", type="text").text = feed.subtitle
    author = ET.SubElement(root, f"{atom}author")
    ET.SubElement(author, f"{atom}name").text = "druginfo"
    ET.SubElement(author, f"{atom}uri").text = feed.base
    ET.SubElement(root, f"{atom}updated").text = _instant(feed.updated)
    for scheme, term in feed.categories:
        ET.SubElement(root, f"{atom}category", scheme=scheme, term=term)
    ET.SubElement(root, f"{atom}id").text = feed.id
    for entry in feed.entries:
        node = ET.SubElement(root, f"{atom}entry")
        ET.SubElement(node, f"{atom}title", type="text").text = entry.title
        for link in entry.links:
            ET.SubElement(node, f"{atom}link", href=link.href, rel=link.rel, type=link.type, title=link.title)
        ET.SubElement(node, f"{atom}id").text = entry.id
        ET.SubElement(node, f"{atom}updated").text = _instant(entry.updated)
        ET.SubElement(node, f"{atom}summary", type="html").text = entry.summary_html
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml
