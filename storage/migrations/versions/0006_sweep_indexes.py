"""indexes the scheduled sweeps read by

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 12:00:00

- ``audit_event (action, assignment_id, at)``: the due-date reminders find the assignments
  whose due date was moved (延期, 重新办理) without reading the whole audit log.
- ``proposal (submitted_at)``: the daily digest finds the day's new submissions directly.
- ``proposal (disclose, published)``: publication finds the few disclosed proposals not yet
  published, not every closed one.
"""

from collections.abc import Sequence

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


def downgrade() -> None:
    op.drop_index("ix_proposal_publication", table_name="proposal")
    op.drop_index("ix_proposal_submitted_at", table_name="proposal")
    op.drop_index("ix_audit_event_action_assignment", table_name="audit_event")
