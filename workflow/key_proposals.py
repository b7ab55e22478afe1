"""The key proposals (重点提案) a person follows: those they oversee as lead leader (牵头领导)
and those their unit supervises (督办单位), listed a page at a time, one year's or the open
ones of every year, and one of them opened. Nobody else reads either: the list and the
record it opens are refused to anyone who follows no key proposal, and a proposal that is
not among the reader's is refused whoever asks for it.

Each item says whether its reply is overdue by the rule the reminders follow
(``assignments.workdays_overdue``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, union
from sqlmodel import col, func, select

from storage import repositories as repo
from storage.models import Assignment, Proposal, Unit, pk
from workflow.assignments import workdays_overdue
from workflow.core import Ctx
from workflow.errors import PermissionDenied
from workflow.roles import Role
from workflow.statuses import AssignmentStatus, ProposalStatus

# Not closed (办结) yet: being handled, its reply in review, or delivered and being rated.
OPEN_STATUSES = (ProposalStatus.ASSIGNED, ProposalStatus.REPLIED, ProposalStatus.DELIVERED)


@dataclass(frozen=True)
class KeyProposal:
    """One line of the list: the proposal, its lead unit, its reply's due date and, when the
    reply is overdue, by how many working days (0 on a day off right after the due date)."""

    proposal: Proposal
    lead_unit: str
    due: date | None
    overdue: int | None


def _followed(ctx: Ctx, *also: ColumnElement[bool]) -> ColumnElement[bool]:
    """Which key proposals the actor follows (those of them that meet ``also``), as a
    condition on ``proposal``, read from the partial indexes ``ix_proposal_key_leader`` and
    ``ix_proposal_key_supervising``, which hold exactly the key proposals. Refused to anyone
    who follows none."""
    key = col(Proposal.is_key) == True  # noqa: E712 - a SQL comparison, as the indexes' predicate
    actor = ctx.actor
    if actor is None:  # the system itself
        return and_(key, *also)
    whose: list[ColumnElement[bool]] = []
    if ctx.has_role(Role.LEADER):
        whose.append(col(Proposal.lead_leader_id) == actor.id)
    if ctx.has_role(Role.SUPERVISOR) and actor.unit_id is not None:
        whose.append(col(Proposal.supervising_unit_id) == actor.unit_id)
    if not whose:
        raise PermissionDenied("只有牵头领导和督办单位的人员可以查看督办的重点提案。")
    if len(whose) == 1:
        return and_(key, whose[0], *also)
    # A leader who also works in a supervising unit: each index read on its own (an OR of
    # the two would have SQLite read the year's or the status's proposals instead).
    each = [select(col(Proposal.id)).where(key, one, *also) for one in whose]
    return col(Proposal.id).in_(union(*each))


def _in_view(ctx: Ctx, year: int | None) -> ColumnElement[bool]:
    """The actor's key proposals of ``year``, or (None) the open ones of every year."""
    if year is None:
        return _followed(ctx, col(Proposal.status).in_(OPEN_STATUSES))
    return _followed(ctx, col(Proposal.year) == year)


def this_year(ctx: Ctx) -> int | None:
    """The year the list opens on: this year's, as /status takes a number without a year
    (the latest year a proposal was filed in)."""
    return repo.latest_numbered_year(ctx.session)


def years(ctx: Ctx) -> list[int]:
    """The years the actor follows key proposals of, newest first."""
    return list(
        ctx.session.exec(
            select(Proposal.year)
            .where(_followed(ctx))
            .distinct()
            .order_by(col(Proposal.year).desc())
        ).all()
    )


def count(ctx: Ctx, *, year: int | None) -> int:
    """How many key proposals ``page`` lists of ``year`` (None: the open ones)."""
    return ctx.session.exec(
        select(func.count()).select_from(Proposal).where(_in_view(ctx, year))
    ).one()


def page(ctx: Ctx, *, year: int | None, offset: int, limit: int) -> list[KeyProposal]:
    """``limit`` of the actor's key proposals of ``year`` from ``offset``, by number; (None)
    the open ones of every year, the oldest year first."""
    order: list[Any] = [col(Proposal.number), col(Proposal.id)]
    if year is None:
        order.insert(0, col(Proposal.year))
    proposals = list(
        ctx.session.exec(
            select(Proposal)
            .where(_in_view(ctx, year))
            .order_by(*order)
            .offset(offset)
            .limit(limit)
        ).all()
    )
    if not proposals:
        return []
    leads = {
        a.proposal_id: a
        for a in ctx.session.exec(
            select(Assignment).where(
                col(Assignment.proposal_id).in_([pk(p) for p in proposals]),
                Assignment.role == "lead",
                col(Assignment.status) != AssignmentStatus.REASSIGNED,
            )
        ).all()
    }
    units = repo.names_of(ctx.session, Unit, [a.unit_id for a in leads.values()])
    items = []
    for proposal in proposals:
        lead = leads.get(pk(proposal))
        items.append(
            KeyProposal(
                proposal,
                units.get(lead.unit_id, "") if lead else "",
                lead.due_date if lead else proposal.due_date,
                workdays_overdue(ctx, lead) if lead else None,
            )
        )
    return items


def followed_proposal(ctx: Ctx, proposal_id: int) -> Proposal:
    """One of the actor's key proposals, to open from the list; any other is refused."""
    proposal = ctx.session.exec(
        select(Proposal).where(Proposal.id == proposal_id, _followed(ctx))
    ).first()
    if proposal is None:
        raise PermissionDenied("这件提案不在您督办的重点提案之中。")
    return proposal
