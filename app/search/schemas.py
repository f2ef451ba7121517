"""Shape of the search answer (handlers return ready bytes; these models document them)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from app.delivery.schemas import DrugRef, Out, Page

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
