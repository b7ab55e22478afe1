"""how many messages of a long notice are delivered, so that a retry resumes after them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09 10:00:00

A notice too long for one chat message goes out as several. When one of them failed, the
retry sent the whole notice again and the person got the first parts twice; each part sent
is now counted in the notice's row as it goes, and the next attempt begins after them.
Existing notices have delivered none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("parts_sent", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_column("parts_sent")
