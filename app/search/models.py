"""The search index: one row per published item and locale, derived from live revisions only.

Rebuilt for a drug in the same transaction as every change of its public view (publish,
unpublish), so search never shows what the public cannot read. The engine's own full-text
structures sit next to it: an FTS5 table per tokenizer on SQLite (rowid = `search_entry.id`), a
weighted `tsvector` column with a GIN index on PostgreSQL; the migration creates those, and
`app.search.backends` is the only code that knows them.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base

SEARCH_TYPES = (
    "drug",
    "section",
    "faq",
    "side_effect",
    "monitoring",
    "indication",
    "combination",
    "story",
    "support_resource",
)


class SearchEntry(Base):
    __tablename__ = "search_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    drug_id: Mapped[int] = mapped_column(sa.ForeignKey("published_drug.drug_id", ondelete="CASCADE"))
    locale: Mapped[str] = mapped_column(sa.String(35))
    analyzer: Mapped[str] = mapped_column(
        sa.String(20), doc="Language of the text for stemming: `english`, `french`, ... or `simple`."
    )
    type: Mapped[str] = mapped_column(sa.String(20))
    item_id: Mapped[str] = mapped_column(sa.String(100), doc="The part's id, or the slug of a drug/resource.")
    position: Mapped[int] = mapped_column(sa.Integer, doc="Order within the drug's document.")
    drug_slug: Mapped[str] = mapped_column(sa.String(100))
    drug_name: Mapped[str] = mapped_column(sa.String(200))
    title: Mapped[str] = mapped_column(sa.String(500))
    link: Mapped[str] = mapped_column(sa.String(500))
    a_text: Mapped[str] = mapped_column(sa.Text, doc="Highest weight: names, FAQ questions.")
    b_text: Mapped[str] = mapped_column(sa.Text, doc="Titles, summaries.")
    c_text: Mapped[str] = mapped_column(sa.Text, doc="Body text.")

    __table_args__ = (
        sa.UniqueConstraint("drug_id", "type", "item_id", "locale"),
        sa.CheckConstraint("type IN ({})".format(", ".join(repr(t) for t in SEARCH_TYPES)), name="type"),
        # Never reuse an id: on SQLite the FTS5 rows are keyed by it.
        {"sqlite_autoincrement": True},
    )
