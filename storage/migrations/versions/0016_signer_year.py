"""a signature carries its proposal's year once submitted, so a member's proposals of a
year are one range of an index

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-14 10:00:00

我的提案 listed every proposal a member had signed, of every year kept, and counted them
for its pages: each signature was joined to its proposal for the status, and the list and
its count grew with the member's years. It now shows a year at a time, as the other lists of
proposals do. The year is kept on the signature (set when the proposal is submitted; a draft
has none), and the index of a member's signatures goes on to it: a year's signatures are one
range of it, and the member's years are read from it alone.

Existing signatures of submitted proposals take their proposal's year.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("signer", sa.Column("year", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE signer SET year = (SELECT proposal.year FROM proposal "
        "WHERE proposal.id = signer.proposal_id AND proposal.status <> 'draft')"
    )
    op.drop_index("ix_signer_person", table_name="signer")
    op.create_index(
        "ix_signer_person_year", "signer", ["person_id", "year", "proposal_id", "state"]
    )
    bind = op.get_bind()
    if (
        bind.dialect.name == "sqlite"
        and bind.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
    ):
        # Statistics kept from an earlier ANALYZE would know nothing of the new index.
        op.execute("ANALYZE signer")


def downgrade() -> None:
    op.drop_index("ix_signer_person_year", table_name="signer")
    op.create_index("ix_signer_person", "signer", ["person_id", "proposal_id", "state"])
    op.execute("ALTER TABLE signer DROP COLUMN year")
