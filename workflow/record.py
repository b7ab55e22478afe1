"""The record as a person reads it: laid out like the printed page of a proposal system
(proposal, handling metadata, reply letter, rating), plus its timeline."""

from __future__ import annotations

from sqlmodel import col, select

from storage.models import (
    Assignment,
    AuditEvent,
    ContactRecord,
    Person,
    Proposal,
    Rating,
    Reply,
    Signer,
    Unit,
)
from workflow.assignments import CONTACT_METHODS
from workflow.core import Ctx, fmt_date, fmt_time
from workflow.numbering import long_number, short_number
from workflow.permissions import require_view, signer_of
from workflow.proposals import CATEGORIES
from workflow.replies import CLASS_MEANINGS, RATINGS, delivered_reply
from workflow.roles import Role
from workflow.statuses import (
    ASSIGNMENT_TRANSITIONS,
    PROPOSAL_TRANSITIONS,
    AssignmentStatus,
    ProposalStatus,
    proposal_label,
)

REVIEW_RESULTS = {
    ProposalStatus.DRAFT: "未提交",
    ProposalStatus.SUBMITTED: "待审查",
    ProposalStatus.WITHDRAWN: "已撤回",
    ProposalStatus.NOT_FILED: "不予立案",
    ProposalStatus.MERGED: "已并案",
    ProposalStatus.CONVERTED: "转为意见建议",
}

EXTRA_ACTION_LABELS = {
    "create": "创建草稿",
    "assignment_create": "交办单位",
    "cosign_expired": "联名确认截止",
    "rating_not_given": "评价期满未评价",
    "roster_import_people": "导入人员名册",
    "roster_import_units": "导入单位名册",
    "invite_issued": "发放邀请码",
    "account_bound": "绑定账号",
}


def action_label(action: str) -> str:
    if action in EXTRA_ACTION_LABELS:
        return EXTRA_ACTION_LABELS[action]
    if action.startswith("assignment_"):
        transition = ASSIGNMENT_TRANSITIONS.get(action.removeprefix("assignment_"))
        if transition:
            return transition.label
    transition = PROPOSAL_TRANSITIONS.get(action)
    return transition.label if transition else action


def is_party(ctx: Ctx, proposal: Proposal) -> bool:
    """Signers, staff and the people handling it see contact details; the public does not."""
    if ctx.actor is None or ctx.has_role(Role.STAFF):
        return True
    signer = signer_of(ctx, proposal.id, ctx.actor_id)
    if signer is not None:
        return True
    units = {proposal.supervising_unit_id} | set(
        ctx.session.exec(
            select(Assignment.unit_id).where(Assignment.proposal_id == proposal.id)
        ).all()
    )
    return proposal.lead_leader_id == ctx.actor_id or (
        ctx.actor.unit_id is not None and ctx.actor.unit_id in units
    )


def _names(ctx: Ctx, ids) -> str:
    people = {
        p.id: p.name for p in ctx.session.exec(select(Person).where(col(Person.id).in_(ids)))
    }
    return "、".join(people[i] for i in ids if i in people)


def render_record(ctx: Ctx, proposal: Proposal, *, timeline: bool = False) -> str:
    """The whole record the actor may see, as the printed page lays it out."""
    require_view(ctx, proposal)
    s = ctx.session
    public = not is_party(ctx, proposal)
    signers = s.exec(
        select(Signer).where(Signer.proposal_id == proposal.id).order_by(Signer.position)
    ).all()
    confirmed = [x.person_id for x in signers if x.state == "confirmed"]
    pending = [x.person_id for x in signers if x.state == "pending"]
    lead_name = _names(ctx, [proposal.proposer_id])
    category = CATEGORIES.get(proposal.category, proposal.category)

    lines = [
        f"{ctx.rules.committee_name} - 提案",
        f"{category} >> {proposal.title or '（未填写标题）'}",
    ]
    lines.append(f"编 号:{short_number(proposal.number)} 所属类别:{category}")
    proposer_line = f"提案人:{_names(ctx, confirmed)}"
    if proposal.category == "collective" and proposal.collective_body:
        proposer_line = f"提案人:{proposal.collective_body}（领衔：{lead_name}）"
    lines.append(proposer_line)
    if pending and not public:
        lines.append(f"待确认联名:{_names(ctx, pending)}")
    lines.append(
        f"会 次:{proposal.session_label}" + (f" 领域:{proposal.field}" if proposal.field else "")
    )
    lines.append("  一、存在问题")
    lines += [f"  {p}" for p in proposal.analysis.splitlines() if p.strip()]
    lines.append("  二、建议")
    lines += [f"  {p}" for p in proposal.suggestions.splitlines() if p.strip()]
    if proposal.suggested_unit:
        lines.append(f"建议承办单位:{proposal.suggested_unit}")

    review = REVIEW_RESULTS.get(proposal.status, "已立案")
    lines.append(f"审查结果:{review} 信息公开:{'是' if proposal.disclose else '否'}")
    if proposal.status == ProposalStatus.NOT_FILED and proposal.review_reason:
        lines.append(f"不予立案理由:{proposal.review_reason}")
    if proposal.status in (ProposalStatus.MERGED,) or proposal.merged_into_id:
        main = s.get(Proposal, proposal.merged_into_id) if proposal.merged_into_id else None
        if main is not None:
            lines.append(f"并案:并入{short_number(main.number)}提案《{main.title}》")
    if proposal.status == ProposalStatus.CONVERTED and proposal.review_reason:
        lines.append(f"说明:{proposal.review_reason}")

    handling = s.get(Proposal, proposal.merged_into_id) if proposal.merged_into_id else proposal
    assert handling is not None
    lines += _handling_lines(ctx, handling, public)
    reply = delivered_reply(ctx, proposal)
    if reply is None and not public and proposal.status == ProposalStatus.REPLIED:
        lines.append("答复:已提交，待督办审核")
    if reply is not None:
        lines += _reply_lines(ctx, handling, reply, lead_name, public)
        lines += _rating_lines(ctx, proposal, reply, public)
    if proposal.number:
        lines.append(f"提案编号:{long_number(proposal.year, proposal.number)}")
    lines.append(f"领衔委员:{lead_name}")
    lines.append(f"当前状态:{proposal_label(proposal.status)}")
    if timeline:
        lines += ["", "办理过程:"] + timeline_lines(ctx, proposal, public)
    return "\n".join(lines)


def _handling_lines(ctx: Ctx, proposal: Proposal, public: bool) -> list[str]:
    s = ctx.session
    if proposal.assigned_at is None:
        return []
    assignments = s.exec(
        select(Assignment)
        .where(
            Assignment.proposal_id == proposal.id,
            col(Assignment.status) != AssignmentStatus.REASSIGNED,
        )
        .order_by(Assignment.id)
    ).all()
    unit = {u.id: u.name for u in s.exec(select(Unit))}
    leads = [unit[a.unit_id] for a in assignments if a.role == "lead"]
    cos = [unit[a.unit_id] for a in assignments if a.role == "co"]
    lines = [
        f"交办时间:{fmt_date(ctx.local(proposal.assigned_at).date())} "
        f"是否重点:{'是' if proposal.is_key else '否'}",
    ]
    supervising = (
        unit.get(proposal.supervising_unit_id, "") if proposal.supervising_unit_id else ""
    )
    leader = _names(ctx, [proposal.lead_leader_id]) if proposal.lead_leader_id else ""
    if supervising or leader:
        lines.append(f"督办单位:{supervising or '无'} 牵头领导:{leader or '无'}")
    lines.append(f"主办单位:{'、'.join(leads)}")
    if cos:
        lines.append(f"协办单位:{'、'.join(cos)}")
    if proposal.due_date and proposal.status in (ProposalStatus.ASSIGNED, ProposalStatus.REPLIED):
        lines.append(f"答复期限:{fmt_date(proposal.due_date)}")
    if not public:
        for a in assignments:
            if a.role == "co" and a.opinion:
                lines.append(f"协办意见({unit[a.unit_id]}):{a.opinion}")
        for c in s.exec(
            select(ContactRecord)
            .where(ContactRecord.proposal_id == proposal.id)
            .order_by(ContactRecord.contact_date)
        ):
            lines.append(
                f"沟通情况:{fmt_date(c.contact_date)} {CONTACT_METHODS.get(c.method, c.method)}"
                f" {c.summary}"
            )
    return lines


def _reply_lines(
    ctx: Ctx, proposal: Proposal, reply: Reply, lead_name: str, public: bool
) -> list[str]:
    lines = ["", reply.title]
    body = reply.body.strip()
    if not body.startswith("尊敬的"):
        names = lead_name if proposal.category == "member" else (proposal.collective_body or "")
        lines.append(f"尊敬的{names}委员:" if proposal.category == "member" else f"{names}:")
    lines += [f"  {p.strip()}" for p in body.splitlines() if p.strip()]
    if not public:
        lines.append(f"(联系人:{reply.contact_person} 联系电话:{reply.contact_phone})")
    lines.append(reply.signing_unit)
    lines.append(fmt_date(reply.reply_date))
    lines.append(f"答复类别:({reply.reply_class})类")
    lines.append(f"落实情况:{CLASS_MEANINGS.get(reply.reply_class, '')}({reply.reply_class})")
    if reply.proposed_class != reply.reply_class and not public:
        lines.append(
            f"（承办单位原报{reply.proposed_class}类，督办审核调整为{reply.reply_class}类）"
        )
    lines.append("督办审核:已通过")
    return lines


def _rating_lines(ctx: Ctx, proposal: Proposal, reply: Reply, public: bool) -> list[str]:
    ratings = ctx.session.exec(
        select(Rating).where(Rating.reply_id == reply.id, Rating.proposal_id == proposal.id)
    ).all()
    given = [r for r in ratings if not r.not_given]
    if not given:
        status = "评价期满未评价" if ratings else "待评价"
        return [f"满意评价:{status}", "反馈意见:暂无"]
    lead = next((r for r in given if r.person_id == proposal.proposer_id), given[0])
    if lead.work_rating == lead.result_rating:
        rating = RATINGS[lead.result_rating]
    else:
        rating = f"办理工作{RATINGS[lead.work_rating]}，办理结果{RATINGS[lead.result_rating]}"
    lines = [f"满意评价:{rating}"]
    if len(given) > 1 and not public:
        others = [
            f"{_names(ctx, [r.person_id])}:{RATINGS[r.result_rating]}"
            for r in given
            if r is not lead
        ]
        lines.append(f"联名委员评价:{'；'.join(others)}")
    feedback = [r.feedback for r in given if r.feedback]
    lines.append(f"反馈意见:{'；'.join(feedback) if feedback and not public else '暂无'}")
    return lines


# Assignment events that repeat a proposal event of the same moment.
_REPEATED = {"assignment_submit_reply", "assignment_return_reply", "assignment_approve_reply"}
_PRIVATE = {
    "edit_draft",
    "invite_cosigner",
    "request_cosign",
    "add_cosigner",
    "assignment_record_contact",
    "rate",
}


def timeline_lines(ctx: Ctx, proposal: Proposal, public: bool = False) -> list[str]:
    """One line per event: when, what (with the unit it concerns), who."""
    events = ctx.session.exec(
        select(AuditEvent)
        .where(AuditEvent.proposal_id == proposal.id)
        .order_by(col(AuditEvent.id))
    ).all()
    names = {
        p.id: p.name
        for p in ctx.session.exec(
            select(Person).where(col(Person.id).in_({e.actor_id for e in events if e.actor_id}))
        )
    }
    units = {u.id: u.name for u in ctx.session.exec(select(Unit))}
    unit_of = {
        a.id: (units.get(a.unit_id, ""), a.role)
        for a in ctx.session.exec(select(Assignment).where(Assignment.proposal_id == proposal.id))
    }
    lines = []
    for event in events:
        if event.action in _REPEATED or (public and event.action in _PRIVATE):
            continue
        detail = event.detail or {}
        what = action_label(event.action)
        who = names.get(event.actor_id, "") if event.actor_id else "系统"
        if event.action == "close" and detail.get("reason") == "all_rated":
            what, who = "全部评价完成，办结", "系统"
        elif event.action == "file" and detail.get("number"):
            what = f"立案，编号{short_number(detail['number'])}"
        elif event.assignment_id in unit_of:
            unit, role = unit_of[event.assignment_id]
            what = f"{what}（{unit}{'主办' if role == 'lead' else '协办'}）"
        if event.to_status and not event.assignment_id:
            what += f" → {proposal_label(event.to_status)}"
        if public and event.actor_id and event.action != "submit":
            who = ""
        lines.append(f"  {fmt_time(ctx, event.at)}  {what}  {who}".rstrip())
    return lines
