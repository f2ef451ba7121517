"""A Hypothesis state machine over the editorial workflow, through HTTP.

Rules: create / edit (fresh or stale ETag) / publish / unpublish / restore / anonymous read.
Invariants: the public view equals the last published snapshot; no draft-only text in any anonymous
response; exactly one revision per successful write (and none for a refused one).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from app.core.config import Settings
from app.main import create_app
from tests.admin.conftest import Admin, create_tokens
from tests.conftest import new_database
from tests.workflow.conftest import PUBLISHABLE, publish_body

SLUGS = ("testdrug-a", "testdrug-b")
TEXTS = [f"Synthetic summary {n}." for n in range(4)]


def summary_of(n: int) -> str:
    return TEXTS[n]


def make_machine(
    request: pytest.FixtureRequest, engine_name: str, tmp_path: Path
) -> type[RuleBasedStateMachine]:
    counter = iter(range(10_000))

    class Editorial(RuleBasedStateMachine):
        @initialize()
        def fresh_database(self) -> None:
            directory = tmp_path / f"run{next(counter)}"
            directory.mkdir()
            url = new_database(request, engine_name, directory)
            app_settings = Settings(database_url=url)
            self.client = TestClient(create_app(app_settings), raise_server_exceptions=False)
            self.client.__enter__()
            self.admin = Admin(self.client, create_tokens(app_settings))
            # The model: per drug, draft summary, revisions' summaries, published summary, ETags.
            self.draft: dict[str, str] = {}
            self.history: dict[str, list[str]] = {}
            self.published: dict[str, str | None] = {}
            self.etag: dict[str, str] = {}
            self.stale: dict[str, str] = {}

        def teardown(self) -> None:
            client = getattr(self, "client", None)
            if client is not None:
                client.__exit__(None, None, None)

        def _revisions(self, slug: str) -> int:
            return len(self.admin.get(f"/drugs/{slug}/revisions?limit=100").json()["items"])

        def _recorded(self, slug: str, summary: str) -> None:
            self.history[slug].append(summary)

        @rule(slug=st.sampled_from(SLUGS))
        def create(self, slug: str) -> None:
            body = {**PUBLISHABLE, "slug": slug, "name": slug.replace("-", " ").title(), "summary": TEXTS[0]}
            response = self.admin.post("/drugs", body)
            if slug in self.draft:
                assert response.status_code == 409, response.text
                return
            assert response.status_code == 201, response.text
            self.draft[slug], self.history[slug], self.published[slug] = TEXTS[0], [TEXTS[0]], None
            self.etag[slug] = response.headers["ETag"]

        @precondition(lambda self: bool(self.draft))
        @rule(data=st.data(), n=st.integers(0, len(TEXTS) - 1), stale=st.booleans())
        def edit(self, data: st.DataObject, n: int, stale: bool) -> None:
            slug = data.draw(st.sampled_from(sorted(self.draft)))
            text = summary_of(n)
            if stale and slug not in self.stale:
                stale = False
            etag = self.stale[slug] if stale else self.etag[slug]
            response = self.admin.patch(f"/drugs/{slug}", {"summary": text}, etag=etag)
            if stale and etag != self.etag[slug]:
                assert response.status_code == 412, response.text
                return
            assert response.status_code == 200, response.text
            if text != self.draft[slug]:
                self.stale[slug] = self.etag[slug]
                self.draft[slug] = text
                self._recorded(slug, text)
            self.etag[slug] = response.headers["ETag"]

        @precondition(lambda self: bool(self.draft))
        @rule(data=st.data())
        def publish(self, data: st.DataObject) -> None:
            slug = data.draw(st.sampled_from(sorted(self.draft)))
            response = self.admin.post(f"/drugs/{slug}/publish", publish_body(), role="publisher")
            assert response.status_code == 200, response.text
            self.published[slug] = self.draft[slug]
            self._recorded(slug, self.draft[slug])
            self.stale[slug], self.etag[slug] = self.etag[slug], response.headers["ETag"]

        @precondition(lambda self: bool(self.draft))
        @rule(data=st.data())
        def unpublish(self, data: st.DataObject) -> None:
            slug = data.draw(st.sampled_from(sorted(self.draft)))
            response = self.admin.post(f"/drugs/{slug}/unpublish", role="publisher")
            if self.published[slug] is None:
                assert response.status_code == 409, response.text
                return
            assert response.status_code == 200, response.text
            self.published[slug] = None
            self._recorded(slug, self.draft[slug])
            self.stale[slug], self.etag[slug] = self.etag[slug], response.headers["ETag"]

        @precondition(lambda self: bool(self.draft))
        @rule(data=st.data())
        def restore(self, data: st.DataObject) -> None:
            slug = data.draw(st.sampled_from(sorted(self.draft)))
            number = data.draw(st.integers(1, len(self.history[slug])))
            response = self.admin.post(f"/drugs/{slug}/revisions/{number}/restore")
            assert response.status_code == 200, response.text
            self.draft[slug] = self.history[slug][number - 1]
            assert response.json()["summary"] == self.draft[slug]
            self._recorded(slug, self.draft[slug])
            self.stale[slug], self.etag[slug] = self.etag[slug], response.headers["ETag"]

        @rule()
        def anonymous_read(self) -> None:
            listing = self.client.get("/api/v1/drugs").text
            for slug in self.draft:
                response = self.client.get(f"/api/v1/drugs/{slug}")
                if self.published[slug] is None:
                    assert response.status_code == 404
                    assert slug not in listing
                else:
                    assert response.status_code == 200
                    assert response.json()["summary"] == self.published[slug]

        @invariant()
        def no_draft_text_in_anonymous_responses(self) -> None:
            if not getattr(self, "draft", None):
                return
            public_texts = {t for t in self.published.values() if t is not None}
            draft_only = set(self.draft.values()) - public_texts
            seen = self.client.get("/api/v1/drugs").text
            seen += "".join(self.client.get(f"/api/v1/drugs/{slug}").text for slug in self.draft)
            for text in draft_only:
                assert text not in seen, text

        @invariant()
        def one_revision_per_successful_write(self) -> None:
            for slug, history in getattr(self, "history", {}).items():
                assert self._revisions(slug) == len(history), slug

    return Editorial


@pytest.mark.parametrize("engine_name", ["sqlite", "postgresql"], indirect=True)
def test_editorial_state_machine(request: pytest.FixtureRequest, engine_name: str, tmp_path: Path) -> None:
    machine = make_machine(request, engine_name, tmp_path)
    examples = 15 if engine_name == "sqlite" else 5
    machine.TestCase.settings = settings(
        max_examples=examples,
        stateful_step_count=12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    machine.TestCase().runTest()
