"""a person's notices by state, for releasing parked notices without reading them all

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 01:10:00

The dispatcher's round of parking (every minute) releases the parked notices of people
some account reaches again. It read every parked notice to find them, inside a write
transaction: with tens of thousands waiting for staff who never bound an account, each
round held up the writers for tens of milliseconds, longer each year. It now probes
``notice (person_id, state)`` once for each reachable account, in a read first.
``notice (person_id, state)`` replaces ``notice (person_id)``, which it covers.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_notice_person_state", "notice", ["person_id", "state"])
    op.drop_index("ix_notice_person_id", table_name="notice")
    bind = op.get_bind()
    if (
        bind.dialect.name == "sqlite"
        and bind.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
    ):
        # Statistics kept from an earlier ANALYZE would know nothing of the new index.
        op.execute("ANALYZE notice")


def downgrade() -> None:
    op.create_index("ix_notice_person_id", "notice", ["person_id"])
    op.drop_index("ix_notice_person_state", table_name="notice")
