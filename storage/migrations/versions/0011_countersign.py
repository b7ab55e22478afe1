"""会签: the co-handling units' countersignatures on the reply letter

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10 10:00:00

A reply of a proposal with co-handling units now waits for each of them to countersign
before the review sees it. One row per unit and letter version: awaited, agreed, objected
to (with the unit's comment) or deemed agreed when the window ended. Replies already in
the database were submitted before countersigning existed and have none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "countersign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reply_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("decision", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignment.id"]),
        sa.ForeignKeyConstraint(["decided_by"], ["person.id"]),
        sa.ForeignKeyConstraint(["reply_id"], ["reply.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reply_id", "assignment_id"),
    )
    with op.batch_alter_table("countersign", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_countersign_assignment_id"), ["assignment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_countersign_reply_id"), ["reply_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("countersign", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_countersign_reply_id"))
        batch_op.drop_index(batch_op.f("ix_countersign_assignment_id"))
    op.drop_table("countersign")
