"""Full-text search over published content (SQLite FTS5 / PostgreSQL tsvector)."""
