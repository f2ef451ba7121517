"""sqlite: ids of editable records are never reused (AUTOINCREMENT)

An editable record's ETag is its table, id and version (`"faq-9-v1"`). Without AUTOINCREMENT, SQLite
gives a new row the highest id in use plus one, so deleting the newest FAQ and adding another (or a
restore, which re-creates a drug's parts) handed out an id again, at version 1 again: an ETag read
before could then match a different record and an edit made from stale content went through.
With AUTOINCREMENT an id is never handed out twice, as with PostgreSQL's sequences; each table is
rebuilt with it (same rows, same ids; foreign keys are off during migrations). PostgreSQL is
untouched.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 05:20:00.000000

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every table whose rows are edited by id with an ETag, and can be deleted (drugs are only ever
# soft-deleted; revisions and audit entries are append-only).
TABLES = (
    "condition",
    "support_resource",
    "webhook_endpoint",
    "drug_section",
    "faq",
    "side_effect",
    "monitoring_item",
    "indication",
    "combination",
    "patient_story",
)


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)
