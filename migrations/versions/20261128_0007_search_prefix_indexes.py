"""search: FTS5 prefix indexes for every prefix length searched (2 to 8 characters)

A prefix query whose length has no prefix index merges the postings of every term it matches; for a
common word on a large catalog ("fati"* on 10,000 drugs: every drug's "fatigu") that merge costs a
millisecond or more per search, twice per search (hits, then snippets). With an index of that
length the prefix is one lookup. `app.search.query.MAX_PREFIX_LENGTH` keeps prefixes within it.
FTS5 cannot change a table's options: each table is rebuilt from its own stored text (same rowids).
PostgreSQL is untouched (its GIN index serves prefixes of any length).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 23:20:00.000000

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS_TABLES = {
    "search_fts_porter": "porter unicode61 remove_diacritics 2",
    "search_fts_plain": "unicode61 remove_diacritics 2",
}
PREFIXES = "2 3 4 5 6 7 8"
PREVIOUS_PREFIXES = "2 3"


def _rebuild(prefixes: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, tokenizer in FTS_TABLES.items():
        op.execute(
            f"CREATE VIRTUAL TABLE {table}_rebuilt USING fts5(a_text, b_text, c_text, "
            f"tokenize = '{tokenizer}', prefix = '{prefixes}')"
        )
        op.execute(
            f"INSERT INTO {table}_rebuilt (rowid, a_text, b_text, c_text) "  # noqa: S608  (constants)
            f"SELECT rowid, a_text, b_text, c_text FROM {table}"
        )
        op.execute(f"DROP TABLE {table}")
        op.execute(f"ALTER TABLE {table}_rebuilt RENAME TO {table}")
        # One segment per table: the rebuilt index as compact and quick to read as it gets.
        op.execute(f"INSERT INTO {table} ({table}) VALUES ('optimize')")


def upgrade() -> None:
    _rebuild(PREFIXES)


def downgrade() -> None:
    _rebuild(PREVIOUS_PREFIXES)
