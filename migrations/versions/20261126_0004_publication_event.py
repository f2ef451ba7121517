"""publication events: the change feed

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "publication_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("drug_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=True),
        sa.Column("revision_number", sa.Integer(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "event IN ('published', 'updated', 'unpublished')", name=op.f("ck_publication_event_event")
        ),
        sa.CheckConstraint(
            "(event = 'unpublished') = (revision_id IS NULL)",
            name=op.f("ck_publication_event_revision_unless_unpublished"),
        ),
        sa.ForeignKeyConstraint(
            ["drug_id"], ["drug.id"], name=op.f("fk_publication_event_drug_id_drug"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["drug_revision.id"],
            name=op.f("fk_publication_event_revision_id_drug_revision"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publication_event")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("publication_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_publication_event_drug_id"), ["drug_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_publication_event_occurred_at"), ["occurred_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("publication_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_publication_event_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_publication_event_drug_id"))
    op.drop_table("publication_event")
