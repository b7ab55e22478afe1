"""Taking notices out of the outbox.

A notice is claimed inside a transaction with ``FOR UPDATE SKIP LOCKED`` (on PostgreSQL), so
two processes never take the same one; it is marked sent in the same transaction that hands
it over. The full dispatcher (pacing, retries, quiet hours, every channel) builds on this.

``render_notice`` says a notice in the recipient's language, with its buttons.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from handlers.i18n import gettext
from storage.models import Notice
from workflow.texts import Text


def render_notice(notice: Notice, locale: str) -> tuple[str, list[dict]]:
    """The notice's text in ``locale`` and its actions with translated labels (payloads as
    they are). A notice written before its Text was kept is said as its (Chinese) text."""

    def translate(message: str) -> str:
        return gettext(locale, message)

    if notice.message:
        text = Text.from_json(notice.message).render(translate, locale)
    else:
        text = notice.text
    actions = [{**action, "label": translate(action["label"])} for action in notice.actions or []]
    return text, actions


def claim_for_person(
    session: Session, person_id: int, now: datetime, limit: int = 20
) -> list[Notice]:
    """The person's pending notices that are due, marked sent, oldest first; parked ones too
    (the console reaches a person who has no chat account)."""
    notices = list(
        session.exec(
            select(Notice)
            .where(
                Notice.person_id == person_id,
                col(Notice.state).in_(["pending", "parked"]),
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
