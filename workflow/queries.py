"""Read-side queries: lists with filters, a person's own proposals, lookups by number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, func, or_, select

from storage.models import Assignment, Person, Proposal, Signer, Unit
from workflow.errors import InvalidInput, NotFound
from workflow.statuses import PROPOSAL_STATUS_LABELS, AssignmentStatus, ProposalStatus

OPEN_FOR_HANDLING = (ProposalStatus.ASSIGNED, ProposalStatus.REPLIED)


@dataclass(frozen=True)
class ProposalFilter:
    status: str | None = None
    unit_id: int | None = None
    year: int | None = None
    overdue: bool = False
    proposer_id: int | None = None


def parse_status(text: str) -> str:
    """Accept a status code (filed) or its Chinese label (已立案)."""
    text = text.strip()
    if text in PROPOSAL_STATUS_LABELS:
        return text
    for code, label in PROPOSAL_STATUS_LABELS.items():
        if label == text:
            return code
    choices = "、".join(f"{c}({lbl})" for c, lbl in PROPOSAL_STATUS_LABELS.items())
    raise InvalidInput(f"没有「{text}」这个状态，可选：{choices}")


def find_unit(session: Session, text: str) -> Unit:
    text = text.strip()
    unit = session.exec(
        select(Unit).where(or_(Unit.name == text, Unit.short_name == text))
    ).first()
    if unit is None and text.isdigit():
        unit = session.get(Unit, int(text))
    if unit is None:
        raise NotFound(f"找不到单位「{text}」。")
    return unit


def find_person(session: Session, text: str) -> Person:
    """By phone, or by name when the name is unique."""
    text = text.strip()
    digits = text.replace("-", "").replace(" ", "")
    person = session.exec(select(Person).where(Person.phone == digits)).first()
    if person is not None:
        return person
    people = session.exec(select(Person).where(Person.name == text)).all()
    if len(people) == 1:
        return people[0]
    if len(people) > 1:
        phones = "、".join(p.phone[-4:] for p in people)
        raise InvalidInput(
            f"名册里有 {len(people)} 位「{text}」（手机尾号 {phones}），请用手机号指定。"
        )
    raise NotFound(f"名册里没有「{text}」。")


def list_proposals(
    session: Session, flt: ProposalFilter, *, today: date, limit: int = 200, offset: int = 0
) -> list[Proposal]:
    stmt = select(Proposal).where(Proposal.status != ProposalStatus.DRAFT)
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
                    Assignment.unit_id == flt.unit_id,
                    col(Assignment.status) != AssignmentStatus.REASSIGNED,
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


def get_by_number(session: Session, number: int, year: int) -> Proposal:
    proposal = session.exec(
        select(Proposal).where(Proposal.year == year, Proposal.number == number)
    ).first()
    if proposal is None:
        raise NotFound(f"{year}年度没有第{number}号提案。")
    return proposal


def latest_year(session: Session) -> int | None:
    return session.exec(select(func.max(Proposal.year))).one()


def proposals_of(session: Session, person_id: int) -> list[Proposal]:
    """A member's own proposals (as lead or co-signer), newest first."""
    stmt = (
        select(Proposal)
        .join(Signer, Signer.proposal_id == Proposal.id)
        .where(Signer.person_id == person_id, col(Signer.state).in_(["confirmed", "pending"]))
        .where(Proposal.status != ProposalStatus.WITHDRAWN)
        .order_by(col(Proposal.id).desc())
    )
    return list(session.exec(stmt).all())


def lead_units(session: Session, proposal_ids: list[int]) -> dict[int, int]:
    """proposal id -> its current lead unit id."""
    if not proposal_ids:
        return {}
    rows = session.exec(
        select(Assignment.proposal_id, Assignment.unit_id).where(
            col(Assignment.proposal_id).in_(proposal_ids),
            Assignment.role == "lead",
            col(Assignment.status) != AssignmentStatus.REASSIGNED,
        )
    ).all()
    return dict(rows)
