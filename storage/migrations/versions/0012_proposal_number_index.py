"""the years that have a proposal of a given number, from an index

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-11 10:00:00

/status 28, when this year has no 第28号, asks which years have one to say so. The only index
with the number was the unique (year, number), which leads with the year: SQLite without
statistics scanned all of it, and PostgreSQL walked it whole, every proposal of every year
for one number. An index on (number, year) goes straight to the number, its years in order.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_proposal_number_year", "proposal", ["number", "year"])
    bind = op.get_bind()
    if (
        bind.dialect.name == "sqlite"
        and bind.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
    ):
        # Statistics kept from an earlier ANALYZE would know nothing of the new index.
        op.execute("ANALYZE proposal")


def downgrade() -> None:
    op.drop_index("ix_proposal_number_year", table_name="proposal")
