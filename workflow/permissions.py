"""Relations between the actor and the record: checked by every service after the role."""

from __future__ import annotations

from sqlmodel import col, select

from storage.models import Assignment, Person, Proposal, Signer, pk
from workflow.core import Ctx
from workflow.errors import PermissionDenied
from workflow.roles import Role
from workflow.statuses import ACTIVE_ASSIGNMENT_STATUSES, ProposalStatus


def require_proposer(ctx: Ctx, proposal: Proposal) -> None:
    if ctx.actor is None:
        return
    if proposal.proposer_id != ctx.actor_id:
        raise PermissionDenied("只有提案人本人可以进行此操作。")


def require_unit_handler(ctx: Ctx, assignment: Assignment) -> None:
    """The actor must be a handler of the assigned unit."""
    if ctx.actor is None:
        return
    if not ctx.has_role(Role.HANDLER) or ctx.actor.unit_id != assignment.unit_id:
        raise PermissionDenied("这项交办不属于您所在的单位。")


def require_reply_reviewer(ctx: Ctx, proposal: Proposal) -> None:
    """Staff review every reply; a supervising unit reviews the proposals it supervises."""
    if ctx.actor is None or ctx.has_role(Role.STAFF):
        return
    if (
        ctx.has_role(Role.SUPERVISOR)
        and proposal.supervising_unit_id is not None
        and ctx.actor.unit_id == proposal.supervising_unit_id
    ):
        return
    raise PermissionDenied("只有提案委或本提案的督办单位可以审核答复。")


def signer_of(ctx: Ctx, proposal_id: int, person_id: int | None) -> Signer | None:
    if person_id is None:
        return None
    return ctx.session.exec(
        select(Signer).where(Signer.proposal_id == proposal_id, Signer.person_id == person_id)
    ).first()


def signed_among(ctx: Ctx, proposal_ids: list[int], person_id: int | None) -> set[int]:
    """The ids, among ``proposal_ids``, of the proposals ``person_id`` signs: one query."""
    if person_id is None or not proposal_ids:
        return set()
    return set(
        ctx.session.exec(
            select(Signer.proposal_id)
            .where(col(Signer.proposal_id).in_(proposal_ids))
            .where(Signer.person_id == person_id)
        ).all()
    )


# A disclosed proposal is public once the committee took it up: filed (and on through its
# handling), or merged into another (并案: handled with it, its proposer answered too).
PUBLIC_STATUSES = frozenset(
    {
        ProposalStatus.FILED,
        ProposalStatus.MERGED,
        ProposalStatus.ASSIGNED,
        ProposalStatus.REPLIED,
        ProposalStatus.DELIVERED,
        ProposalStatus.CLOSED,
    }
)


def can_view(ctx: Ctx, proposal: Proposal) -> bool:
    """Who may read a record: staff; its signers; the units, supervisors and leader on it;
    anyone bound once a disclosed proposal has been filed or merged into another."""
    actor: Person | None = ctx.actor
    if actor is None or ctx.has_role(Role.STAFF):
        return True
    if proposal.proposer_id == actor.id:
        return True
    signer = signer_of(ctx, pk(proposal), actor.id)
    if signer is not None and signer.state in ("pending", "confirmed"):
        return True
    if proposal.status == ProposalStatus.DRAFT:
        return False
    if proposal.lead_leader_id == actor.id:
        return True
    if unit_party(ctx, proposal):
        return True
    return proposal.disclose and proposal.status in PUBLIC_STATUSES


def unit_party(ctx: Ctx, proposal: Proposal) -> bool:
    """The actor works on the proposal for their unit: a supervisor of its supervising unit,
    or a handler of a unit that has it (not a unit it was taken from by 改交)."""
    actor = ctx.actor
    if actor is None or actor.unit_id is None:
        return False
    if proposal.supervising_unit_id == actor.unit_id and ctx.has_role(Role.SUPERVISOR):
        return True
    if not ctx.has_role(Role.HANDLER):
        return False
    unit_ids = ctx.session.exec(
        select(Assignment.unit_id).where(
            Assignment.proposal_id == proposal.id,
            col(Assignment.status).in_([*ACTIVE_ASSIGNMENT_STATUSES, "done"]),
        )
    ).all()
    return actor.unit_id in unit_ids


def require_view(ctx: Ctx, proposal: Proposal) -> None:
    if not can_view(ctx, proposal):
        raise PermissionDenied("您无权查看这件提案。")
