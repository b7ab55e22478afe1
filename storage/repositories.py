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
from sqlalchemy import text as sa_text
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, func, or_, select

from storage.models import Assignment, Person, Proposal, Signer, Unit, pk

# Status codes used in queries (the workflow owns their meaning).
DRAFT, WITHDRAWN, REASSIGNED = "draft", "withdrawn", "reassigned"
OPEN_FOR_HANDLING = ("assigned", "replied")
SIGNING = ("confirmed", "pending")  # a signer who signs the proposal or has yet to answer


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


def names_of(session: Session, model: type[Person] | type[Unit], ids: Iterable[int]) -> dict:
    """id → name of these people or units (those that exist)."""
    wanted = set(ids)
    if not wanted:
        return {}
    ident = col(model.id)
    rows = session.exec(select(ident, col(model.name)).where(one_of(session, ident, wanted)))
    return dict(rows.all())


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


def latest_numbered_year(session: Session) -> int | None:
    """The latest year a proposal was filed (numbered) in."""
    return session.exec(
        select(func.max(Proposal.year)).where(col(Proposal.number).is_not(None))
    ).one()


def years_with_number(session: Session, *, number: int) -> list[int]:
    """The years that have a proposal numbered ``number``, newest first."""
    return list(
        session.exec(
            select(Proposal.year)
            .where(Proposal.number == number)
            .order_by(col(Proposal.year).desc())
        ).all()
    )


@dataclass(frozen=True)
class ProposalFilter:
    status: str | None = None
    unit_id: int | None = None
    year: int | None = None
    overdue: bool = False
    proposer_id: int | None = None


def register_order(proposal: Proposal) -> tuple:
    """The order of the register: year (newest first), then number (unnumbered last)."""
    return (-proposal.year, proposal.number is None, proposal.number or 0, pk(proposal))


def list_proposals(
    session: Session, *, flt: ProposalFilter, today: date, limit: int = 200, offset: int = 0
) -> list[Proposal]:
    """Submitted proposals (never drafts) matching ``flt``: the ``limit`` written last
    (after the ``offset`` newer ones), in the order of the register.

    The page is found newest first along an index that ends in the proposal id (the
    unit's assignments, the proposer's, the status's or the year's proposals, or the
    table itself), read from its newest end and left at the page: a page costs the same
    however many years the archive holds. A proposal's year is the year it was submitted in,
    so the newest written are those of the latest years."""
    newest: Any = col(Proposal.id)
    stmt = select(newest)
    if flt.unit_id:
        newest = col(Assignment.proposal_id)
        stmt = (
            select(newest)
            .distinct()  # a unit may hold a proposal twice (lead and co-handling)
            .join(Proposal, col(Proposal.id) == newest)
            .where(Assignment.unit_id == flt.unit_id, col(Assignment.status) != REASSIGNED)
        )
    # Never a draft, nor a draft deleted unsubmitted (kept as withdrawn, never submitted).
    stmt = stmt.where(Proposal.status != DRAFT, col(Proposal.submitted_at).is_not(None))
    if flt.status:
        stmt = stmt.where(Proposal.status == flt.status)
    if flt.year:
        stmt = stmt.where(Proposal.year == flt.year)
    if flt.proposer_id:
        stmt = stmt.where(Proposal.proposer_id == flt.proposer_id)
    if flt.overdue:
        stmt = stmt.where(
            col(Proposal.status).in_(OPEN_FOR_HANDLING), col(Proposal.due_date) < today
        )
    ids = list(session.exec(stmt.order_by(newest.desc()).offset(offset).limit(limit)).all())
    return sorted(_proposals(session, ids), key=register_order)


def _proposals(session: Session, ids: Sequence[int]) -> list[Proposal]:
    """The proposals of these ids, in the same order (those that exist)."""
    if not ids:
        return []
    rows = {
        pk(p): p
        for p in session.exec(select(Proposal).where(one_of(session, col(Proposal.id), ids)))
    }
    return [rows[i] for i in ids if i in rows]


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


def _of_person(person_id: int, year: int):
    """A member's submitted proposals of a year (as lead or co-signer, not withdrawn): ids as
    a query, one range of ``ix_signer_person_year``."""
    return (
        select(Signer.proposal_id)
        .join(Proposal, col(Proposal.id) == Signer.proposal_id)
        .where(Signer.person_id == person_id, Signer.year == year)
        .where(col(Signer.state).in_(SIGNING))
        .where(col(Proposal.status).not_in([WITHDRAWN, DRAFT]))
    )


def years_of_person(session: Session, *, person_id: int) -> list[int]:
    """The years of a member's submitted proposals (as lead or co-signer), newest first: the
    years of the member's signatures in the index, no proposal read. A year whose proposals
    were all withdrawn is among them (its list says it has none)."""
    year = cast("Mapped[int]", Signer.year)  # never NULL where it is read
    return list(
        session.exec(
            select(year)
            .where(Signer.person_id == person_id, col(year).is_not(None))
            .where(col(Signer.state).in_(SIGNING))
            .distinct()
            .order_by(col(year).desc())
        ).all()
    )


# How many: ``_of_person``'s conditions (bound from the same constants), with each
# signature's proposal status read from ``proposal (id, status)``, not from the proposal's
# wide row; SQLite, without statistics, prefers the row and is told (INDEXED BY).
_COUNT_OF_PERSON = """
SELECT count(*) FROM signer JOIN proposal {hint} ON proposal.id = signer.proposal_id
WHERE signer.person_id = :person_id AND signer.year = :year
AND signer.state IN (:confirmed, :pending) AND proposal.status NOT IN (:withdrawn, :draft)
"""


_COUNTS_OF_PERSON = {
    "sqlite": sa_text(_COUNT_OF_PERSON.format(hint="INDEXED BY ix_proposal_id_status")),
    "postgresql": sa_text(_COUNT_OF_PERSON.format(hint="")),
}


def count_proposals_of(session: Session, *, person_id: int, year: int) -> int:
    """How many proposals ``proposals_of`` lists, counted from indexes alone."""
    statement = _COUNTS_OF_PERSON[session.get_bind().dialect.name]
    confirmed, pending = SIGNING
    params = {
        "person_id": person_id,
        "year": year,
        "confirmed": confirmed,
        "pending": pending,
        "withdrawn": WITHDRAWN,
        "draft": DRAFT,
    }
    return session.connection().execute(statement, params).scalar_one()


def proposals_of(
    session: Session, *, person_id: int, year: int, offset: int = 0, limit: int | None = None
) -> list[Proposal]:
    """A member's submitted proposals of a year (as lead or co-signer), newest first;
    ``limit`` of them from ``offset``, only those read."""
    ids = list(
        session.exec(
            _of_person(person_id, year)
            .order_by(col(Signer.proposal_id).desc())
            .offset(offset)
            .limit(limit)
        ).all()
    )
    return _proposals(session, ids)
