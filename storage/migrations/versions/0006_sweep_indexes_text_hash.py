"""indexes the scheduled sweeps read by; the proposal text fingerprint

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 12:00:00

- ``audit_event (action, assignment_id, at)``: the due-date reminders find the assignments
  whose due date was moved (延期, 重新办理) without reading the whole audit log.
- ``proposal (submitted_at)``: the daily digest finds the day's new submissions directly.
- ``proposal (disclose, published)``: publication finds the few disclosed proposals not yet
  published, not every closed one.
- ``proposal.text_hash``: a fingerprint of a proposal's title, analysis and suggestions, kept
  on every write, filled in here for the proposals already there.
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_audit_event_action_assignment", "audit_event", ["action", "assignment_id", "at"]
    )
    op.create_index("ix_proposal_submitted_at", "proposal", ["submitted_at"])
    op.create_index("ix_proposal_publication", "proposal", ["disclose", "published"])
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.add_column(sa.Column("text_hash", sa.String(length=40), nullable=True))
    proposal = sa.table(
        "proposal",
        sa.column("id", sa.Integer),
        sa.column("title", sa.String),
        sa.column("analysis", sa.Text),
        sa.column("suggestions", sa.Text),
        sa.column("text_hash", sa.String),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(proposal.c.id, proposal.c.title, proposal.c.analysis, proposal.c.suggestions)
    ).all()
    updates = [
        {
            "pid": pid,
            "h": hashlib.sha1(f"{t or ''}\0{a or ''}\0{s or ''}".encode()).hexdigest(),
        }
        for pid, t, a, s in rows
    ]
    if updates:
        conn.execute(
            proposal.update()
            .where(proposal.c.id == sa.bindparam("pid"))
            .values(text_hash=sa.bindparam("h")),
            updates,
        )


def downgrade() -> None:
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.drop_column("text_hash")
    op.drop_index("ix_proposal_publication", table_name="proposal")
    op.drop_index("ix_proposal_submitted_at", table_name="proposal")
    op.drop_index("ix_audit_event_action_assignment", table_name="audit_event")
