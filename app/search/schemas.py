"""The search query, and the shape of its answer (handlers return ready bytes; those models document them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.core.locale import LOCALE_PARAMETER
from app.core.pagination import CURSOR_PARAMETER, DEFAULT_LIMIT, MAX_LIMIT
from app.core.types import QUERY_TEXT_PATTERN, SLUG_PATTERN
from app.delivery.responses import list_pattern
from app.delivery.schemas import DrugRef, Out, Page
from app.search.models import SEARCH_TYPES
from app.search.query import MAX_QUERY_LENGTH

HitType = Literal[
    "drug",
    "section",
    "faq",
    "side_effect",
    "monitoring",
    "indication",
    "combination",
    "story",
    "support_resource",
]


class SearchHit(Out):
    type: HitType
    id: int | str = Field(description="The part's `id`; a drug's or support resource's slug.")
    drug: DrugRef = Field(description="The drug the hit belongs to.")
    title: str
    snippet: str | None = Field(
        description="A fragment of the text with the matches in `<mark>`; escaped, safe to insert as HTML."
    )
    score: float = Field(description="Relevance (higher is better; comparable within one answer only).")
    link: str = Field(description="API URL of the item.", examples=["/api/v1/drugs/pomalidomide/faqs/3"])
    locale: str = Field(description="The locale of the matched text.")


class SearchPage(Page):
    items: list[SearchHit]


class SearchQuery(BaseModel):
    """The query parameters of `GET /api/v1/search`, read in one validation (`parse_query_model`)."""

    q: str = Field(
        min_length=1,
        max_length=MAX_QUERY_LENGTH,
        pattern=QUERY_TEXT_PATTERN,
        description="What to look for. Words are stemmed (`constipated` finds constipation) and must "
        'all match; `"quoted words"` match as a phrase; the last word, or one ending in `*`, matches '
        "as a prefix (type-ahead). Operators and punctuation are ignored.",
    )
    type: str | None = Field(
        None,
        max_length=300,
        json_schema_extra={"pattern": list_pattern(SEARCH_TYPES)},
        description=f"Comma-separated hit types: {', '.join(SEARCH_TYPES)}.",
    )
    drug: str | None = Field(
        None, pattern=SLUG_PATTERN, max_length=100, description="Only hits of this drug (slug)."
    )
    limit: int = Field(
        DEFAULT_LIMIT,
        ge=1,
        le=MAX_LIMIT,
        description=f"Page size (default {DEFAULT_LIMIT}, max {MAX_LIMIT}).",
    )
    cursor: str | None = Field(None, **CURSOR_PARAMETER)
    locale: str | None = Field(None, **LOCALE_PARAMETER)
