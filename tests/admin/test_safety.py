"""Stored XSS never comes back live, and the public keeps seeing the published revision after edits."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import sqlalchemy as sa

from app.core.config import Settings
from app.core.db import make_null_pool_engine
from app.core.markdown import ALLOWED_ATTRIBUTES, ALLOWED_TAGS
from tests.admin.conftest import Admin

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<iframe src=https://evil.example/></iframe>",
    "<details open ontoggle=alert(1)>x</details>",
    '<a href="javascript:alert(1)">raw link</a>',
    "[md link](javascript:alert(1))",
    "[mixed case](JaVaScRiPt:alert(1))",
    "[encoded](javascript&#58;alert(1))",
    "[vb](vbscript:msgbox(1))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![image](javascript:alert(1))",
    '[title](https://example.org "x\\" onmouseover=\\"alert(1)")',
    "<<script>script>alert(1)<</script>/script>",
    "<style>body{display:none}</style>",
    "<form action=https://evil.example><input name=x></form>",
]
MARKDOWN = "Safe **text**.\n\n" + "\n\n".join(PAYLOADS)
SAFE_SCHEMES = ("https:", "http:", "mailto:", "tel:")


class HtmlAudit(HTMLParser):
    """Collects every tag and attribute the browser would see."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name not in ALLOWED_ATTRIBUTES.get(tag, set()) and name != "rel":
                self.problems.append(f"attribute {name} on <{tag}>")
            has_scheme = name == "href" and value and ":" in value.split("/")[0]
            if has_scheme and not str(value).lower().startswith(SAFE_SCHEMES):
                self.problems.append(f"href {value!r}")


def html_fields(document: Any, path: str = "") -> list[tuple[str, str]]:
    """Every `*_html` value anywhere in a JSON document."""
    found: list[tuple[str, str]] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key.endswith("_html") and isinstance(value, str):
                found.append((f"{path}/{key}", value))
            else:
                found.extend(html_fields(value, f"{path}/{key}"))
    elif isinstance(document, list):
        for i, value in enumerate(document):
            found.extend(html_fields(value, f"{path}/{i}"))
    return found


def test_stored_xss_is_neutralized_in_every_html_output(admin: Admin) -> None:
    admin.created("/drugs", {"slug": "testdrug-a", "name": "Testdrug A", "disclaimer": MARKDOWN})
    base = "/drugs/testdrug-a"
    admin.created("/conditions", {"slug": "testcondition-a", "name": "C", "description": MARKDOWN})
    admin.created(
        "/support-resources",
        {"slug": "testresource-a", "category": "other", "title": "R", "description": MARKDOWN},
    )
    admin.created(f"{base}/sections", {"key": "intro", "title": "T", "body": MARKDOWN})
    admin.created(f"{base}/faqs", {"question": "Q?", "answer": MARKDOWN})
    admin.created(f"{base}/side-effects", {"name": "E", "seriousness": "common", "description": MARKDOWN})
    admin.created(
        f"{base}/combinations",
        {"name": "R", "components": [{"name": "X"}], "rationale": MARKDOWN, "notes": MARKDOWN},
    )
    admin.created(f"{base}/stories", {"title": "S", "body": MARKDOWN})

    documents = {
        "drug": admin.get(base).json(),
        "condition": admin.get("/conditions/testcondition-a").json(),
        "resource": admin.get("/support-resources/testresource-a").json(),
    }
    fields = [
        (f"{name}{pointer}", html) for name, doc in documents.items() for pointer, html in html_fields(doc)
    ]

    assert len(fields) == 9, [f for f, _ in fields]
    for where, html in fields:
        audit = HtmlAudit()
        audit.feed(html)
        assert audit.problems == [], (where, audit.problems, html)
        assert "<strong>text</strong>" in html, where  # real Markdown still renders
        assert "&lt;script&gt;" in html, where  # the payload is shown as text, not run
    # The Markdown source is kept verbatim for editors (it is JSON data, never rendered as HTML).
    assert documents["drug"]["faqs"][0]["answer"] == MARKDOWN


def published_state(settings: Settings) -> list[Any]:
    engine = make_null_pool_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return [
                conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1, 2")).all()
                for table in ("published_drug", "published_drug_code", "published_drug_condition")
            ]
    finally:
        engine.dispose()


def test_public_keeps_the_published_revision_after_admin_edits(seeded_admin: Admin, seeded: Settings) -> None:
    admin = seeded_admin
    public_urls = [
        "/api/v1/drugs",
        "/api/v1/drugs/pomalidomide",
        "/api/v1/drugs/pomalidomide/faqs",
        "/api/v1/drugs/pomalidomide/sections",
        "/api/v1/drugs/pomalidomide/support-resources",
        "/api/v1/faqs",
    ]
    before = {url: admin.client.get(url) for url in public_urls}
    assert all(r.status_code == 200 for r in before.values())
    projection = published_state(seeded)

    draft = admin.get("/drugs/pomalidomide").json()
    faq = draft["faqs"][0]
    admin.patch("/drugs/pomalidomide", {"name": "Draftname Pomalidomide"}, etag=draft["etag"])
    edited = admin.patch(
        f"/drugs/pomalidomide/faqs/{faq['id']}", {"answer": "DRAFT-ONLY answer."}, etag=faq["etag"]
    )
    assert edited.status_code == 200
    admin.created("/drugs/pomalidomide/faqs", {"question": "DRAFT-ONLY question?", "answer": "DRAFT-ONLY."})
    section = draft["sections"][-1]
    assert (
        admin.delete(f"/drugs/pomalidomide/sections/{section['id']}", etag=section["etag"]).status_code == 204
    )
    links = admin.get("/drugs/pomalidomide/support-resources").json()
    link = links["items"][0]
    admin.delete(f"/drugs/pomalidomide/support-resources/{link['resource']}", etag=link["etag"])

    # The working draft has the edits...
    assert admin.get("/drugs/pomalidomide").json()["name"] == "Draftname Pomalidomide"
    # ...the public sees exactly what it saw before, byte for byte, and the projection is untouched.
    for url, response in before.items():
        after = admin.client.get(url)
        assert after.status_code == 200, url
        assert after.content == response.content, url
        assert after.headers["ETag"] == response.headers["ETag"], url
        assert "DRAFT-ONLY" not in after.text and "Draftname" not in after.text
    assert published_state(seeded) == projection


def test_shared_records_are_published_on_save_and_audited(seeded_admin: Admin) -> None:
    """Conditions and support resources are shared records, published when saved (README: Editorial
    workflow). Their edits are public at once, and every one is in the audit log with its before/after;
    a drug's own text is only ever public through its published revision."""
    admin = seeded_admin
    condition = admin.get("/conditions/multiple-myeloma").json()
    admin.patch("/conditions/multiple-myeloma", {"name": "Edited condition name"}, etag=condition["etag"])
    resource = admin.get("/support-resources/patient-support-groups").json()
    admin.patch("/support-resources/patient-support-groups", {"title": "Edited title"}, etag=resource["etag"])

    assert "Edited condition name" in admin.client.get("/api/v1/conditions/multiple-myeloma").text
    assert "Edited title" in admin.client.get("/api/v1/support-resources").text
    entries = admin.get("/audit-log", role="publisher").json()["items"]
    changed = {(e["entity"], e["entity_id"]): e["changes"] for e in entries}
    name = changed[("condition", "multiple-myeloma")][0]["fields"]["name"]
    assert name["after"] == "Edited condition name" and name["before"] != name["after"]
    title = changed[("support-resource", "patient-support-groups")][0]["fields"]["title"]
    assert title["after"] == "Edited title"
