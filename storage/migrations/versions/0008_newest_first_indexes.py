"""lists of a unit's, a proposer's and a member's proposals read newest first from indexes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 12:30:00

A list of proposals by unit, by proposer or of one member (📋 我的提案) shows a page of the
newest. With the filter's index ending in the proposal id, the database walks that index from
the newest end and stops at the page, however long the archive is; before, it read, joined
and sorted all of that unit's or person's proposals of every year.

- ``assignment (unit_id, proposal_id, status)``: a unit's proposals.
- ``proposal (proposer_id, id)`` replaces ``proposal (proposer_id)``: a proposer's.
- ``signer (person_id, proposal_id, state)`` replaces ``signer (person_id)``: a member's,
  led or co-signed, and their count without reading the signer rows.
- ``proposal (id, status)``: that count checks each proposal's status here instead of in
  the proposal's wide row.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_assignment_unit_proposal", "assignment", ["unit_id", "proposal_id", "status"]
    )
    op.create_index("ix_proposal_proposer", "proposal", ["proposer_id", "id"])
    op.drop_index("ix_proposal_proposer_id", table_name="proposal")
    op.create_index("ix_signer_person", "signer", ["person_id", "proposal_id", "state"])
    op.drop_index("ix_signer_person_id", table_name="signer")
    op.create_index("ix_proposal_id_status", "proposal", ["id", "status"])
    bind = op.get_bind()
    if (
        bind.dialect.name == "sqlite"
        and bind.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
    ):
        # Statistics kept from an earlier ANALYZE would know nothing of the new indexes.
        for table in ("proposal", "signer", "assignment"):
            op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    op.drop_index("ix_proposal_id_status", table_name="proposal")
    op.create_index("ix_signer_person_id", "signer", ["person_id"])
    op.drop_index("ix_signer_person", table_name="signer")
    op.create_index("ix_proposal_proposer_id", "proposal", ["proposer_id"])
    op.drop_index("ix_proposal_proposer", table_name="proposal")
    op.drop_index("ix_assignment_unit_proposal", table_name="assignment")
