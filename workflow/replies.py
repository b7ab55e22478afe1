"""The reply and what follows it: the lead unit's letter, supervision review, delivery to
every signer (merged proposals too), ratings, 重新办理 and closing."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from sqlalchemy import exists
from sqlmodel import col, select

from storage.models import (
    Assignment,
    Attachment,
    AuditEvent,
    Countersign,
    Proposal,
    Rating,
    Reply,
    Signer,
    pk,
)
from workflow.assignments import (
    due_date_or_default,
    lead_assignment,
    move_assignment,
    unit_name,
    watchers_of,
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
    signer_ids,
)
from workflow.errors import (
    AlreadyHandled,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)
from workflow.numbering import number_text
from workflow.permissions import require_reply_reviewer, require_unit_handler, signer_of
from workflow.roles import Role
from workflow.roster import normalise_phone
from workflow.statuses import (
    ACTIVE_ASSIGNMENT_STATUSES,
    ASSIGNMENT_TRANSITIONS,
    PROPOSAL_TRANSITIONS,
    AssignmentStatus,
    ProposalStatus,
    assignment_label,
    proposal_label,
)
from workflow.texts import Text, label

CLASS_MEANINGS = {
    "A": label("所提问题已经解决或基本解决"),
    "B": label("所提问题正在解决或已列入计划逐步解决"),
    "C": label("因条件限制或其他原因暂时不能解决，留作参考"),
}
RATINGS = {"satisfied": label("满意"), "basic": label("基本满意"), "unsatisfied": label("不满意")}
PUBLISH = label("信息公开")
PHONE_RE = re.compile(r"^[0-9][0-9\- ]{4,19}$")


def contact_phone_of(text: str) -> str | None:
    """A reply's contact phone as the letter prints it, or None: a mobile or a landline,
    normalised (full-width digits, +86 or the 86 of a shared contact dropped), or a service
    number of five digits or more such as 12345."""
    normal = normalise_phone(text)
    if normal is not None:
        return normal
    text = unicodedata.normalize("NFKC", text).strip()
    if PHONE_RE.match(text) and sum(c.isdigit() for c in text) >= 5:
        return text
    return None


def rating_actions(proposal_id: int, reply_id: int) -> list[dict]:
    """One-tap rating buttons carried by the delivery notice (labels are message ids); they
    name the reply they rate, so that a notice of an earlier reply rates nothing once the
    proposal was handled again (重新办理) and another reply delivered."""
    return [
        {"label": name, "payload": f"rate:{proposal_id}:{code}:{reply_id}"}
        for code, name in RATINGS.items()
    ]


def _proposal_guard(ctx: Ctx, proposal: Proposal, action: str) -> None:
    require_status(
        ctx,
        PROPOSAL_TRANSITIONS[action],
        proposal.status,
        label=proposal_label,
        subject=Text("{number}提案", number=number_text(proposal.year, proposal.number)),
        proposal_id=pk(proposal),
    )


def _proposal_move(ctx: Ctx, proposal: Proposal, action: str, **detail) -> Audited:
    transition = PROPOSAL_TRANSITIONS[action]
    _proposal_guard(ctx, proposal, action)
    before = proposal.status
    proposal.status = transition.target or proposal.status
    proposal.updated_at = ctx.now
    ctx.session.add(proposal)
    return audit(
        ctx,
        action,
        proposal_id=proposal.id,
        from_status=before if transition.target else None,
        to_status=transition.target,
        **detail,
    )


def _assignment_guard(ctx: Ctx, action: str, assignment: Assignment, proposal: Proposal):
    require_status(
        ctx,
        ASSIGNMENT_TRANSITIONS[action],
        assignment.status,
        label=assignment_label,
        subject=Text("{number}提案的答复", number=number_text(proposal.year, proposal.number)),
        proposal_id=pk(proposal),
        assignment_id=assignment.id,
    )


REVIEWED = {"approved": label("审核通过"), "returned": label("退回修改")}


def _not_reviewed_yet(ctx: Ctx, action: str, reply: Reply, proposal: Proposal) -> None:
    """Refuse to review a letter a reviewer (or, returned, a co-handling unit) has already
    decided, saying who did what and when: the lead unit's assignment status would mislead
    ("已办结" while the proposal waits for its ratings)."""
    if reply.status not in REVIEWED or reply.reviewed_at is None:
        return
    by = person_name(ctx.session, reply.reviewed_by)
    raise AlreadyHandled(
        "{number}提案的第{v}稿答复已由{who}于{when}{done}，无法再{action}。",
        by=by,
        at=reply.reviewed_at,
        status=reply.status,
        number=number_text(proposal.year, proposal.number),
        v=reply.version,
        who=by,
        when=local_time(ctx, reply.reviewed_at),
        done=REVIEWED[reply.status],
        action=PROPOSAL_TRANSITIONS[action].label,
    )


def check_unreviewed(ctx: Ctx, reply_id: int, action: str) -> None:
    """Refuse now, before the reviewer writes a return comment, what ``return_reply`` or
    ``approve_reply`` would refuse as already decided (it checks again)."""
    reply = ctx.session.get(Reply, reply_id)
    proposal = ctx.session.get(Proposal, reply.proposal_id) if reply is not None else None
    if reply is None or proposal is None:
        raise NotFound("找不到答复 {reply_id}。", reply_id=reply_id)
    _not_reviewed_yet(ctx, action, reply, proposal)


def latest_reply(ctx: Ctx, proposal_id: int, *, status: str | None = None) -> Reply | None:
    stmt = select(Reply).where(Reply.proposal_id == proposal_id)
    if status:
        stmt = stmt.where(Reply.status == status)
    return ctx.session.exec(stmt.order_by(col(Reply.version).desc()).limit(1)).first()


@dataclass(frozen=True)
class DraftStart:
    """Where a handler's reply draft starts: ``version``, the version of the proposal's latest
    letter when it begins (0 while there is none), and ``returned``, that letter if the
    review returned it to this unit: the unit's current work, which the draft continues."""

    version: int
    returned: Reply | None
    files: tuple[Attachment, ...] = ()  # the returned letter's attachments, carried on
    objected_by: str | None = None  # the co-handling unit whose 会签 comment returned it


def _unit_assignment(ctx: Ctx, assignment_id: int) -> Assignment:
    assignment = ctx.session.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound("找不到交办记录 {assignment_id}。", assignment_id=assignment_id)
    require_unit_handler(ctx, assignment)
    return assignment


def draft_start(ctx: Ctx, assignment_id: int) -> DraftStart:
    """What a handler of the assignment's unit begins a reply draft from (see DraftStart)."""
    assignment = _unit_assignment(ctx, assignment_id)
    latest = latest_reply(ctx, assignment.proposal_id)
    if latest is None:
        return DraftStart(0, None)
    if latest.status != "returned" or latest.assignment_id != assignment.id:
        return DraftStart(latest.version, None)
    files = ctx.session.exec(
        select(Attachment).where(Attachment.reply_id == latest.id).order_by(col(Attachment.id))
    ).all()
    return DraftStart(latest.version, latest, tuple(files), objected_by(ctx, latest))


def objected_by(ctx: Ctx, reply: Reply) -> str | None:
    """The co-handling unit whose request for changes (会签) returned ``reply``, or None
    (a letter the review returned, or one not returned)."""
    if reply.status != "returned":
        return None
    unit_id = ctx.session.exec(
        select(Countersign.unit_id).where(
            Countersign.reply_id == reply.id, Countersign.decision == "objected"
        )
    ).first()
    return unit_name(ctx, unit_id) if unit_id is not None else None


def _newer(latest: Reply | None, based_on: int | None) -> Reply | None:
    if latest is None:
        return None
    if based_on is None:  # a draft that did not note its start: begun on no returned letter
        return latest if latest.status == "returned" else None
    return latest if latest.version != based_on else None


def superseding_letter(ctx: Ctx, assignment_id: int, based_on: int | None) -> Reply | None:
    """The letter a colleague submitted since a handler's draft began on version
    ``based_on`` (``DraftStart.version``), or None while the draft is current.

    Two handlers of a unit may write the same reply, each in their own draft. Once one of
    them submits, the other drafts are out of date: whatever the review decides, the latest
    letter (returned: with its review comment) is the unit's work from then on, and an
    older draft must not replace it unseen."""
    assignment = _unit_assignment(ctx, assignment_id)
    return _newer(latest_reply(ctx, assignment.proposal_id), based_on)


def submit_reply(
    ctx: Ctx,
    assignment_id: int,
    *,
    reply_class: str,
    body: str,
    contact_person: str,
    contact_phone: str,
    signing_unit: str | None = None,
    reply_date: date | None = None,
    title: str | None = None,
    based_on: int | None = None,
) -> Reply:
    """The lead unit's reply letter, submitted for supervision review. ``based_on``: the
    ``DraftStart.version`` the text was written from; a letter submitted since then makes
    this one out of date, and it is refused (see ``superseding_letter``)."""
    require_role(ctx, ASSIGNMENT_TRANSITIONS["submit_reply"])
    reply_class = (reply_class or "").strip().upper()
    if reply_class not in ctx.rules.reply_classes:
        raise InvalidInput("答复类别只能是 {classes}。", classes="/".join(ctx.rules.reply_classes))
    body = check_text(body, "答复正文", max_chars=20000)
    contact_person = check_text(contact_person, "联系人", max_chars=50)
    phone = contact_phone_of(check_text(contact_phone, "联系电话", max_chars=30))
    if phone is None:
        raise InvalidInput("联系电话格式不正确，例如 0839-8620000 或 13800000000。")
    contact_phone = phone
    assignment, proposal = lock_assignment(ctx, assignment_id)
    require_unit_handler(ctx, assignment)
    if assignment.role != "lead":
        raise PermissionDenied("答复由主办单位撰写；协办单位请提出协办意见。")
    _assignment_guard(ctx, "submit_reply", assignment, proposal)
    signing_unit = check_text(
        signing_unit or unit_name(ctx, assignment.unit_id), "落款单位", max_chars=100
    )
    reply_date = reply_date or ctx.today
    if reply_date > ctx.today:
        raise InvalidInput("答复日期不能晚于今天。")
    assigned = ctx.local(assignment.assigned_at).date()
    if reply_date < assigned:
        raise InvalidInput("答复日期不能早于交办日期（{d}）。", d=assigned)
    previous = latest_reply(ctx, pk(proposal))
    if based_on is not None and (newer := _newer(previous, based_on)) is not None:
        raise InvalidTransition(
            "本单位已有更新的第{version}稿答复（{name}于{at}提交），这份答复是在它之前开始写的，"
            "没有提交。请重新打开「撰写答复」，在最新一稿上修改。",
            version=newer.version,
            name=person_name(ctx.session, newer.submitted_by),
            at=local_time(ctx, newer.submitted_at),
        )
    default_title = (
        f"关于{proposal.session_label}第{proposal.number}号提案的答复"
        if proposal.number
        else f"关于《{proposal.title}》的答复"
    )
    reply = Reply(
        proposal_id=pk(proposal),
        assignment_id=pk(assignment),
        version=(previous.version + 1) if previous else 1,
        round=proposal.rehandle_count + 1,
        reply_class=reply_class,
        proposed_class=reply_class,
        title=check_text(title or default_title, "答复标题", max_chars=300),
        body=body,
        contact_person=contact_person,
        contact_phone=contact_phone,
        signing_unit=signing_unit,
        reply_date=reply_date,
        status="submitted",
        submitted_by=ctx.person_id,
        submitted_at=ctx.now,
    )
    ctx.session.add(reply)
    ctx.session.flush()
    co_units = countersigning_units(ctx, pk(proposal))
    if co_units:
        _ask_countersign(ctx, reply, assignment, proposal, co_units)
    else:
        move_assignment(ctx, assignment, "submit_reply", reply_id=reply.id, version=reply.version)
        send_to_review(ctx, reply, assignment, proposal)
    return reply


def _co_units_on(ctx: Ctx, proposal_id: int) -> list[Assignment]:
    """The co-handling assignments still on a proposal (not reassigned away, not ended)."""
    return list(
        ctx.session.exec(
            select(Assignment)
            .where(
                Assignment.proposal_id == proposal_id,
                Assignment.role == "co",
                col(Assignment.status).in_(ASSIGNMENT_TRANSITIONS["complete"].sources),
            )
            .order_by(col(Assignment.id))
        ).all()
    )


def countersigning_units(ctx: Ctx, proposal_id: int) -> list[Assignment]:
    """The units a reply submitted now asks to countersign (会签): the co-handling units still
    on the proposal, except one whose request for adjustment (申请调整) staff have not
    decided yet: it may be relieved of the proposal, so it is asked only once staff refuse
    the request, if the letter still waits then (workflow.countersigns)."""
    return [
        a
        for a in _co_units_on(ctx, proposal_id)
        if a.status != AssignmentStatus.ADJUSTMENT_REQUESTED
    ]


def units_held_back(ctx: Ctx, proposal_id: int) -> list[Assignment]:
    """The co-handling units a reply submitted now does not ask to countersign: their
    requests for adjustment are undecided (see ``countersigning_units``)."""
    return [
        a
        for a in _co_units_on(ctx, proposal_id)
        if a.status == AssignmentStatus.ADJUSTMENT_REQUESTED
    ]


def countersign_actions(reply_id: int) -> list[dict]:
    """The buttons of the notice asking a co-handling unit to countersign (message ids)."""
    return [
        {"label": label("✅ 同意会签"), "payload": f"cs:{reply_id}:yes"},
        {"label": label("✏️ 提出修改意见"), "payload": f"cs:{reply_id}:no"},
    ]


def letter_text(reply: Reply) -> Text:
    """The reply letter as a countersigning unit reads it."""
    return Text(
        "《{title}》\n{body}\n（联系人：{person}　联系电话：{phone}）\n{unit}　{day}",
        title=reply.title,
        body=reply.body,
        person=reply.contact_person,
        phone=reply.contact_phone,
        unit=reply.signing_unit,
        day=reply.reply_date,
    )


def _ask_countersign(
    ctx: Ctx, reply: Reply, assignment: Assignment, proposal: Proposal, co: list[Assignment]
) -> None:
    """The letter waits for each co-handling unit's countersignature; their handlers are
    sent it with the two buttons."""
    reply.status = "countersigning"
    ctx.session.add(reply)
    due = ctx.calendar.add_workdays(ctx.today, ctx.rules.countersign_window_workdays)
    for unit in co:
        ctx.session.add(
            Countersign(
                reply_id=pk(reply), assignment_id=pk(unit), unit_id=unit.unit_id, due_date=due
            )
        )
    move_assignment(
        ctx,
        assignment,
        "submit_for_countersign",
        reply_id=reply.id,
        version=reply.version,
        units=[unit.unit_id for unit in co],
        due_date=due,
    )
    for unit in co:
        ask_to_countersign(ctx, reply, assignment, proposal, unit, due)


def ask_to_countersign(
    ctx: Ctx,
    reply: Reply,
    lead: Assignment,
    proposal: Proposal,
    co: Assignment,
    due: date,
) -> None:
    """The notice asking a co-handling unit's handlers to countersign: the letter itself,
    with the two buttons."""
    notify(
        ctx,
        people_with_role(ctx.session, Role.HANDLER, co.unit_id),
        "countersign_requested",
        Text(
            "{lead}已拟好{number}提案《{title}》的答复（{cls}类，第{version}稿），"
            "请贵单位于{due}前会签：同意请点「同意会签」，需要修改请点「提出修改意见」。"
            "逾期未会签的，视为同意。\n\n{letter}",
            lead=unit_name(ctx, lead.unit_id),
            number=number_text(proposal.year, proposal.number),
            title=proposal.title,
            cls=reply.reply_class,
            version=reply.version,
            due=due,
            letter=letter_text(reply),
        ),
        key=f"{reply.id}:{co.id}",
        proposal_id=proposal.id,
        actions=countersign_actions(pk(reply)),
    )


def send_to_review(ctx: Ctx, reply: Reply, assignment: Assignment, proposal: Proposal) -> None:
    """The letter goes to 督办审核: the proposal waits for review, the reviewers are told."""
    reply.status = "submitted"
    ctx.session.add(reply)
    _proposal_move(ctx, proposal, "submit_reply", reply_id=reply.id, reply_class=reply.reply_class)
    reviewers = people_with_role(ctx.session, Role.STAFF)
    if proposal.supervising_unit_id is not None:
        reviewers += people_with_role(ctx.session, Role.SUPERVISOR, proposal.supervising_unit_id)
    notify(
        ctx,
        reviewers,
        "reply_submitted",
        Text(
            "{unit}已提交{number}提案《{title}》的答复（{cls}类，第{version}稿），请审核。",
            unit=unit_name(ctx, assignment.unit_id),
            number=number_text(proposal.year, proposal.number),
            title=proposal.title,
            cls=reply.reply_class,
            version=reply.version,
        ),
        key=str(reply.id),
        proposal_id=proposal.id,
    )


def returned_before(ctx: Ctx, reply: Reply) -> Reply | None:
    """The letter the review returned just before ``reply`` was written, in the same round:
    its review comment is what ``reply`` answers. None for a round's first letter."""
    previous = ctx.session.exec(
        select(Reply).where(
            Reply.proposal_id == reply.proposal_id, Reply.version == reply.version - 1
        )
    ).first()
    if previous is None or previous.status != "returned" or previous.round != reply.round:
        return None
    return previous


def lock_reply(ctx: Ctx, reply_id: int) -> tuple[Reply, Assignment, Proposal]:
    reply = ctx.session.get(Reply, reply_id)
    if reply is None:
        raise NotFound("找不到答复 {reply_id}。", reply_id=reply_id)
    assignment, proposal = lock_assignment(ctx, reply.assignment_id)
    ctx.session.refresh(reply)
    return reply, assignment, proposal


def return_reply(ctx: Ctx, reply_id: int, comment: str) -> Reply:
    """督办审核 returns the reply to the lead unit with a comment."""
    require_role(ctx, PROPOSAL_TRANSITIONS["return_reply"])
    comment = check_text(comment, "退回意见", max_chars=2000)
    reply, assignment, proposal = lock_reply(ctx, reply_id)
    require_reply_reviewer(ctx, proposal)
    _not_reviewed_yet(ctx, "return_reply", reply, proposal)
    _assignment_guard(ctx, "return_reply", assignment, proposal)
    if reply.status != "submitted":
        raise InvalidTransition("这一稿答复已经审核过了。")
    reply.status = "returned"
    reply.reviewed_by = ctx.actor_id
    reply.reviewed_at = ctx.now
    reply.review_comment = comment
    ctx.session.add(reply)
    move_assignment(ctx, assignment, "return_reply", reply_id=reply.id, comment=comment)
    _proposal_move(ctx, proposal, "return_reply", reply_id=reply.id)
    handlers = people_with_role(ctx.session, Role.HANDLER, assignment.unit_id)
    notify(
        ctx,
        handlers,
        "reply_returned",
        Text(
            "{number}提案《{title}》的答复被退回，请修改后重新提交。\n审核意见：{comment}",
            number=number_text(proposal.year, proposal.number),
            title=proposal.title,
            comment=comment,
        ),
        key=str(reply.id),
        proposal_id=proposal.id,
    )
    notify(  # those who follow it besides its units, but not the reviewer who returned it
        ctx,
        watchers_of(ctx, proposal),
        "reply_returned_watch",
        Text(
            "{kind}{number}《{title}》的答复（第{version}稿）已由{who}退回主办单位{unit}修改。"
            "\n审核意见：{comment}",
            kind=_kind(proposal),
            number=number_text(proposal.year, proposal.number),
            title=proposal.title,
            version=reply.version,
            who=person_name(ctx.session, ctx.actor_id),
            unit=unit_name(ctx, assignment.unit_id),
            comment=comment,
        ),
        key=str(reply.id),
        proposal_id=proposal.id,
        exclude=[ctx.actor_id, *handlers],
    )
    return reply


def _kind(proposal: Proposal) -> str:
    """重点提案 or 提案, as the notices to those who follow a proposal call it."""
    return label("重点提案") if proposal.is_key else label("提案")


def approve_reply(ctx: Ctx, reply_id: int, reply_class: str | None = None) -> Reply:
    """督办审核 approves (possibly changing the class); the reply goes to every signer."""
    require_role(ctx, PROPOSAL_TRANSITIONS["approve_reply"])
    reply, assignment, proposal = lock_reply(ctx, reply_id)
    require_reply_reviewer(ctx, proposal)
    _not_reviewed_yet(ctx, "approve_reply", reply, proposal)
    _assignment_guard(ctx, "approve_reply", assignment, proposal)
    if reply.status != "submitted":
        raise InvalidTransition("这一稿答复已经审核过了。")
    if reply_class is not None:
        reply_class = reply_class.strip().upper()
        if reply_class not in ctx.rules.reply_classes:
            raise InvalidInput(
                "答复类别只能是 {classes}。", classes="/".join(ctx.rules.reply_classes)
            )
        reply.reply_class = reply_class
    reply.status = "approved"
    reply.reviewed_by = ctx.actor_id
    reply.reviewed_at = ctx.now
    ctx.session.add(reply)
    move_assignment(
        ctx,
        assignment,
        "approve_reply",
        reply_id=reply.id,
        reply_class=reply.reply_class,
        proposed_class=reply.proposed_class,
    )
    assignment.ended_at = ctx.now
    co_units = _co_units_on(ctx, pk(proposal))
    for co in co_units:
        co.ended_at = ctx.now
        move_assignment(ctx.as_system(), co, "complete")
    proposal.delivered_at = ctx.now
    _proposal_move(
        ctx, proposal, "approve_reply", reply_id=reply.id, reply_class=reply.reply_class
    )
    # The unit was told the review's outcome would follow: approved, as proposed or not.
    approved = (
        Text(
            "{number}提案《{title}》的答复已审核通过（{reply_class}类），已送达提案人。",
            number=number_text(proposal.year, proposal.number),
            title=proposal.title,
            reply_class=reply.reply_class,
        )
        if reply.reply_class == reply.proposed_class or not reply.proposed_class
        else Text(
            "{number}提案《{title}》的答复已审核通过，答复类别由{proposed}类改为{reply_class}类，"
            "已送达提案人。",
            number=number_text(proposal.year, proposal.number),
            title=proposal.title,
            proposed=reply.proposed_class,
            reply_class=reply.reply_class,
        )
    )
    handlers = people_with_role(ctx.session, Role.HANDLER, assignment.unit_id)
    notify(
        ctx,
        handlers,
        "reply_approved",
        approved,
        key=str(reply.id),
        proposal_id=proposal.id,
    )
    # Whoever the delivery or the lead unit's notice tells is not told again below.
    told = {ctx.actor_id, *handlers, *signer_ids(ctx.session, pk(proposal))}
    for co in co_units:  # their assignments just ended: their part is done
        co_handlers = people_with_role(ctx.session, Role.HANDLER, co.unit_id)
        notify(
            ctx,
            co_handlers,
            "co_reply_approved",
            Text(
                "{number}提案《{title}》的答复（主办单位：{lead}）已审核通过，并已送达提案人。"
                "贵单位的协办工作已经完成，无需再办理。",
                number=number_text(proposal.year, proposal.number),
                title=proposal.title,
                lead=unit_name(ctx, assignment.unit_id),
            ),
            key=f"{reply.id}:{co.id}",
            proposal_id=proposal.id,
            exclude=told,
        )
        told.update(co_handlers)
    _tell_watchers_approved(ctx, proposal, reply, exclude=told)
    _deliver(ctx, proposal, reply)
    for merged in ctx.session.exec(
        select(Proposal)
        .where(
            Proposal.merged_into_id == proposal.id,
            col(Proposal.status).in_(PROPOSAL_TRANSITIONS["deliver_merged"].sources),
        )
        .with_for_update()
    ).all():
        merged.delivered_at = ctx.now
        _proposal_move(
            ctx.as_system(), merged, "deliver_merged", reply_id=reply.id, target_id=proposal.id
        )
        _deliver(ctx, merged, reply, via=proposal)
    return reply


def _tell_watchers_approved(
    ctx: Ctx, proposal: Proposal, reply: Reply, *, exclude: set[int | None]
) -> None:
    """Those who follow a proposal besides its units (its supervising unit, its lead
    leader): the reply was approved, in which class, and went to the proposer."""
    params = {
        "kind": _kind(proposal),
        "number": number_text(proposal.year, proposal.number),
        "title": proposal.title,
        "who": person_name(ctx.session, ctx.actor_id),
        "cls": reply.reply_class,
        "meaning": CLASS_MEANINGS.get(reply.reply_class),
    }
    text = (
        Text(
            "{kind}{number}《{title}》的答复已由{who}审核通过（{cls}类：{meaning}），"
            "已送达提案人。",
            **params,
        )
        if reply.reply_class == reply.proposed_class or not reply.proposed_class
        else Text(
            "{kind}{number}《{title}》的答复已由{who}审核通过，答复类别由{proposed}类改为"
            "{cls}类（{meaning}），已送达提案人。",
            proposed=reply.proposed_class,
            **params,
        )
    )
    notify(
        ctx,
        watchers_of(ctx, proposal),
        "reply_approved_watch",
        text,
        key=str(reply.id),
        proposal_id=proposal.id,
        exclude=exclude,
    )


def _deliver(ctx: Ctx, proposal: Proposal, reply: Reply, via: Proposal | None = None) -> None:
    source = via or proposal
    last_day = ctx.calendar.add_workdays(ctx.today, ctx.rules.rating_window_workdays)
    merged_note = (
        Text("（并案办理，主案为{number}）", number=number_text(source.year, source.number))
        if via
        else None
    )
    notify(
        ctx,
        signer_ids(ctx.session, pk(proposal)),
        "reply_delivered",
        Text(
            "您的提案《{title}》{merged}已收到{unit}的答复（{cls}类：{meaning}）。"
            "请于{deadline}前对办理工作作出评价。",
            title=proposal.title,
            merged=merged_note,
            unit=reply.signing_unit,
            cls=reply.reply_class,
            meaning=CLASS_MEANINGS.get(reply.reply_class),
            deadline=last_day,
        ),
        key=f"{proposal.id}:{reply.id}",
        proposal_id=proposal.id,
        actions=rating_actions(pk(proposal), pk(reply)),
    )


def delivered_reply(ctx: Ctx, proposal: Proposal) -> Reply | None:
    """The approved reply a proposal's signers rate (the main proposal's, if merged)."""
    source_id = proposal.merged_into_id or pk(proposal)
    return latest_reply(ctx, source_id, status="approved")


def rating_deadline(ctx: Ctx, proposal: Proposal) -> date | None:
    if proposal.delivered_at is None:
        return None
    start = ctx.local(proposal.delivered_at).date()
    return ctx.calendar.add_workdays(start, ctx.rules.rating_window_workdays)


def rate(
    ctx: Ctx,
    proposal_id: int,
    *,
    work: str,
    result: str | None = None,
    feedback: str | None = None,
    reply_id: int | None = None,
) -> Rating:
    """满意度测评 by a signer: the handling work and the result (one tap rates both).
    ``reply_id``: the reply a notice's button was given for; refused if another reply has
    been delivered since (the proposal was handled again)."""
    require_role(ctx, PROPOSAL_TRANSITIONS["rate"])
    result = result or work
    if work not in RATINGS or result not in RATINGS:
        raise InvalidInput("评价只能是：满意、基本满意、不满意。")
    feedback = check_text(feedback, "反馈意见", max_chars=2000, required=False) or None
    proposal = lock_proposal(ctx, proposal_id)
    signer = signer_of(ctx, pk(proposal), ctx.actor_id)
    if signer is None or signer.state != "confirmed":
        raise PermissionDenied("只有这件提案的提案人和联名委员可以评价答复。")
    if handled_again(ctx, proposal) is not None:  # a button or a rating begun before
        raise InvalidTransition("答复正在重新办理，新的答复送达后再评价。没有做任何更改。")
    _proposal_guard(ctx, proposal, "rate")
    reply = delivered_reply(ctx, proposal)
    if reply is None:  # pragma: no cover - a delivered proposal always has one
        raise InvalidTransition("这件提案还没有可以评价的答复。")
    if reply_id is not None and reply_id != reply.id:
        # the proposal was handled again and another reply delivered, with buttons of its own
        raise InvalidTransition(
            "这个评价按钮属于此前的答复：提案已重新办理并送达新的答复，"
            "请用新答复通知里的按钮评价。没有做任何更改。"
        )
    rating = ctx.session.exec(
        select(Rating).where(
            Rating.reply_id == reply.id,
            Rating.proposal_id == proposal.id,
            Rating.person_id == ctx.actor_id,
        )
    ).first()
    if rating is None:
        rating = Rating(proposal_id=pk(proposal), reply_id=pk(reply), person_id=signer.person_id)
    before = (
        None
        if rating.id is None or rating.not_given
        else (rating.work_rating, rating.result_rating, rating.feedback)
    )
    after = (work, result, feedback if feedback is not None else rating.feedback)
    if before == after:
        # The same rating again (a second tap on the notice's button): nothing is recorded
        # again, no one is told twice.
        return rating
    # What the record's timeline tells apart: a first rating, feedback added to it, a
    # rating changed.
    detail: dict = {"work": work, "result": result}
    if before is not None and before[:2] == (work, result):
        detail["feedback_added"] = True
    elif before is not None:
        detail["previous_work"], detail["previous_result"] = before[:2]
    event = _proposal_move(ctx, proposal, "rate", **detail)
    rating.work_rating, rating.result_rating, rating.feedback = after
    rating.not_given = False
    rating.rated_at = ctx.now
    ctx.session.add(rating)
    ctx.session.flush()
    if "unsatisfied" in (work, result):
        lead = ctx.session.get(Assignment, reply.assignment_id)
        notify(
            ctx,
            [
                *people_with_role(ctx.session, Role.STAFF),
                *people_with_role(ctx.session, Role.HANDLER, lead.unit_id if lead else None),
            ],
            "rated_unsatisfied",
            # The same 不满意 with feedback written after the tap: what it adds, not the
            # rating told a second time as if new.
            _unsatisfied_text(
                ctx,
                proposal,
                feedback,
                added=before is not None and before[:2] == (work, result),
            ),
            key=str(event.id),
            proposal_id=proposal.id,
        )
    elif _everyone_rated(ctx, proposal, reply) and not _any_unsatisfied(ctx, proposal, reply):
        _close(ctx.as_system(), proposal, reason="all_rated")
    return rating


def _unsatisfied_text(
    ctx: Ctx, proposal: Proposal, feedback: str | None, *, added: bool = False
) -> Text:
    params = {
        "name": person_name(ctx.session, ctx.actor_id),
        "number": number_text(proposal.year, proposal.number),
        "title": proposal.title,
    }
    main = ctx.session.get(Proposal, proposal.merged_into_id) if proposal.merged_into_id else None
    if main is not None:  # unnumbered: the reply rated is the main's, which staff handle
        params["number"] = number_text(main.year, main.number)
        params["title"] = main.title
    if feedback and added:
        return Text(
            "{name}委员对{number}提案《{title}》答复的不满意评价补充了意见：{feedback}",
            feedback=feedback,
            **params,
        )
    if feedback:
        return Text(
            "{name}委员对{number}提案《{title}》的答复评价为不满意，意见：{feedback}",
            feedback=feedback,
            **params,
        )
    return Text("{name}委员对{number}提案《{title}》的答复评价为不满意。", **params)


def _everyone_rated(ctx: Ctx, proposal: Proposal, reply: Reply) -> bool:
    return not unrated_signers(ctx, proposal, reply)


def _any_unsatisfied(ctx: Ctx, proposal: Proposal, reply: Reply) -> bool:
    """Someone rated ``reply`` 不满意 on this proposal; for a main proposal, also on the
    proposals merged into it, whose proposers rate the same reply and whose 不满意 staff
    answer by handling the main again."""
    stmt = select(Rating).where(Rating.reply_id == reply.id)
    if proposal.merged_into_id is not None:
        stmt = stmt.where(Rating.proposal_id == proposal.id)
    return any(
        "unsatisfied" in (r.work_rating, r.result_rating) for r in ctx.session.exec(stmt).all()
    )


def awaits_staff(ctx: Ctx, proposal: Proposal) -> bool:
    """A delivered proposal whose 不满意 waits for staff (不满意待处理): a main proposal with
    an 不满意 on its reply, its own or a merged proposal's (重新办理 or 办结); a merged one
    rated 不满意 once its main is closed (办结 only: there is nothing left to handle again)."""
    if proposal.status != ProposalStatus.DELIVERED:
        return False
    reply = delivered_reply(ctx, proposal)
    if reply is None or not _any_unsatisfied(ctx, proposal, reply):
        return False
    if proposal.merged_into_id is None:
        return True
    main = ctx.session.get(Proposal, proposal.merged_into_id)
    return main is not None and main.status == ProposalStatus.CLOSED


def unrated_signers(ctx: Ctx, proposal: Proposal, reply: Reply) -> list[int]:
    """The confirmed signers with no rating of ``reply`` yet, in signing order (one query)."""
    rated = exists().where(
        col(Rating.proposal_id) == pk(proposal),
        col(Rating.reply_id) == pk(reply),
        col(Rating.person_id) == col(Signer.person_id),
    )
    return list(
        ctx.session.exec(
            select(Signer.person_id)
            .where(Signer.proposal_id == pk(proposal), Signer.state == "confirmed", ~rated)
            .order_by(col(Signer.position))
        ).all()
    )


def record_ratings_not_given(
    ctx: Ctx, proposal: Proposal, reply: Reply | None = None
) -> list[int]:
    """At the end of the window, a missing rating is recorded as not given, never invented.
    ``reply``: the proposal's delivered reply, when the caller has read it already."""
    reply = reply or delivered_reply(ctx, proposal)
    if reply is None:
        return []
    missing = unrated_signers(ctx, proposal, reply)
    for person_id in missing:
        ctx.session.add(
            Rating(
                proposal_id=pk(proposal),
                reply_id=pk(reply),
                person_id=person_id,
                not_given=True,
                rated_at=ctx.now,
            )
        )
    if missing:
        audit(ctx, "rating_not_given", proposal_id=proposal.id, person_ids=missing)
    return missing


def close_after_window(ctx: Ctx, proposal: Proposal, reply: Reply) -> bool:
    """At the end of the rating window (the system, once the missing ratings are recorded as
    not given): a proposal none of whose ratings is 不满意 is closed (办结), as when everyone
    rated; one rated 不满意 waits for staff to order 重新办理 or close it. A merged proposal
    waits for its main to close (随主案办结): handled again, its new reply reaches it too.
    True if closed."""
    if proposal.status != ProposalStatus.DELIVERED or _any_unsatisfied(ctx, proposal, reply):
        return False
    if proposal.merged_into_id is not None:
        main = ctx.session.get(Proposal, proposal.merged_into_id)
        if main is not None and main.status != ProposalStatus.CLOSED:
            return False
    _close(ctx, proposal, reason="window_ended")
    return True


def publish(ctx: Ctx, proposal_id: int) -> bool:
    """信息公开: the system publishes a disclosed proposal and its reply once the publication
    period after delivery has passed, and tells the signers; False if there is nothing to do."""
    if ctx.actor is not None:
        raise PermissionDenied("「{action}」由系统自动执行，不能手动操作。", action=PUBLISH)
    proposal = lock_proposal(ctx, proposal_id)
    if proposal.published or not proposal.disclose or proposal.delivered_at is None:
        return False
    reply = delivered_reply(ctx, proposal)
    proposal.published = True
    proposal.updated_at = ctx.now
    ctx.session.add(proposal)
    audit(ctx, "publish", proposal_id=proposal.id, reply_id=reply.id if reply else None)
    notify(
        ctx,
        signer_ids(ctx.session, pk(proposal)),
        "published",
        Text("您的提案《{title}》及其答复已按信息公开的要求公开。", title=proposal.title),
        key=str(proposal.id),
        proposal_id=proposal.id,
    )
    return True


def _close(ctx: Ctx, proposal: Proposal, *, reason: str) -> None:
    action = "close_merged" if proposal.merged_into_id else "close"
    proposal.closed_at = ctx.now
    transition = PROPOSAL_TRANSITIONS[action]
    assert transition.target is not None, "办结 moves a proposal on"
    before = proposal.status
    proposal.status = transition.target
    ctx.session.add(proposal)
    audit(
        ctx,
        action,
        proposal_id=proposal.id,
        from_status=before,
        to_status=proposal.status,
        reason=reason,
    )
    notify(
        ctx,
        signer_ids(ctx.session, pk(proposal)),
        "closed",
        Text("您的提案《{title}》已办结。感谢您的履职建言。", title=proposal.title),
        key=str(proposal.id),
        proposal_id=proposal.id,
    )


def close(ctx: Ctx, proposal_id: int) -> Proposal:
    """办结: staff close a delivered proposal once every signer rated or the window ended;
    missing ratings are then recorded as not given. Merged proposals close with it; one
    merged is closed on its own only once its main is (rated 不满意 after that)."""
    require_role(ctx, PROPOSAL_TRANSITIONS["close"])
    proposal = lock_proposal(ctx, proposal_id)
    require_status(
        ctx,
        PROPOSAL_TRANSITIONS["close"],
        proposal.status,
        label=proposal_label,
        subject=Text("{number}提案", number=number_text(proposal.year, proposal.number)),
        proposal_id=pk(proposal),
    )
    if proposal.merged_into_id:
        main = ctx.session.get(Proposal, proposal.merged_into_id)
        if main is None or main.status != ProposalStatus.CLOSED:
            raise InvalidInput("并案提案随主案办结，请办结主案。")
    reply = delivered_reply(ctx, proposal)
    deadline = rating_deadline(ctx, proposal)
    if reply is not None and not _everyone_rated(ctx, proposal, reply):
        if deadline is not None and ctx.today <= deadline:
            raise InvalidTransition(
                "评价期到{deadline}结束，仍有委员未评价，评价期满后才能办结。", deadline=deadline
            )
        record_ratings_not_given(ctx, proposal)
    _close(ctx, proposal, reason="staff")
    for merged in ctx.session.exec(
        select(Proposal)
        .where(
            Proposal.merged_into_id == proposal.id,
            col(Proposal.status).in_(PROPOSAL_TRANSITIONS["close_merged"].sources),
        )
        .with_for_update()
    ).all():
        system = ctx.as_system()
        record_ratings_not_given(system, merged)
        _close(system, merged, reason="main_closed")
    return proposal


def order_rehandle(
    ctx: Ctx, proposal_id: int, *, due_date: date | None = None, note: str | None = None
) -> Assignment:
    """重新办理 after 不满意, once, with a new due date; the lead unit replies again."""
    require_role(ctx, PROPOSAL_TRANSITIONS["order_rehandle"])
    note = check_text(note, "重新办理要求", max_chars=2000, required=False) or None
    proposal = lock_proposal(ctx, proposal_id)
    require_status(
        ctx,
        PROPOSAL_TRANSITIONS["order_rehandle"],
        proposal.status,
        label=proposal_label,
        subject=Text("{number}提案", number=number_text(proposal.year, proposal.number)),
        proposal_id=pk(proposal),
    )
    if proposal.merged_into_id:
        raise InvalidInput("并案提案随主案办理，请对主案下达重新办理。")
    if proposal.rehandle_count >= ctx.rules.max_rehandles:
        raise InvalidTransition(
            "这件提案已经重新办理过 {n} 次，不能再次重新办理。", n=proposal.rehandle_count
        )
    reply = delivered_reply(ctx, proposal)
    if reply is None or not _any_unsatisfied(ctx, proposal, reply):
        raise InvalidTransition("只有委员评价为「不满意」的答复才能重新办理。")
    due_date = due_date_or_default(
        ctx, due_date, ctx.rules.rehandle_due_months, label("新的答复期限")
    )
    lead = lead_assignment(ctx, pk(proposal))
    assert lead is not None
    lead, _ = lock_assignment(ctx, pk(lead))
    lead.due_date = due_date
    lead.ended_at = None
    move_assignment(ctx, lead, "rehandle", due_date=due_date, note=note)
    proposal.rehandle_count += 1
    proposal.due_date = due_date
    proposal.delivered_at = None
    _proposal_move(ctx, proposal, "order_rehandle", due_date=due_date, note=note)
    text = _rehandle_text(proposal, due_date, note)
    notify(
        ctx,
        people_with_role(ctx.session, Role.HANDLER, lead.unit_id),
        "rehandle_ordered",
        text,
        key=f"{proposal.id}:{proposal.rehandle_count}",  # once per 重新办理, which may recur
        proposal_id=proposal.id,
        urgent=True,
    )
    unit = unit_name(ctx, lead.unit_id)
    notify(  # those who follow it besides its units: the new due date to supervise
        ctx,
        watchers_of(ctx, proposal),
        "rehandle_ordered_watch",
        Text(
            "{number}提案《{title}》的答复评价为不满意，已安排{unit}重新办理，"
            "新的答复期限为{due}，请予督办。",
            number=number_text(proposal.year, proposal.number),
            title=proposal.title,
            unit=unit,
            due=due_date,
        ),
        key=f"{proposal.id}:{proposal.rehandle_count}",
        proposal_id=proposal.id,
    )
    notify(
        ctx,
        signer_ids(ctx.session, pk(proposal)),
        "rehandle_ordered_member",
        Text(
            "您的提案《{title}》已安排{unit}重新办理，新的答复期限为{due}。",
            title=proposal.title,
            unit=unit,
            due=due_date,
        ),
        key=f"{proposal.id}:{proposal.rehandle_count}",
        proposal_id=proposal.id,
    )
    # The proposals merged into it that received the reply wait for the new one as they
    # waited for the first (已并案): the earlier reply is no longer theirs to rate, and the
    # new one reaches them when approved (deliver_merged). One closed already stays closed.
    system = ctx.as_system()
    for merged in ctx.session.exec(
        select(Proposal)
        .where(
            Proposal.merged_into_id == proposal.id,
            col(Proposal.status).in_(PROPOSAL_TRANSITIONS["rehandle_merged"].sources),
        )
        .order_by(col(Proposal.id))
        .with_for_update()
    ).all():
        merged.delivered_at = None
        _proposal_move(system, merged, "rehandle_merged", target_id=proposal.id)
        notify(
            ctx,
            signer_ids(ctx.session, pk(merged)),
            "rehandle_ordered_member",
            Text(
                "您的提案《{title}》与{number}提案并案办理。该提案的答复评价为不满意，"
                "已安排{unit}重新办理，新的答复期限为{due}。"
                "此前的答复不再评价，新的答复送达后请再作评价。",
                title=merged.title,
                number=number_text(proposal.year, proposal.number),
                unit=unit,
                due=due_date,
            ),
            key=f"{merged.id}:{proposal.rehandle_count}",
            proposal_id=merged.id,
        )
    return lead


def handled_again(ctx: Ctx, proposal: Proposal) -> Proposal | None:
    """The proposal whose reply is being written again (重新办理) while it is: this one, or
    the main a merged one waits for; None otherwise. Its earlier reply is rated no more,
    the new one once it is delivered."""
    if proposal.status not in (
        ProposalStatus.ASSIGNED,
        ProposalStatus.REPLIED,
        ProposalStatus.MERGED,
    ):
        return None
    main = (
        ctx.session.get(Proposal, proposal.merged_into_id) if proposal.merged_into_id else proposal
    )
    if (
        main is None
        or main.rehandle_count == 0
        or main.status not in (ProposalStatus.ASSIGNED, ProposalStatus.REPLIED)
    ):
        return None
    return main


def _rehandle_text(proposal: Proposal, due: date, note: str | None) -> Text:
    return Text(
        "{number}提案《{title}》因委员不满意，须重新办理，请于{due}前重新答复。{extra}",
        number=number_text(proposal.year, proposal.number),
        title=proposal.title,
        due=due,
        extra=Text("要求：{note}", note=note) if note else None,
    )


def rehandle_order(ctx: Ctx, assignment_id: int) -> Text | None:
    """What the lead unit handling a proposal again (重新办理) was told to do, by its current
    due date, with staff's requirement if they wrote one; None for an assignment that is not
    being handled again. For a handler of the assignment's unit."""
    assignment = _unit_assignment(ctx, assignment_id)
    proposal = ctx.session.get(Proposal, assignment.proposal_id)
    if (
        proposal is None
        or assignment.role != "lead"
        or proposal.rehandle_count == 0
        or assignment.status not in ACTIVE_ASSIGNMENT_STATUSES
    ):
        return None
    order = ctx.session.exec(
        select(AuditEvent)
        .where(
            AuditEvent.assignment_id == assignment.id,
            AuditEvent.action == "assignment_rehandle",
        )
        .order_by(col(AuditEvent.id).desc())
        .limit(1)
    ).first()
    note = (order.detail or {}).get("note") if order is not None else None
    return _rehandle_text(proposal, assignment.due_date, note)


def signers_of(ctx: Ctx, proposal_id: int) -> list[Signer]:
    return list(
        ctx.session.exec(
            select(Signer).where(Signer.proposal_id == proposal_id).order_by(col(Signer.position))
        ).all()
    )
