"""What gets indexed: the entries of one live revision, per locale, with weighted text columns.

Each searchable item becomes one entry per locale it exists in: the default locale always, and any
locale it has a translation for (its text then is what a reader of that locale sees: the
translation laid over the default text, as the delivery API renders it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

from app.core.locale import fallback_chain, language_of
from app.core.markdown import render_markdown
from app.delivery.render import API, document_locales, localized
from app.search.models import SEARCH_TYPES

PLURALS = {
    "section": "sections",
    "faq": "faqs",
    "side_effect": "side_effects",
    "monitoring": "monitoring",
    "indication": "indications",
    "combination": "combinations",
    "story": "stories",
}

# Languages with a stemmer on both engines (PostgreSQL's built-in text search configurations);
# SQLite has the Porter stemmer for English only, and folds case and diacritics for the others.
ANALYZERS = {
    "ar": "arabic",
    "ca": "catalan",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "eu": "basque",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hi": "hindi",
    "hu": "hungarian",
    "hy": "armenian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "nb": "norwegian",
    "ne": "nepali",
    "nl": "dutch",
    "nn": "norwegian",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
    "yi": "yiddish",
}


def analyzer_for(locale: str) -> str:
    return ANALYZERS.get(language_of(locale), "simple")


class _TextOf(HTMLParser):
    _BLOCKS = frozenset(
        {"p", "br", "li", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th", "pre", "blockquote"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self._BLOCKS:
            self.chunks.append(" ")

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


@lru_cache(maxsize=4096)
def plain_text(markdown: str | None) -> str:
    """Markdown as the words a reader sees (no markup, so snippets show no `**` or link targets)."""
    if not markdown:
        return ""
    parser = _TextOf()
    parser.feed(render_markdown(markdown))
    parser.close()
    return " ".join("".join(parser.chunks).split())


def _join(*texts: str | None) -> str:
    return " ".join(t for t in texts if t)


@dataclass(frozen=True, slots=True)
class Entry:
    type: str
    item_id: str
    position: int
    title: str
    link: str
    a_text: str
    b_text: str
    c_text: str


def _entries(snapshot: dict[str, Any], chain: tuple[str, ...], only: str | None) -> list[Entry]:
    """Entries in the locale chain; with `only`, just the items that have a translation in that locale."""
    source = snapshot["drug"]
    slug = source["slug"]
    base = f"{API}/drugs/{slug}"
    ids: dict[str, list[int]] = snapshot["ids"]
    conditions = {c["slug"]: c for c in snapshot["conditions"]}
    found: list[Entry] = []

    def wanted(*items: dict[str, Any]) -> bool:
        return only is None or any(only in (item.get("translations") or {}) for item in items)

    def add(kind: str, item_id: Any, title: str, link: str, a: str = "", b: str = "", c: str = "") -> None:
        # Document order, the same in every locale: parts in the order of SEARCH_TYPES, then their own.
        index = ids[PLURALS[kind]].index(item_id) if PLURALS.get(kind) in ids else 0
        if kind == "support_resource":
            index = [r["slug"] for r in snapshot["support_resources"]].index(item_id)
        found.append(
            Entry(kind, str(item_id), SEARCH_TYPES.index(kind) * 10_000 + index, title, link, a, b, c)
        )

    drug, _ = localized(source, chain)
    if wanted(source):
        add(
            "drug",
            slug,
            drug["name"],
            base,
            a=_join(drug["name"], *drug["brand_names"]),
            b=_join(drug["drug_class"], drug["summary"]),
        )
    for i, raw in zip(ids["sections"], source["sections"], strict=True):
        if wanted(raw):
            s, _ = localized(raw, chain)
            add(
                "section", i, s["title"], f"{base}/sections/{s['key']}", b=s["title"], c=plain_text(s["body"])
            )
    for i, raw in zip(ids["faqs"], source["faqs"], strict=True):
        if wanted(raw):
            f, _ = localized(raw, chain)
            add(
                "faq",
                i,
                f["question"],
                f"{base}/faqs/{i}",
                a=f["question"],
                b=_join(*f["tags"]),
                c=plain_text(f["answer"]),
            )
    for i, raw in zip(ids["side_effects"], source["side_effects"], strict=True):
        if wanted(raw):
            e, _ = localized(raw, chain)
            add(
                "side_effect",
                i,
                e["name"],
                f"{base}/side-effects/{i}",
                a=e["name"],
                c=_join(plain_text(e["description"]), *e["management_tips"], e["when_to_contact_care_team"]),
            )
    for i, raw in zip(ids["monitoring"], source["monitoring"], strict=True):
        if wanted(raw):
            m, _ = localized(raw, chain)
            add(
                "monitoring",
                i,
                m["name"],
                f"{base}/monitoring/{i}",
                b=m["name"],
                c=_join(m["purpose"], m["frequency"]),
            )
    for i, raw in zip(ids["indications"], source["indications"], strict=True):
        condition_raw = conditions[raw["condition"]]
        if wanted(raw, condition_raw):
            ind, _ = localized(raw, chain)
            condition, _ = localized(condition_raw, chain)
            add(
                "indication",
                i,
                condition["name"],
                f"{base}/indications/{i}",
                b=condition["name"],
                c=_join(ind["notes"], plain_text(condition["description"])),
            )
    for i, raw in zip(ids["combinations"], source["combinations"], strict=True):
        if wanted(raw):
            k, _ = localized(raw, chain)
            add(
                "combination",
                i,
                k["name"],
                f"{base}/combinations/{i}",
                b=_join(k["name"], *(c["name"] for c in k["components"])),
                c=_join(
                    plain_text(k["rationale"]), plain_text(k["notes"]), *(c["role"] for c in k["components"])
                ),
            )
    for i, raw in zip(ids["stories"], source["stories"], strict=True):
        if wanted(raw):
            s, _ = localized(raw, chain)
            person = s["person"]
            add(
                "story",
                i,
                s["title"],
                f"{base}/stories/{i}",
                b=s["title"],
                c=_join(plain_text(s["body"]), person.get("name"), person.get("occupation")),
            )
    for raw in snapshot["support_resources"]:
        if wanted(raw):
            r, _ = localized(raw, chain)
            add(
                "support_resource",
                r["slug"],
                r["title"],
                f"{base}/support-resources",
                b=r["title"],
                c=plain_text(r["description"]),
            )
    return found


def index_rows(drug_id: int, snapshot: dict[str, Any], default_locale: str) -> list[dict[str, Any]]:
    """The `search_entry` rows of one live revision, for every locale it has text in."""
    rows: list[dict[str, Any]] = []
    for locale in document_locales(snapshot, default_locale):
        chain = fallback_chain(locale, default_locale)
        drug_name = localized(snapshot["drug"], chain)[0]["name"]
        only = None if locale == default_locale else locale
        rows.extend(
            {
                "drug_id": drug_id,
                "locale": locale,
                "analyzer": analyzer_for(locale),
                "type": entry.type,
                "item_id": entry.item_id,
                "position": entry.position,
                "drug_slug": snapshot["drug"]["slug"],
                "drug_name": drug_name,
                "title": entry.title[:500],
                "link": entry.link,
                "a_text": entry.a_text,
                "b_text": entry.b_text,
                "c_text": entry.c_text,
            }
            for entry in _entries(snapshot, chain, only)
        )
    return rows
