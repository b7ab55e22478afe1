"""交办 and the units' side of handling: accept, ask for adjustment, contact the proposer,
co-handlers' opinions; staff decide adjustment requests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import exists
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from storage.models import (
    Assignment,
    AuditEvent,
    ContactRecord,
    Person,
    Proposal,
    Unit,
    pk,
)
from workflow.core import (
    Audited,
    Ctx,
    audit,
    check_text,
    local_time,
    lock_assignment,
    lock_proposal,
    notify,
    people_with_role,
    person_name,
    require_role,
    require_status,
)
from workflow.errors import InvalidInput, InvalidTransition, NotFound
from workflow.numbering import number_text
from workflow.permissions import require_unit_handler
from workflow.roles import Role
from workflow.statuses import (
    ACTIVE_ASSIGNMENT_STATUSES,
    ASSIGNMENT_TRANSITIONS,
    PROPOSAL_TRANSITIONS,
    AssignmentStatus,
    assignment_label,
    proposal_label,
)
from workflow.texts import Text, label

CONTACT_METHODS = {
    "phone": label("电话沟通"),
    "visit": label("上门走访"),
    "meeting": label("座谈面商"),
    "letter": label("书面沟通"),
    "online": label("网络沟通"),
}
ROLE_NAMES = {"lead": label("主办"), "co": label("协办")}
# An assignment still owes its answer: the lead unit's reply, a co-handling unit's opinion.
# Past its due date, it is overdue (the reminders, the escalations and the lists say so).
UNANSWERED = (
    AssignmentStatus.PENDING,
    AssignmentStatus.ACCEPTED,
    AssignmentStatus.ADJUSTMENT_REQUESTED,
)
# A lead unit whose letter is written (out for 会签, in review, approved): its co-handling
# units owe no opinion any more (the reminders and the unit's own screen alike).
LETTER_WRITTEN = (
    AssignmentStatus.COUNTERSIGNING,
    AssignmentStatus.REPLIED,
    AssignmentStatus.DONE,
)


def unit_name(ctx: Ctx, unit_id: int | None) -> str:
    unit = ctx.session.get(Unit, unit_id) if unit_id else None
    return unit.name if unit else ""


def _guard(ctx: Ctx, action: str, assignment: Assignment, proposal: Proposal) -> None:
    require_status(
        ctx,
        ASSIGNMENT_TRANSITIONS[action],
        assignment.status,
        label=assignment_label,
        subject=assignment_subject(ctx, assignment, proposal),
        proposal_id=pk(proposal),
        assignment_id=assignment.id,
    )


def assignment_subject(ctx: Ctx, assignment: Assignment, proposal: Proposal) -> Text:
    """交通局承办的第〔28〕号提案: an assignment, as a refusal names it."""
    return Text(
        "{unit}承办的{number}提案",
        unit=unit_name(ctx, assignment.unit_id),
        number=number_text(proposal.year, proposal.number),
    )


def move_assignment(ctx: Ctx, assignment: Assignment, action: str, **detail) -> Audited:
    """Apply an assignment transition and write its audit event."""
    transition = ASSIGNMENT_TRANSITIONS[action]
    before = assignment.status
    if transition.target is not None:
        assignment.status = transition.target
    ctx.session.add(assignment)
    return audit(
        ctx,
        f"assignment_{action}",
        proposal_id=assignment.proposal_id,
        assignment_id=assignment.id,
        from_status=before if transition.target is not None else None,
        to_status=transition.target,
        **detail,
    )


def _begin(ctx: Ctx, action: str, assignment_id: int) -> tuple[Assignment, Proposal]:
    require_role(ctx, ASSIGNMENT_TRANSITIONS[action])
    return lock_assignment(ctx, assignment_id)


def _handling_unit(ctx: Ctx, unit_id: int) -> Unit:
    """A unit a proposal may be given to: on the roster, in use, and a handling unit (a
    supervising unit or the committee itself answers no proposal)."""
    unit = ctx.session.get(Unit, unit_id)
    if unit is None or not unit.active:
        raise InvalidInput("找不到承办单位 {unit_id}，或该单位已停用。", unit_id=unit_id)
    if unit.kind != "handling":
        raise InvalidInput("{unit}不是承办单位，不能承办提案。", unit=unit.name)
    return unit


def _supervising_unit(ctx: Ctx, unit_id: int) -> Unit:
    """A unit that may supervise a key proposal: on the roster, in use, a supervising unit."""
    unit = ctx.session.get(Unit, unit_id)
    if unit is None or not unit.active:
        raise InvalidInput("找不到督办单位 {unit_id}。", unit_id=unit_id)
    if unit.kind != "supervising":
        raise InvalidInput("{unit}不是督办单位。", unit=unit.name)
    return unit


WEEKDAYS = (
    label("星期一"),
    label("星期二"),
    label("星期三"),
    label("星期四"),
    label("星期五"),
    label("星期六"),
    label("星期日"),
)


def due_date_or_default(ctx: Ctx, due_date: date | None, months: int, what: label) -> date:
    """``due_date`` if it is after today and at most ``due_max_months`` ahead (a year typed
    wrong, 2207 for 2027, is refused, not kept), or the default ``months`` from today.

    A due date on a day off moves to the next working day (顺延), as a deadline does in
    administrative practice; ``postponement`` says so to the person who typed it."""
    if due_date is None:
        return ctx.calendar.add_months(ctx.today, months)
    return ctx.calendar.next_workday(_due_date_in_range(ctx, due_date, what))


def postponement(ctx: Ctx, typed: date, what: label) -> list[Text]:
    """What to tell the person who typed a due date that is not kept as typed: "2026年10月1日
    是休息日，答复期限顺延至2026年10月9日（星期五）。"; and, for a year whose holidays are not
    known, that its working days are counted Monday to Friday. Nothing for a working day of a
    year the calendar knows."""
    day = ctx.calendar.next_workday(typed)
    said = []
    if day != typed:
        said.append(
            Text(
                "{typed}是休息日，{what}顺延至{day}（{weekday}）。",
                typed=typed,
                what=what,
                day=day,
                weekday=WEEKDAYS[day.weekday()],
            )
        )
    unknown = sorted(y for y in {typed.year, day.year} if not ctx.calendar.covers(y))
    if unknown:
        said.append(
            Text(
                "尚无{years}年的节假日安排，暂按周一至周五为工作日计算，该日期可能落在节假日。",
                years=[str(y) for y in unknown],
            )
        )
    return said


def _due_date_in_range(ctx: Ctx, due_date: date, what: label) -> date:
    if due_date <= ctx.today:
        raise InvalidInput("{what}必须晚于今天（{today}）。", what=what, today=ctx.today)
    latest = ctx.calendar.add_months(ctx.today, ctx.rules.due_max_months)
    if due_date > latest:
        raise InvalidInput(
            "{what}不能晚于{latest}（自今天起最长 {months} 个月）。",
            what=what,
            latest=latest,
            months=ctx.rules.due_max_months,
        )
    return due_date


def _new_assignment(
    ctx: Ctx, proposal: Proposal, unit_id: int, role: str, due_date: date
) -> Assignment:
    assignment = Assignment(
        proposal_id=pk(proposal),
        unit_id=unit_id,
        year=proposal.year,
        role=role,
        status=AssignmentStatus.PENDING,
        assigned_at=ctx.now,
        assigned_by=ctx.actor_id,
        due_date=due_date,
        adjust_deadline=ctx.calendar.add_workdays(ctx.today, ctx.rules.adjustment_window_workdays),
    )
    ctx.session.add(assignment)
    ctx.session.flush()
    audit(
        ctx,
        "assignment_create",
        proposal_id=proposal.id,
        assignment_id=assignment.id,
        to_status=AssignmentStatus.PENDING,
        unit_id=unit_id,
        role=role,
        due_date=due_date,
    )
    return assignment


def _tell_unit(ctx: Ctx, proposal: Proposal, assignment: Assignment) -> None:
    params = {
        "number": number_text(proposal.year, proposal.number),
        "title": proposal.title,
        "due": assignment.due_date,
        "deadline": assignment.adjust_deadline,
    }
    if assignment.role == "lead":
        text = Text(
            "{number}提案《{title}》已交由贵单位主办，答复请于{due}前完成；"
            "如认为不属于本单位职责，请于{deadline}前申请调整。",
            **params,
        )
    else:
        text = Text(
            "{number}提案《{title}》已交由贵单位协办，协办意见请于{due}前完成；"
            "如认为不属于本单位职责，请于{deadline}前申请调整。",
            **params,
        )
    notify(
        ctx,
        people_with_role(ctx.session, Role.HANDLER, assignment.unit_id),
        "assigned",
        text,
        key=str(assignment.id),
        proposal_id=proposal.id,
        actions=[
            {"label": label("签收"), "payload": f"asg:{assignment.id}:accept"},
            {"label": label("申请调整"), "payload": f"asg:{assignment.id}:adjust"},
        ],
    )


def assign(
    ctx: Ctx,
    proposal_id: int,
    *,
    lead_unit_id: int,
    co_unit_ids: Sequence[int] = (),
    due_date: date | None = None,
    is_key: bool = False,
    supervising_unit_id: int | None = None,
    lead_leader_id: int | None = None,
) -> list[Assignment]:
    """交办 a filed proposal to one lead unit and any co-handling units."""
    require_role(ctx, PROPOSAL_TRANSITIONS["assign"])
    proposal = lock_proposal(ctx, proposal_id)
    require_status(
        ctx,
        PROPOSAL_TRANSITIONS["assign"],
        proposal.status,
        label=proposal_label,
        subject=Text("提案《{title}》", title=proposal.title),
        proposal_id=pk(proposal),
    )
    co_ids = list(dict.fromkeys(co_unit_ids))
    if lead_unit_id in co_ids:
        raise InvalidInput("主办单位不能同时是协办单位。")
    _handling_unit(ctx, lead_unit_id)
    for unit_id in co_ids:
        _handling_unit(ctx, unit_id)
    if supervising_unit_id is not None:
        _supervising_unit(ctx, supervising_unit_id)
    if lead_leader_id is not None:
        leader = ctx.session.get(Person, lead_leader_id)
        if leader is None or Role.LEADER.value not in leader.role_set:
            raise InvalidInput("牵头领导必须是名册中具有领导身份的人员。")
    if is_key and (supervising_unit_id is None or lead_leader_id is None):
        raise InvalidInput("重点提案必须指定督办单位和牵头领导。")
    lead_due = due_date_or_default(ctx, due_date, ctx.rules.reply_due_months, label("答复期限"))
    co_due = min(ctx.calendar.add_months(ctx.today, ctx.rules.cohandler_opinion_months), lead_due)

    proposal.assigned_at = ctx.now
    proposal.due_date = lead_due
    proposal.is_key = is_key
    proposal.supervising_unit_id = supervising_unit_id
    proposal.lead_leader_id = lead_leader_id
    before = proposal.status
    target = PROPOSAL_TRANSITIONS["assign"].target
    assert target is not None, "交办 moves a proposal on"
    proposal.status = target
    proposal.updated_at = ctx.now
    ctx.session.add(proposal)
    audit(
        ctx,
        "assign",
        proposal_id=proposal.id,
        from_status=before,
        to_status=proposal.status,
        lead_unit_id=lead_unit_id,
        co_unit_ids=co_ids,
        due_date=lead_due,
        is_key=is_key,
    )
    assignments = [_new_assignment(ctx, proposal, lead_unit_id, "lead", lead_due)]
    assignments += [_new_assignment(ctx, proposal, u, "co", co_due) for u in co_ids]
    for assignment in assignments:
        _tell_unit(ctx, proposal, assignment)
    _tell_watchers(ctx, proposal, assignments[0], key=str(proposal.id))
    return assignments


def _tell_watchers(
    ctx: Ctx, proposal: Proposal, lead: Assignment, *, key: str, before: int | None = None
) -> None:
    """The proposal's lead leader and its supervising unit's people: which unit leads it and
    by when (at 交办, and again when the lead unit changes: ``before``, the unit that led it
    until now)."""
    watchers = watchers_of(ctx, proposal)
    if watchers:
        params = {
            "number": number_text(proposal.year, proposal.number),
            "title": proposal.title,
            "unit": unit_name(ctx, lead.unit_id),
            "due": lead.due_date,
        }
        if before is not None:
            text = Text(
                "{kind}{number}《{title}》已改由{unit}主办（原主办单位：{old}），"
                "答复期限{due}，请予督办。",
                kind=label("重点提案") if proposal.is_key else label("提案"),
                old=unit_name(ctx, before),
                **params,
            )
        elif proposal.is_key:
            text = Text(
                "重点提案{number}《{title}》已交办，主办单位：{unit}，答复期限{due}，请予督办。",
                **params,
            )
        else:
            text = Text(
                "提案{number}《{title}》已交办，主办单位：{unit}，答复期限{due}，请予督办。",
                **params,
            )
        notify(
            ctx,
            watchers,
            "assigned_watch",
            text,
            key=key,
            proposal_id=proposal.id,
        )


def accept(ctx: Ctx, assignment_id: int) -> Assignment:
    """签收: the unit takes the assignment on."""
    assignment, proposal = _begin(ctx, "accept", assignment_id)
    require_unit_handler(ctx, assignment)
    _guard(ctx, "accept", assignment, proposal)
    assignment.accepted_at = ctx.now
    assignment.accepted_by = ctx.actor_id
    move_assignment(ctx, assignment, "accept")
    return assignment


def request_adjustment(ctx: Ctx, assignment_id: int, reason: str) -> Assignment:
    """申请调整: "not our responsibility", inside the adjustment window."""
    assignment, proposal = _begin(ctx, "request_adjustment", assignment_id)
    require_unit_handler(ctx, assignment)
    reason = check_text(reason, "申请调整的理由", max_chars=1000)
    _guard(ctx, "request_adjustment", assignment, proposal)
    if ctx.today > assignment.adjust_deadline:
        raise InvalidTransition(
            "调整申请期已于{d}结束，交办已确定，请按期办理。", d=assignment.adjust_deadline
        )
    assignment.adjustment_reason = reason
    assignment.adjustment_requested_at = ctx.now
    assignment.adjustment_requested_by = ctx.actor_id
    move_assignment(ctx, assignment, "request_adjustment", reason=reason)
    notify(
        ctx,
        people_with_role(ctx.session, Role.STAFF),
        "adjustment_requested",
        Text(
            "{unit}申请调整{number}提案《{title}》的交办。理由：{reason}",
            unit=unit_name(ctx, assignment.unit_id),
            number=number_text(proposal.year, proposal.number),
            title=proposal.title,
            reason=reason,
        ),
        key=str(assignment.id),
        proposal_id=proposal.id,
    )
    return assignment


def partner_units(ctx: Ctx, assignment: Assignment) -> list[int]:
    """The units working with this one on its proposal: for a co-handling unit, the lead
    unit (it receives the opinions and has its letter countersigned); for the lead unit,
    the co-handling units still on it."""
    wanted = "lead" if assignment.role == "co" else "co"
    return list(
        ctx.session.exec(
            select(Assignment.unit_id)
            .where(
                Assignment.proposal_id == assignment.proposal_id,
                Assignment.role == wanted,
                col(Assignment.status).in_(list(ACTIVE_ASSIGNMENT_STATUSES)),
            )
            .order_by(col(Assignment.id))
        ).all()
    )


def _tell_partners(ctx: Ctx, proposal: Proposal, old: Assignment, new: Assignment) -> None:
    """The units working with a reassigned unit learn which unit takes its place."""
    subject = {
        "number": number_text(proposal.year, proposal.number),
        "title": proposal.title,
        "old": unit_name(ctx, old.unit_id),
        "new": unit_name(ctx, new.unit_id),
    }
    for unit_id in partner_units(ctx, new):
        notify(
            ctx,
            people_with_role(ctx.session, Role.HANDLER, unit_id),
            "partner_reassigned",
            Text("{number}提案《{title}》的协办单位{old}已改为{new}。", **subject)
            if new.role == "co"
            else Text("{number}提案《{title}》的主办单位已由{old}改为{new}。", **subject),
            key=f"{new.id}:{unit_id}",
            proposal_id=proposal.id,
        )


def reassign(
    ctx: Ctx, assignment_id: int, new_unit_id: int, note: str | None = None
) -> Assignment:
    """Staff grant an adjustment: the assignment ends and another unit takes it."""
    assignment, proposal = _begin(ctx, "reassign", assignment_id)
    _guard(ctx, "reassign", assignment, proposal)
    note = check_text(note, "说明", max_chars=1000, required=False) or None
    _handling_unit(ctx, new_unit_id)
    taken = ctx.session.exec(
        select(Assignment.unit_id).where(
            Assignment.proposal_id == proposal.id,
            col(Assignment.status) != AssignmentStatus.REASSIGNED,
            Assignment.id != assignment.id,
        )
    ).all()
    if new_unit_id == assignment.unit_id or new_unit_id in taken:
        raise InvalidInput(
            "{unit}已在承办这件提案，请选择其他单位。", unit=unit_name(ctx, new_unit_id)
        )
    assignment.adjustment_decision = note or "同意调整"
    assignment.ended_at = ctx.now
    move_assignment(ctx, assignment, "reassign", new_unit_id=new_unit_id, note=note)
    if assignment.role == "lead":
        due = ctx.calendar.add_months(ctx.today, ctx.rules.reply_due_months)
        proposal.due_date = due
        ctx.session.add(proposal)
    else:
        due = min(
            ctx.calendar.add_months(ctx.today, ctx.rules.cohandler_opinion_months),
            proposal.due_date or assignment.due_date,
        )
    new = _new_assignment(ctx, proposal, new_unit_id, assignment.role, due)
    notify(
        ctx,
        people_with_role(ctx.session, Role.HANDLER, assignment.unit_id),
        "adjustment_granted",
        Text(
            "贵单位关于{number}提案的调整申请已同意，改由{unit}办理。",
            number=number_text(proposal.year, proposal.number),
            unit=unit_name(ctx, new_unit_id),
        ),
        key=str(assignment.id),
        proposal_id=proposal.id,
    )
    _tell_unit(ctx, proposal, new)
    _tell_partners(ctx, proposal, assignment, new)
    if new.role == "co":  # a letter waiting for 会签 asks the new unit in the old one's place
        from workflow import countersigns  # it builds on this module

        countersigns.hand_over(ctx, new)
    if new.role == "lead":  # those who watch the proposal follow its new lead unit
        _tell_watchers(
            ctx, proposal, new, key=f"{proposal.id}:{new.id}", before=assignment.unit_id
        )
    return new


def watchers_of(ctx: Ctx, proposal: Proposal) -> list[int]:
    """Who follows a proposal's reply besides its units: its lead leader and its supervising
    unit's people (a key proposal has both; another may have a supervising unit)."""
    watchers = [proposal.lead_leader_id] if proposal.lead_leader_id else []
    if proposal.supervising_unit_id is not None:
        watchers += people_with_role(ctx.session, Role.SUPERVISOR, proposal.supervising_unit_id)
    return watchers


def refuse_adjustment(ctx: Ctx, assignment_id: int, note: str) -> Assignment:
    """Staff refuse an adjustment: the assignment stands."""
    assignment, proposal = _begin(ctx, "refuse_adjustment", assignment_id)
    note = check_text(note, "不予调整的理由", max_chars=1000)
    _guard(ctx, "refuse_adjustment", assignment, proposal)
    assignment.adjustment_decision = note
    assignment.accepted_at = ctx.now
    move_assignment(ctx, assignment, "refuse_adjustment", note=note)
    notify(
        ctx,
        people_with_role(ctx.session, Role.HANDLER, assignment.unit_id),
        "adjustment_refused",
        Text(
            "贵单位关于{number}提案《{title}》的调整申请未获同意，请按期办理（{due}前）。理由：{note}",
            number=number_text(proposal.year, proposal.number),
            title=proposal.title,
            due=assignment.due_date,
            note=note,
        ),
        key=str(assignment.id),
        proposal_id=proposal.id,
    )
    if assignment.role == "co":  # it stays: a letter waiting for 会签 without it asks it now
        from workflow import countersigns  # it builds on this module

        countersigns.adjustment_refused(ctx, assignment)
    return assignment


def close_adjustment_window(ctx: Ctx, assignment_id: int) -> Assignment:
    """The window has passed without a request: the assignment stands (逾期不作调整)."""
    assignment, proposal = _begin(ctx, "window_closed", assignment_id)
    _guard(ctx, "window_closed", assignment, proposal)
    if ctx.today <= assignment.adjust_deadline:
        raise InvalidTransition("调整申请期到{d}才结束。", d=assignment.adjust_deadline)
    assignment.accepted_at = ctx.now
    move_assignment(ctx, assignment, "window_closed")
    notify(
        ctx,
        [
            *people_with_role(ctx.session, Role.HANDLER, assignment.unit_id),
            *people_with_role(ctx.session, Role.STAFF),
        ],
        "adjustment_window_closed",
        Text(
            "{unit}承办的{number}提案《{title}》调整申请期已满，交办确定，请按期办理。",
            unit=unit_name(ctx, assignment.unit_id),
            number=number_text(proposal.year, proposal.number),
            title=proposal.title,
        ),
        key=str(assignment.id),
        proposal_id=proposal.id,
    )
    return assignment


def record_contact(
    ctx: Ctx, assignment_id: int, *, method: str, contact_date: date, summary: str
) -> ContactRecord:
    """沟通/面商 with the proposer, recorded by the unit."""
    assignment, proposal = _begin(ctx, "record_contact", assignment_id)
    require_unit_handler(ctx, assignment)
    if method not in CONTACT_METHODS:
        raise InvalidInput("沟通方式只能是：{methods}。", methods=list(CONTACT_METHODS.values()))
    summary = check_text(summary, "沟通情况", max_chars=2000)
    _guard(ctx, "record_contact", assignment, proposal)
    if contact_date > ctx.today:
        raise InvalidInput("沟通日期不能晚于今天。")
    if contact_date < ctx.local(assignment.assigned_at).date():
        raise InvalidInput("沟通日期不能早于交办日期。")
    record = ContactRecord(
        assignment_id=pk(assignment),
        proposal_id=pk(proposal),
        method=method,
        contact_date=contact_date,
        summary=summary,
        recorded_by=ctx.person_id,
        created_at=ctx.now,
    )
    ctx.session.add(record)
    move_assignment(ctx, assignment, "record_contact", method=method, contact_date=contact_date)
    return record


def give_opinion(ctx: Ctx, assignment_id: int, opinion: str) -> Assignment:
    """A co-handling unit's opinion to the lead unit (may be revised until the reply)."""
    assignment, proposal = _begin(ctx, "give_opinion", assignment_id)
    require_unit_handler(ctx, assignment)
    opinion = check_text(opinion, "协办意见", max_chars=ctx.rules.body_max_chars)
    if assignment.role != "co":
        raise InvalidInput("主办单位不需要提出协办意见，请直接撰写答复。")
    _guard(ctx, "give_opinion", assignment, proposal)
    assignment.opinion = opinion
    assignment.opinion_at = ctx.now
    assignment.opinion_by = ctx.actor_id
    if assignment.accepted_at is None:
        assignment.accepted_at = ctx.now
    event = move_assignment(ctx, assignment, "give_opinion")
    lead = lead_assignment(ctx, pk(proposal))
    if lead is not None:
        notify(
            ctx,
            people_with_role(ctx.session, Role.HANDLER, lead.unit_id),
            "opinion_given",
            Text(
                "{unit}已就{number}提案《{title}》提出协办意见（{name}）：\n{opinion}",
                unit=unit_name(ctx, assignment.unit_id),
                number=number_text(proposal.year, proposal.number),
                title=proposal.title,
                name=person_name(ctx.session, ctx.actor_id),
                opinion=opinion,
            ),
            key=f"{assignment.id}:{event.id}",
            proposal_id=proposal.id,
        )
    return assignment


def workdays_overdue(ctx: Ctx, assignment: Assignment) -> int | None:
    """The working days an assignment's answer is past its due date, as the daily reminders
    count them (0 on a day off right after it); None while it is not overdue, or once its
    answer is in (the reply submitted, the co-handling opinion given)."""
    if assignment.status not in UNANSWERED or assignment.due_date >= ctx.today:
        return None
    return ctx.calendar.workdays_between(assignment.due_date, ctx.today)


def overdue_text(ctx: Ctx, assignment: Assignment, proposal: Proposal) -> Text | None:
    """What the unit is told of its assignment past its due date, as the daily reminders say
    it (working days overdue for the lead unit's reply); None while it is not overdue, or
    once its answer is in (the reply submitted, the co-handling opinion given), or no longer
    wanted (a co-handling opinion once the lead unit has submitted its reply)."""
    overdue = workdays_overdue(ctx, assignment)
    if overdue is None:
        return None
    params = {
        "number": number_text(proposal.year, proposal.number),
        "title": proposal.title,
        "due": assignment.due_date,
    }
    if assignment.role == "lead":
        return Text(
            "{number}提案《{title}》的答复已于{due}到期，现已逾期 {n} 个工作日，"
            "请尽快办理并提交答复。",
            n=overdue,
            **params,
        )
    lead = lead_assignment(ctx, pk(proposal))
    if lead is not None and lead.status in LETTER_WRITTEN:
        return None  # the letter is written: the unit countersigns it, or it is in review
    return Text(
        "{number}提案《{title}》的协办意见已于{due}到期，尚未提出，"
        "请尽快向主办单位{lead}提出协办意见。",
        lead=unit_name(ctx, lead.unit_id if lead else None),
        **params,
    )


def lead_assignment(ctx: Ctx, proposal_id: int) -> Assignment | None:
    return ctx.session.exec(
        select(Assignment).where(
            Assignment.proposal_id == proposal_id,
            Assignment.role == "lead",
            col(Assignment.status) != AssignmentStatus.REASSIGNED,
        )
    ).first()


def get_assignment(ctx: Ctx, assignment_id: int) -> Assignment:
    assignment = ctx.session.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound("找不到交办记录 {assignment_id}。", assignment_id=assignment_id)
    return assignment


def request_extension(ctx: Ctx, assignment_id: int, reason: str) -> Assignment:
    """申请延期: a unit asks staff for more time, with its reason; one request at a time."""
    assignment, proposal = _begin(ctx, "request_extension", assignment_id)
    require_unit_handler(ctx, assignment)
    _guard(ctx, "request_extension", assignment, proposal)
    reason = check_text(reason, "申请延期的理由", max_chars=1000)
    refuse_a_second_extension_request(ctx, pk(assignment))
    event = move_assignment(ctx, assignment, "request_extension", reason=reason)
    notify(
        ctx,
        people_with_role(ctx.session, Role.STAFF),
        "extension_requested",
        Text(
            "{unit}申请延长{number}提案《{title}》的办理期限（现为{due}）。理由：{reason}",
            unit=unit_name(ctx, assignment.unit_id),
            number=number_text(proposal.year, proposal.number),
            title=proposal.title,
            due=assignment.due_date,
            reason=reason,
        ),
        key=str(event.id),
        proposal_id=proposal.id,
        # The buttons name the request they decide: tapped once a later request is open,
        # they do not decide that one, which whoever taps has not read.
        actions=[
            {"label": label("同意延期"), "payload": f"ext:{assignment.id}:grant:{event.id}"},
            {"label": label("不同意"), "payload": f"ext:{assignment.id}:refuse:{event.id}"},
        ],
    )
    return assignment


# The audit actions that open and settle a unit's request for more time.
EXTENSION_REQUEST = "assignment_request_extension"  # the audit action of a unit's request
_EXTENSION_EVENTS = (
    EXTENSION_REQUEST,
    "assignment_extend",
    "assignment_refuse_extension",
)


def _latest_extension_event(ctx: Ctx, assignment_id: int) -> AuditEvent | None:
    """The latest request for more time, extension or refusal of the assignment."""
    return ctx.session.exec(
        select(AuditEvent)
        .where(
            AuditEvent.assignment_id == assignment_id,
            col(AuditEvent.action).in_(_EXTENSION_EVENTS),
        )
        .order_by(col(AuditEvent.id).desc())
        .limit(1)
    ).first()


def open_extension_request(ctx: Ctx, assignment_id: int) -> AuditEvent | None:
    """The unit's request for more time that staff have not decided yet, if any: the latest
    request, unless an extension or a refusal came after it."""
    latest = _latest_extension_event(ctx, assignment_id)
    return latest if latest is not None and latest.action == _EXTENSION_EVENTS[0] else None


def open_extension_requests(ctx: Ctx) -> list[tuple[Assignment, AuditEvent]]:
    """Staff's list: every unit's request for more time not decided yet (the assignment's
    latest extension event is the request), on an assignment that may still be extended;
    the oldest first. Staff only."""
    require_role(ctx, ASSIGNMENT_TRANSITIONS["extend"])
    return waiting_extension_requests(ctx.session)


def waiting_extension_requests(session: Session) -> list[tuple[Assignment, AuditEvent]]:
    """``open_extension_requests`` without the role check: for the daily digest, which the
    system writes to staff."""
    later = aliased(AuditEvent)
    decided_after = (
        exists()
        .where(col(later.assignment_id) == col(AuditEvent.assignment_id))
        .where(col(later.action).in_(_EXTENSION_EVENTS))
        .where(col(later.id) > col(AuditEvent.id))
    )
    rows = session.exec(
        select(Assignment, AuditEvent)
        .join(AuditEvent, col(AuditEvent.assignment_id) == Assignment.id)
        .where(AuditEvent.action == _EXTENSION_EVENTS[0])
        .where(col(Assignment.status).in_(ASSIGNMENT_TRANSITIONS["extend"].sources))
        .where(~decided_after)
        .order_by(col(AuditEvent.at), col(AuditEvent.id))
    ).all()
    return [(assignment, event) for assignment, event in rows]


def refuse_a_second_extension_request(ctx: Ctx, assignment_id: int) -> None:
    """A unit asks for more time once until staff decide: refuse another request while one
    waits, saying who asked and when (also before the handler types a reason for it)."""
    waiting = open_extension_request(ctx, assignment_id)
    if waiting is not None:
        raise InvalidTransition(
            "{name}已于{at}申请延期，正等待提案委决定，不必再次申请。",
            name=person_name(ctx.session, waiting.actor_id),
            at=local_time(ctx, waiting.at),
        )


def check_extension_request_open(ctx: Ctx, assignment_id: int, request_id: int) -> None:
    """Before staff write why they refuse it: the request is still open, or who decided it
    and when (the decision checks again)."""
    require_role(ctx, ASSIGNMENT_TRANSITIONS["refuse_extension"])
    _open_request_or_refuse(ctx, assignment_id, request_id)


def _open_request_or_refuse(ctx: Ctx, assignment_id: int, request_id: int | None) -> None:
    """Staff decide only an open request (``request_id``: that request's, when the button
    names it): a stale button says who decided it, and when."""
    if request_id is not None:
        request = ctx.session.get(AuditEvent, request_id)
        if (
            request is None
            or request.assignment_id != assignment_id
            or request.action != _EXTENSION_EVENTS[0]
        ):
            raise InvalidTransition("这个承办单位没有待决定的延期申请。")
    latest = _latest_extension_event(ctx, assignment_id)
    if (
        latest is not None
        and latest.action == _EXTENSION_EVENTS[0]
        and request_id in (None, latest.id)
    ):
        return  # the request is open
    decided = latest
    if request_id is not None:  # what settled the request the button is for
        decided = ctx.session.exec(
            select(AuditEvent)
            .where(
                AuditEvent.assignment_id == assignment_id,
                col(AuditEvent.action).in_(_EXTENSION_EVENTS[1:]),
                col(AuditEvent.id) > request_id,
            )
            .order_by(col(AuditEvent.id))
            .limit(1)
        ).first()
    if decided is None or decided.action == _EXTENSION_EVENTS[0]:
        raise InvalidTransition("这个承办单位没有待决定的延期申请。")
    raise InvalidTransition(
        "这项延期申请已由{name}于{at}处理。",
        name=person_name(ctx.session, decided.actor_id),
        at=local_time(ctx, decided.at),
    )


def grant_extension(ctx: Ctx, assignment_id: int, request_id: int | None = None) -> Assignment:
    """同意延期: staff grant a unit's open request (``request_id``, the request's audit
    event, if given: that one only), by the extension the rules allow (from the due date,
    or from today once it has passed)."""
    assignment, proposal = _begin(ctx, "extend", assignment_id)
    _guard(ctx, "extend", assignment, proposal)
    _open_request_or_refuse(ctx, assignment_id, request_id)
    return _extend(ctx, assignment, proposal, due_date=None, note=None)


def refuse_extension(
    ctx: Ctx, assignment_id: int, note: str | None = None, request_id: int | None = None
) -> Assignment:
    """不同意延期: staff turn down a unit's open request (``request_id``: as in
    ``grant_extension``); the due date stays."""
    assignment, proposal = _begin(ctx, "refuse_extension", assignment_id)
    _guard(ctx, "refuse_extension", assignment, proposal)
    note = check_text(note, "说明", max_chars=1000, required=False) or None
    _open_request_or_refuse(ctx, assignment_id, request_id)
    event = move_assignment(ctx, assignment, "refuse_extension", note=note)
    notify(
        ctx,
        people_with_role(ctx.session, Role.HANDLER, assignment.unit_id),
        "extension_refused",
        Text(
            "提案委未同意延长{number}提案《{title}》的办理期限，请按原期限（{due}）办理。{extra}",
            number=number_text(proposal.year, proposal.number),
            title=proposal.title,
            due=assignment.due_date,
            extra=Text("说明：{note}", note=note) if note else None,
        ),
        key=str(event.id),
        proposal_id=proposal.id,
    )
    return assignment


def extend(
    ctx: Ctx, assignment_id: int, *, due_date: date | None = None, note: str | None = None
) -> Assignment:
    """延期: staff move a unit's due date, by default by the extension the rules allow
    (an open request of the unit's is settled by it)."""
    assignment, proposal = _begin(ctx, "extend", assignment_id)
    _guard(ctx, "extend", assignment, proposal)
    return _extend(ctx, assignment, proposal, due_date=due_date, note=note)


def extended_due(ctx: Ctx, assignment: Assignment) -> date:
    """The due date the extension the rules allow gives: from the due date, or from today
    once that has passed (a unit granted more time after its due date gets the whole
    extension, not what is left of it), on a working day."""
    start = max(assignment.due_date, ctx.today)
    due = ctx.calendar.add_months(start, ctx.rules.reply_extension_months)
    return ctx.calendar.next_workday(due)


def _extend(
    ctx: Ctx,
    assignment: Assignment,
    proposal: Proposal,
    *,
    due_date: date | None,
    note: str | None,
) -> Assignment:
    note = check_text(note, "说明", max_chars=1000, required=False) or None
    if due_date is None:
        due_date = extended_due(ctx, assignment)
    else:  # typed: no further ahead than any due date staff set (a year typed wrong)
        _due_date_in_range(ctx, due_date, label("答复期限"))
    due_date = ctx.calendar.next_workday(due_date)  # a typed one on a day off: 顺延
    if due_date <= assignment.due_date or due_date <= ctx.today:
        raise InvalidInput("新的期限必须晚于原期限（{due}）和今天。", due=assignment.due_date)
    before = assignment.due_date
    assignment.due_date = due_date
    if assignment.role == "lead":
        proposal.due_date = due_date
        ctx.session.add(proposal)
    event = move_assignment(ctx, assignment, "extend", before=before, due_date=due_date, note=note)
    notify(
        ctx,
        [
            *people_with_role(ctx.session, Role.HANDLER, assignment.unit_id),
            # the reply's new due date, for those who follow a key proposal
            *(watchers_of(ctx, proposal) if assignment.role == "lead" else []),
        ],
        "extended",
        Text(
            "{number}提案《{title}》的办理期限已由{before}延至{due}。{extra}",
            number=number_text(proposal.year, proposal.number),
            title=proposal.title,
            before=before,
            due=due_date,
            extra=Text("说明：{note}", note=note) if note else None,
        ),
        key=str(event.id),
        proposal_id=proposal.id,
    )
    return assignment
