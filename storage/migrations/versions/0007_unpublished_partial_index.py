"""publication finds its few candidates through a partial index

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 03:40:00

``proposal (disclose, published)`` (0006) held every disclosed proposal never published,
withdrawn and not-filed ones of every year among them, and the planners preferred reading
every closed proposal by status: publication grew with the archive. It is replaced by an
index of only the disclosed, unpublished proposals (by status), which stays as small as the
queue of proposals waiting to be published. On PostgreSQL, statistics on the three columns
together let the planner see how few rows that is (it otherwise multiplies the separate
shares and expects thousands).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNPUBLISHED_SQLITE = "disclose = 1 AND published = 0"
UNPUBLISHED_POSTGRESQL = "disclose AND NOT published"


def upgrade() -> None:
    op.drop_index("ix_proposal_publication", table_name="proposal")
    op.create_index(
        "ix_proposal_unpublished",
        "proposal",
        ["status"],
        sqlite_where=sa.text(UNPUBLISHED_SQLITE),
        postgresql_where=sa.text(UNPUBLISHED_POSTGRESQL),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE STATISTICS st_proposal_publication (mcv) "
            "ON disclose, published, status FROM proposal"
        )
        op.execute("ANALYZE proposal")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS st_proposal_publication")
    op.drop_index("ix_proposal_unpublished", table_name="proposal")
    op.create_index("ix_proposal_publication", "proposal", ["disclose", "published"])
