"""Repositories: the queries the workflow and the channels share, keyword-only and plain.

They return rows or ``None`` and never decide anything; refusals belong to ``workflow``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import ARRAY, ColumnElement, Select, literal, literal_column
from sqlalchemy import select as sa_select
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, func, or_, select

from storage.models import Assignment, Person, Proposal, Signer, Unit, pk

# Status codes used in queries (the workflow owns their meaning).
DRAFT, WITHDRAWN, REASSIGNED = "draft", "withdrawn", "reassigned"
OPEN_FOR_HANDLING = ("assigned", "replied")


def one_of(session: Session, column: Any, values: Iterable) -> ColumnElement[bool]:
    """``column IN values`` with the values sent as one parameter, however many there are:
    an array on PostgreSQL (``unnest``), a JSON list on SQLite (``json_each``). A sweep asks
    about thousands at once; as separate parameters each costs a bind to compile and parse
    (6,000 idempotency keys: ~100 ms more on PostgreSQL than as one array)."""
    listed = list(values)
    if session.get_bind().dialect.name == "postgresql":
        # IN (SELECT unnest(..)), not = ANY(..): the planner then probes the index for each
        # value instead of scanning the table when there are thousands.
        return column.in_(sa_select(func.unnest(literal(listed, ARRAY(column.type)))))
    each: Select = sa_select(literal_column("value")).select_from(
        func.json_each(json.dumps(listed))
    )
    return column.in_(each)


def people_with_role(session: Session, *, role: str, unit_id: int | None = None) -> list[int]:
    """Ids of active people holding ``role`` (in ``unit_id`` if given)."""
    # A stored row's id is never NULL; the model types it ``int | None`` for unsaved rows.
    person_id = cast("Mapped[int]", Person.id)
    stmt = select(person_id).where(col(Person.roles).contains(role), Person.active)
    if unit_id is not None:
        stmt = stmt.where(Person.unit_id == unit_id)
    return list(session.exec(stmt.order_by(person_id)).all())


def signer_ids(session: Session, *, proposal_id: int, confirmed_only: bool = True) -> list[int]:
    stmt = select(Signer.person_id).where(Signer.proposal_id == proposal_id)
    if confirmed_only:
        stmt = stmt.where(Signer.state == "confirmed")
    return list(session.exec(stmt.order_by(col(Signer.position))).all())


def person_by_phone(session: Session, *, phone: str) -> Person | None:
    return session.exec(select(Person).where(Person.phone == phone)).first()


def people_named(session: Session, *, name: str) -> list[Person]:
    return list(session.exec(select(Person).where(Person.name == name)).all())


def unit_by_name(session: Session, *, name: str) -> Unit | None:
    """A unit by its full or short name."""
    return session.exec(
        select(Unit).where(or_(Unit.name == name, Unit.short_name == name))
    ).first()


def proposal_by_number(session: Session, *, year: int, number: int) -> Proposal | None:
    return session.exec(
        select(Proposal).where(Proposal.year == year, Proposal.number == number)
    ).first()


def latest_year(session: Session) -> int | None:
    return session.exec(select(func.max(Proposal.year))).one()


@dataclass(frozen=True)
class ProposalFilter:
    status: str | None = None
    unit_id: int | None = None
    year: int | None = None
    overdue: bool = False
    proposer_id: int | None = None


def list_proposals(
    session: Session, *, flt: ProposalFilter, today: date, limit: int = 200, offset: int = 0
) -> list[Proposal]:
    """Submitted proposals (never drafts) matching ``flt``, by year and number."""
    stmt = select(Proposal).where(Proposal.status != DRAFT)
    if flt.status:
        stmt = stmt.where(Proposal.status == flt.status)
    if flt.year:
        stmt = stmt.where(Proposal.year == flt.year)
    if flt.proposer_id:
        stmt = stmt.where(Proposal.proposer_id == flt.proposer_id)
    if flt.unit_id:
        stmt = stmt.where(
            col(Proposal.id).in_(
                select(Assignment.proposal_id).where(
                    Assignment.unit_id == flt.unit_id, col(Assignment.status) != REASSIGNED
                )
            )
        )
    if flt.overdue:
        stmt = stmt.where(
            col(Proposal.status).in_(OPEN_FOR_HANDLING), col(Proposal.due_date) < today
        )
    stmt = stmt.order_by(
        col(Proposal.year).desc(),
        col(Proposal.number).is_(None),
        col(Proposal.number),
        col(Proposal.id),
    )
    return list(session.exec(stmt.offset(offset).limit(limit)).all())


def lead_units(session: Session, *, proposal_ids: Sequence[int]) -> dict[int, int]:
    """proposal id -> its current lead unit id."""
    if not proposal_ids:
        return {}
    rows = session.exec(
        select(Assignment.proposal_id, Assignment.unit_id).where(
            col(Assignment.proposal_id).in_(proposal_ids),
            Assignment.role == "lead",
            col(Assignment.status) != REASSIGNED,
        )
    ).all()
    return dict(rows)


def _of_person(person_id: int):
    """A member's submitted proposals (as lead or co-signer, not withdrawn): ids as a query."""
    return (
        select(Signer.proposal_id)
        .join(Proposal, col(Proposal.id) == Signer.proposal_id)
        .where(Signer.person_id == person_id, col(Signer.state).in_(["confirmed", "pending"]))
        .where(col(Proposal.status).not_in([WITHDRAWN, DRAFT]))
    )


def count_proposals_of(session: Session, *, person_id: int) -> int:
    return session.exec(select(func.count()).select_from(_of_person(person_id).subquery())).one()


def proposals_of(
    session: Session, *, person_id: int, offset: int = 0, limit: int | None = None
) -> list[Proposal]:
    """A member's submitted proposals (as lead or co-signer), newest first; ``limit`` of
    them from ``offset``, only those read (a member of twenty years has hundreds)."""
    ids = list(
        session.exec(
            _of_person(person_id)
            .order_by(col(Signer.proposal_id).desc())
            .offset(offset)
            .limit(limit)
        ).all()
    )
    if not ids:
        return []
    rows = {pk(p): p for p in session.exec(select(Proposal).where(col(Proposal.id).in_(ids)))}
    return [rows[i] for i in ids]
