"""the key proposals a lead leader or a supervising unit follows, from indexes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-12 10:00:00

督办的重点提案 lists the key proposals whose lead leader is the reader, or that the reader's
unit supervises, a year's by number. Neither ``lead_leader_id`` nor ``supervising_unit_id``
had an index: the list read every proposal of the year. Two partial indexes hold only the
key proposals (about one in twenty), by leader or supervising unit, then year and number.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_SQLITE = "is_key = 1"
KEY_POSTGRESQL = "is_key"
INDEXES = {
    "ix_proposal_key_leader": "lead_leader_id",
    "ix_proposal_key_supervising": "supervising_unit_id",
}


def upgrade() -> None:
    for name, column in INDEXES.items():
        op.create_index(
            name,
            "proposal",
            [column, "year", "number"],
            sqlite_where=sa.text(KEY_SQLITE),
            postgresql_where=sa.text(KEY_POSTGRESQL),
        )
    bind = op.get_bind()
    if (
        bind.dialect.name == "sqlite"
        and bind.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
    ):
        # Statistics kept from an earlier ANALYZE would know nothing of the new indexes.
        op.execute("ANALYZE proposal")


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="proposal")
