"""The assignments a handling unit has finished (已办结的交办): those of its assignments that
ended done, as lead (主办) or co-handling (协办) unit, listed one year at a time and a page
at a time, and one of their proposals opened. Only the unit's handlers read them: the list
and the record it opens are refused to anyone who is not a handler of a unit, and a proposal
the reader's unit has not finished handling is refused whoever asks for it.

An assignment the unit was relieved of by 改交 (``reassigned``) is not the unit's any more
(``permissions.unit_party`` no longer lets it read the record), so it is not listed either.
Each lead assignment carries the class (A/B/C) of the unit's approved reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, and_, false
from sqlmodel import col, func, select

from storage import repositories as repo
from storage.models import Assignment, Proposal, Reply, pk
from workflow.core import Ctx
from workflow.errors import PermissionDenied
from workflow.roles import Role
from workflow.statuses import AssignmentStatus


@dataclass(frozen=True)
class Finished:
    """One line of the list: the proposal, the unit's part in it (lead | co), the local day
    the unit's assignment ended and, for the lead unit, the class of its approved reply."""

    proposal: Proposal
    role: str
    ended: date | None
    reply_class: str | None


def _unit_id(ctx: Ctx) -> int:
    """The actor's unit; refused to anyone who is not a handler of a unit."""
    actor = ctx.actor
    if actor is None or actor.unit_id is None or not ctx.has_role(Role.HANDLER):
        raise PermissionDenied("只有承办单位的办理人员可以查看本单位已办结的交办。")
    return actor.unit_id


def _finished(ctx: Ctx, *also: ColumnElement[bool]) -> ColumnElement[bool]:
    """The actor's unit's finished assignments (those meeting ``also``), read from the index
    ``ix_assignment_unit_status_year``: a year's are one range of it."""
    return and_(
        col(Assignment.unit_id) == _unit_id(ctx),
        col(Assignment.status) == AssignmentStatus.DONE,
        *also,
    )


def this_year(ctx: Ctx) -> int | None:
    """The year the list opens on: this year's (the latest year a proposal was filed in)."""
    return repo.latest_numbered_year(ctx.session)


def years(ctx: Ctx) -> list[int]:
    """The years of the proposals the actor's unit has finished handling, newest first: the
    years of the unit's entries in the index, no proposal read."""
    return list(
        ctx.session.exec(
            select(Assignment.year)
            .where(_finished(ctx))
            .distinct()
            .order_by(col(Assignment.year).desc())
        ).all()
    )


def count(ctx: Ctx, *, year: int | None) -> int:
    """How many finished assignments ``page`` lists of ``year``: the length of one range of
    the index."""
    return ctx.session.exec(
        select(func.count()).select_from(Assignment).where(_finished(ctx, _of_year(year)))
    ).one()


def page(ctx: Ctx, *, year: int | None, offset: int, limit: int) -> list[Finished]:
    """``limit`` of the actor's unit's finished assignments of ``year`` from ``offset``, by
    the proposal's number: the year's assignments, each joined to its proposal."""
    rows = ctx.session.exec(
        select(Assignment, Proposal)
        .join(Proposal, col(Proposal.id) == col(Assignment.proposal_id))
        .where(_finished(ctx, _of_year(year)))
        .order_by(col(Proposal.number), col(Proposal.id))
        .offset(offset)
        .limit(limit)
    ).all()
    leads = {pk(a): pk(p) for a, p in rows if a.role == "lead"}
    classes: dict[int, str] = {}
    if leads:
        for reply in ctx.session.exec(
            select(Reply)
            .where(col(Reply.proposal_id).in_(list(leads.values())), Reply.status == "approved")
            .order_by(col(Reply.version))
        ).all():
            if reply.assignment_id in leads:  # the latest approved letter of this unit's
                classes[reply.assignment_id] = reply.reply_class
    return [
        Finished(
            proposal,
            assignment.role,
            ctx.local(assignment.ended_at).date() if assignment.ended_at else None,
            classes.get(pk(assignment)),
        )
        for assignment, proposal in rows
    ]


def _of_year(year: int | None) -> ColumnElement[bool]:
    """The assignments of ``year``; none when there is no year yet (nothing filed)."""
    return col(Assignment.year) == year if year is not None else false()


def finished_proposal(ctx: Ctx, proposal_id: int) -> Proposal:
    """A proposal the actor's unit has finished handling, to open from the list; any other
    is refused."""
    proposal = ctx.session.exec(
        select(Proposal)
        .join(Assignment, col(Assignment.proposal_id) == col(Proposal.id))
        .where(_finished(ctx), col(Proposal.id) == proposal_id)
    ).first()
    if proposal is None:
        raise PermissionDenied("这件提案不在本单位已办结的交办之中。")
    return proposal
