"""an assignment carries its proposal's year, so a unit's finished assignments of a year are
one range of an index

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-13 10:00:00

已办结的交办 lists a unit's finished assignments a year at a time. The year was the
proposal's, reached through a join: every one of the unit's finished assignments, of every
year kept, was joined to its proposal to find the year's, and the list grew with the years.
The year is now kept on the assignment too (a proposal's year is fixed when it is submitted,
before it can be assigned), and the index of a unit's assignments by state goes on to the
year: a year's finished assignments are one range of it.

Existing assignments take their proposal's year. The column keeps a default of 0 on SQLite,
where adding a NOT NULL column needs one and dropping it again would rebuild the table; the
product always gives the year.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "assignment", sa.Column("year", sa.Integer(), nullable=False, server_default="0")
    )
    op.execute(
        "UPDATE assignment SET year = "
        "(SELECT proposal.year FROM proposal WHERE proposal.id = assignment.proposal_id)"
    )
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.alter_column("assignment", "year", server_default=None)
    op.drop_index("ix_assignment_unit_status", table_name="assignment")
    op.create_index("ix_assignment_unit_status_year", "assignment", ["unit_id", "status", "year"])
    if (
        bind.dialect.name == "sqlite"
        and bind.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
    ):
        # Statistics kept from an earlier ANALYZE would know nothing of the new index.
        op.execute("ANALYZE assignment")


def downgrade() -> None:
    op.drop_index("ix_assignment_unit_status_year", table_name="assignment")
    op.create_index("ix_assignment_unit_status", "assignment", ["unit_id", "status"])
    # SQLite drops a column in place (3.35 and later); rebuilding the table, as a batch
    # would, is refused while replies and contacts point at its rows.
    op.execute("ALTER TABLE assignment DROP COLUMN year")
