"""Taking notices out of the outbox.

A notice is claimed inside a transaction with ``FOR UPDATE SKIP LOCKED`` (on PostgreSQL), so
two processes never take the same one; it is marked sent in the same transaction that hands
it over. The full dispatcher (pacing, retries, quiet hours, every channel) builds on this.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from storage.models import Notice


def claim_for_person(
    session: Session, person_id: int, now: datetime, limit: int = 20
) -> list[Notice]:
    """The person's pending notices that are due, marked sent, oldest first."""
    notices = list(
        session.exec(
            select(Notice)
            .where(
                Notice.person_id == person_id,
                Notice.state == "pending",
                col(Notice.not_before) <= now,
            )
            .order_by(col(Notice.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
    )
    for notice in notices:
        notice.state = "sent"
        notice.sent_at = now
        notice.attempts += 1
        session.add(notice)
    return notices
