"""whether someone reachable has parked notices, without reading every parked notice

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 01:10:00

The dispatcher's round of parking (every minute) releases the parked notices of people
some account reaches again. It read every parked notice to find them, inside a write
transaction: with tens of thousands waiting for staff who never bound an account, each
round held up the writers for tens of milliseconds, longer each year. It now reads first,
probing an index of only the parked notices, by person, once for each reachable account.
A partial index: a notice's other changes of state (pending, sending, sent) never touch it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARKED = "state = 'parked'"


def upgrade() -> None:
    op.create_index(
        "ix_notice_parked",
        "notice",
        ["person_id"],
        sqlite_where=sa.text(PARKED),
        postgresql_where=sa.text(PARKED),
    )
    bind = op.get_bind()
    if (
        bind.dialect.name == "sqlite"
        and bind.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
    ):
        # Statistics kept from an earlier ANALYZE would know nothing of the new index.
        op.execute("ANALYZE notice")


def downgrade() -> None:
    op.drop_index("ix_notice_parked", table_name="notice")
