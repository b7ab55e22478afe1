"""proposals merged into a main handled again (重新办理) wait for its new reply

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 18:00:00

重新办理 used to leave the proposals merged into the main 已答复, with the earlier reply
still open to their signers' rating (a 满意 closed them, and the new reply then passed them
by). It now takes them back to 已并案 with their main (rehandle_merged), and the new reply
reaches them when approved (deliver_merged, from 已并案 only). The merged proposals already
left delivered while their main is handled again are moved the same way, each with the
audit event the move writes, by the system. The downgrade leaves them 已并案: the code before
this revision delivers the new reply to a merged proposal from there too.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AT = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    proposal = sa.table(
        "proposal",
        sa.column("id", sa.Integer),
        sa.column("status", sa.String),
        sa.column("merged_into_id", sa.Integer),
        sa.column("rehandle_count", sa.Integer),
        sa.column("delivered_at", AT),
        sa.column("updated_at", AT),
    )
    audit_event = sa.table(
        "audit_event",
        sa.column("at", AT),
        sa.column("actor_id", sa.Integer),
        sa.column("action", sa.String),
        sa.column("proposal_id", sa.Integer),
        sa.column("from_status", sa.String),
        sa.column("to_status", sa.String),
        sa.column("detail", sa.JSON),
    )
    main = proposal.alias("main")
    conn = op.get_bind()
    waiting = conn.execute(
        sa.select(proposal.c.id, main.c.id)
        .join(main, main.c.id == proposal.c.merged_into_id)
        .where(
            proposal.c.status == "delivered",
            main.c.status.in_(["assigned", "replied"]),
            main.c.rehandle_count > 0,
        )
        .order_by(proposal.c.id)
    ).all()
    now = datetime.now(UTC)
    for proposal_id, main_id in waiting:
        conn.execute(
            proposal.update()
            .where(proposal.c.id == proposal_id)
            .values(status="merged", delivered_at=None, updated_at=now)
        )
        conn.execute(
            audit_event.insert().values(
                at=now,
                actor_id=None,
                action="rehandle_merged",
                proposal_id=proposal_id,
                from_status="delivered",
                to_status="merged",
                detail={"target_id": main_id},
            )
        )


def downgrade() -> None:
    pass  # see the module's note: nothing to undo
