"""会签: the co-handling units countersign the lead unit's reply letter before review.

A reply of a proposal with co-handling units still on it waits for each of them
(``replies.submit_reply`` asks them). A handler of each unit agrees or asks for changes,
once per letter version; one request for changes returns the letter to the lead unit as a
draft, with the comment. When every unit has agreed the letter goes to 督办审核 as a reply
without co-handling units does. A unit silent past its window (working days, a setting) is
recorded as 逾期未会签，视为同意 by the sweep, which then sends the letter on. When the
letter goes on, the lead unit is told each unit's countersignature (who agreed, which were
deemed to, which were not asked).

A request for changes tells the units whose countersignatures were still awaited that the
letter went back (the revision asks every unit again; one whose request for adjustment is
undecided is told it will be asked if staff refuse the request while the revision waits). A unit whose request for adjustment
(申请调整) staff have not decided when the letter is submitted is not asked, and the letter
does not wait for it: staff refusing the request while the letter still waits ask it then;
staff granting it ask the unit taking its place. A unit asked before it requested adjustment
stays asked (its window still runs); if it is relieved, its successor is asked instead (as
it is when a unit that had agreed is relieved: the units on the proposal countersign).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import col, select

from storage.models import Assignment, Countersign, Proposal, Reply, pk
from workflow.assignments import move_assignment, unit_name
from workflow.core import (
    Ctx,
    audit,
    check_text,
    local_time,
    notify,
    people_with_role,
    person_name,
)
from workflow.errors import InvalidTransition, NotFound, PermissionDenied
from workflow.numbering import number_text
from workflow.replies import ask_to_countersign, latest_reply, lock_reply, send_to_review
from workflow.roles import Role
from workflow.statuses import ASSIGNMENT_TRANSITIONS, AssignmentStatus
from workflow.texts import Text, label

DECISIONS = {
    "agreed": label("同意"),
    "objected": label("提出修改意见"),
    "deemed": label("逾期未会签，视为同意"),
}
COMMENT_MAX = 2000
ON_IT = ASSIGNMENT_TRANSITIONS["complete"].sources  # a co-handling unit still on it


def rows_of(ctx: Ctx, reply_id: int) -> list[Countersign]:
    """The countersignatures a letter version asked for, in the order of the units."""
    return list(
        ctx.session.exec(
            select(Countersign)
            .where(Countersign.reply_id == reply_id)
            .order_by(col(Countersign.assignment_id))
        ).all()
    )


def awaited(ctx: Ctx, reply: Reply) -> list[Countersign]:
    """The countersignatures still awaited on a letter waiting for them (none otherwise),
    of units still on the proposal."""
    if reply.status != "countersigning":
        return []
    on_it = set(
        ctx.session.exec(
            select(Assignment.id).where(
                Assignment.proposal_id == reply.proposal_id,
                col(Assignment.status).in_(ON_IT),
            )
        ).all()
    )
    return [r for r in rows_of(ctx, pk(reply)) if r.decision is None and r.assignment_id in on_it]


def owing(ctx: Ctx, assignment_ids: list[int]) -> set[int]:
    """Which of these (co-handling) assignments owe a countersignature now: one query."""
    if not assignment_ids:
        return set()
    return set(
        ctx.session.exec(
            select(Countersign.assignment_id)
            .join(Reply, col(Reply.id) == Countersign.reply_id)
            .where(
                col(Countersign.assignment_id).in_(assignment_ids),
                col(Countersign.decision).is_(None),
                Reply.status == "countersigning",
            )
        ).all()
    )


def awaited_from(ctx: Ctx, assignment: Assignment) -> tuple[Countersign, Reply] | None:
    """The countersignature a co-handling unit's assignment owes now, with its letter."""
    row = ctx.session.exec(
        select(Countersign)
        .join(Reply, col(Reply.id) == Countersign.reply_id)
        .where(
            Countersign.assignment_id == assignment.id,
            col(Countersign.decision).is_(None),
            Reply.status == "countersigning",
        )
        .order_by(col(Countersign.id).desc())
        .limit(1)
    ).first()
    if row is None or assignment.status not in ON_IT:
        return None
    reply = ctx.session.get(Reply, row.reply_id)
    assert reply is not None
    return row, reply


@dataclass(frozen=True)
class UnitSignature:
    """A co-handling unit beside a letter: its countersignature of it (None: it was not
    asked), and whether it was held back as its request for adjustment is undecided."""

    unit_id: int
    row: Countersign | None
    adjustment_undecided: bool


def co_units(ctx: Ctx, proposal_id: int) -> list[Assignment]:
    """The co-handling units of a proposal, in the order they were assigned; those reassigned
    away left out (the unit in its place stands for them)."""
    return list(
        ctx.session.exec(
            select(Assignment)
            .where(
                Assignment.proposal_id == proposal_id,
                Assignment.role == "co",
                col(Assignment.status) != AssignmentStatus.REASSIGNED,
            )
            .order_by(col(Assignment.id))
        ).all()
    )


def signatures(ctx: Ctx, reply: Reply) -> list[UnitSignature]:
    """Each co-handling unit of the letter's proposal (those reassigned away left out: the
    unit in its place stands for it) with its countersignature of this letter version, in
    the order of the units; what the review reads beside the letter."""
    rows = {r.assignment_id: r for r in rows_of(ctx, pk(reply))}
    units = co_units(ctx, reply.proposal_id)
    return [
        UnitSignature(
            unit_id=a.unit_id,
            row=rows.get(pk(a)),
            adjustment_undecided=a.status == AssignmentStatus.ADJUSTMENT_REQUESTED,
        )
        for a in units
    ]


def _open(ctx: Ctx, reply_id: int) -> tuple[Countersign, Assignment, Reply, Assignment, Proposal]:
    """The actor's unit's awaited countersignature of ``reply_id``, locked; everything that
    makes it not theirs to give, or not now, is refused with what is the case."""
    if ctx.actor is not None and not ctx.has_role(Role.HANDLER):
        raise PermissionDenied("只有这件提案的协办单位可以会签答复。")
    if ctx.session.get(Reply, reply_id) is None:
        raise NotFound("找不到答复 {reply_id}。", reply_id=reply_id)
    reply, lead, proposal = lock_reply(ctx, reply_id)
    unit_id = ctx.actor.unit_id if ctx.actor is not None else None
    if ctx.actor is None or unit_id is None:
        raise PermissionDenied("只有这件提案的协办单位可以会签答复。")
    if unit_id == lead.unit_id:
        raise PermissionDenied("答复由本单位撰写，会签由协办单位进行。")
    row = ctx.session.exec(
        select(Countersign)
        .where(Countersign.reply_id == reply.id, Countersign.unit_id == unit_id)
        .with_for_update()
    ).first()
    if row is None:
        raise PermissionDenied("只有这件提案的协办单位可以会签答复。")
    co = ctx.session.get(Assignment, row.assignment_id)
    assert co is not None
    if row.decision == "deemed":  # nobody signed: the window ended
        raise InvalidTransition(
            "第{v}稿答复的会签期限{d}已过，本单位已按逾期未会签，视为同意处理，不能再会签。",
            v=reply.version,
            d=row.due_date,
        )
    if row.decision is not None:
        raise InvalidTransition(
            "第{v}稿答复本单位已由{name}于{at}会签（{decision}），不能再次会签。",
            v=reply.version,
            name=person_name(ctx.session, row.decided_by),
            at=local_time(ctx, row.decided_at),
            decision=DECISIONS.get(row.decision, label(row.decision)),
        )
    if co.status not in ON_IT:
        raise PermissionDenied("本单位已不再协办这件提案，不需要会签。")
    if reply.status == "returned" and co.status == AssignmentStatus.ADJUSTMENT_REQUESTED:
        raise InvalidTransition(
            "第{v}稿答复已退回主办单位修改，不再会签。本单位申请调整尚待决定：提案委不予调整的，"
            "会请您会签修改后的答复，除非届时该答复已完成会签。",
            v=reply.version,
        )
    if reply.status == "returned":
        raise InvalidTransition(
            "第{v}稿答复已退回主办单位修改，不再会签；修改后的答复提交后会再请您会签。",
            v=reply.version,
        )
    if reply.status != "countersigning":
        raise InvalidTransition("第{v}稿答复已完成会签，不能再会签。", v=reply.version)
    return row, co, reply, lead, proposal


def adjustment_undecided(ctx: Ctx, reply: Reply) -> bool:
    """Whether the actor's unit, asked to countersign this letter, has since asked for
    adjustment and staff have not decided: a revision will ask it only if they refuse."""
    unit_id = ctx.actor.unit_id if ctx.actor is not None else None
    co = ctx.session.exec(
        select(Assignment)
        .join(Countersign, col(Countersign.assignment_id) == Assignment.id)
        .where(Countersign.reply_id == reply.id, Countersign.unit_id == unit_id)
    ).first()
    return co is not None and co.status == AssignmentStatus.ADJUSTMENT_REQUESTED


def check_may(ctx: Ctx, reply_id: int) -> Countersign:
    """Refuse now what ``agree`` or ``object_to`` would refuse (before asking the comment)."""
    return _open(ctx, reply_id)[0]


def _record(ctx: Ctx, action: str, co: Assignment, reply: Reply, **detail) -> None:
    """The audit event of a unit's countersignature (its assignment does not move)."""
    audit(
        ctx,
        action,
        proposal_id=reply.proposal_id,
        assignment_id=co.id,
        reply_id=reply.id,
        version=reply.version,
        **detail,
    )


def _subject(proposal: Proposal, reply: Reply) -> dict:
    return {
        "number": number_text(proposal.year, proposal.number),
        "title": proposal.title,
        "v": reply.version,
    }


def agree(ctx: Ctx, reply_id: int) -> Countersign:
    """同意会签 by a handler of a co-handling unit; the last one sends the letter to review."""
    row, co, reply, lead, proposal = _open(ctx, reply_id)
    row.decision = "agreed"
    row.decided_by = ctx.actor_id
    row.decided_at = ctx.now
    ctx.session.add(row)
    _record(ctx, "countersign", co, reply)
    _finish_if_complete(ctx, reply, lead, proposal)
    return row


def object_to(ctx: Ctx, reply_id: int, comment: str) -> Countersign:
    """提出修改意见: the letter goes back to the lead unit as a draft, with the comment."""
    comment = check_text(comment, "修改意见", max_chars=COMMENT_MAX)
    row, co, reply, lead, proposal = _open(ctx, reply_id)
    row.decision = "objected"
    row.comment = comment
    row.decided_by = ctx.actor_id
    row.decided_at = ctx.now
    ctx.session.add(row)
    _record(ctx, "countersign_object", co, reply, comment=comment)
    others = awaited(ctx, reply)  # the units asked that had not countersigned yet
    reply.status = "returned"
    reply.reviewed_by = ctx.actor_id
    reply.reviewed_at = ctx.now
    reply.review_comment = comment
    ctx.session.add(reply)
    move_assignment(
        ctx.as_system(), lead, "countersign_returned", reply_id=reply.id, unit_id=co.unit_id
    )
    notify(
        ctx,
        people_with_role(ctx.session, Role.HANDLER, lead.unit_id),
        "countersign_objected",
        Text(
            "{unit}对{number}提案《{title}》的答复（第{v}稿）提出修改意见，答复已退回，"
            "请修改后重新提交。\n修改意见（{name}）：{comment}",
            unit=unit_name(ctx, co.unit_id),
            name=person_name(ctx.session, ctx.actor_id),
            comment=comment,
            **_subject(proposal, reply),
        ),
        key=str(row.id),
        proposal_id=proposal.id,
    )
    for other in others:
        other_co = ctx.session.get(Assignment, other.assignment_id)
        # a unit whose request for adjustment is undecided is asked for the revision only
        # if staff keep it on the proposal (workflow.replies.countersigning_units)
        undecided = (
            other_co is not None and other_co.status == AssignmentStatus.ADJUSTMENT_REQUESTED
        )
        notify(
            ctx,
            people_with_role(ctx.session, Role.HANDLER, other.unit_id),
            "countersign_withdrawn",
            Text(
                "{lead}对{number}提案《{title}》的答复（第{v}稿），因{unit}提出修改意见，"
                "已退回主办单位修改，贵单位不需要再会签这一稿。贵单位申请调整尚待决定：提案委不予调整的，"
                "会请贵单位会签修改后的答复，除非届时该答复已完成会签。",
                lead=unit_name(ctx, lead.unit_id),
                unit=unit_name(ctx, co.unit_id),
                **_subject(proposal, reply),
            )
            if undecided
            else Text(
                "{lead}对{number}提案《{title}》的答复（第{v}稿），因{unit}提出修改意见，"
                "已退回主办单位修改，贵单位不需要再会签这一稿；"
                "修改后的答复提交后会再请贵单位会签。",
                lead=unit_name(ctx, lead.unit_id),
                unit=unit_name(ctx, co.unit_id),
                **_subject(proposal, reply),
            ),
            key=f"{reply.id}:{other.assignment_id}",
            proposal_id=proposal.id,
        )
    return row


def outcome(ctx: Ctx, sig: UnitSignature) -> Text:
    """One co-handling unit's countersignature of a letter, as the lead unit is told it:
    区交通运输局：同意（蒋涛，2026年9月14日 09:30）."""
    row = sig.row
    if row is None and sig.adjustment_undecided:
        state = Text("申请调整尚待决定，未请会签")
    elif row is None:
        state = Text("未参加会签")
    elif row.decision is None:
        state = Text("待会签（期限{d}）", d=row.due_date)
    elif row.decision == "deemed":
        state = Text("逾期未会签，视为同意（会签期限{d}）", d=row.due_date)
    else:
        state = Text(
            "{decision}（{name}，{at}）",
            decision=DECISIONS.get(row.decision, label(row.decision)),
            name=person_name(ctx.session, row.decided_by),
            at=local_time(ctx, row.decided_at),
        )
    return Text("{unit}：{state}", unit=unit_name(ctx, sig.unit_id), state=state)


def _finish_if_complete(
    ctx: Ctx, reply: Reply, lead: Assignment, proposal: Proposal, *, deemed: Sequence[str] = ()
) -> bool:
    """Once no countersignature is awaited, the letter goes to review and the lead unit is
    told each co-handling unit's countersignature: who agreed, which were recorded as
    逾期未会签，视为同意 (now, naming them first, or earlier), which were not asked."""
    if awaited(ctx, reply):
        return False
    system = ctx.as_system()
    move_assignment(system, lead, "countersigned", reply_id=reply.id, version=reply.version)
    send_to_review(system, reply, lead, proposal)
    sigs = signatures(ctx, reply)
    if deemed:
        text = Text(
            "{number}提案《{title}》的答复（第{v}稿）会签期满，{units}逾期未会签，视为同意；"
            "答复已提交审核。",
            units="、".join(deemed),
            **_subject(proposal, reply),
        )
    elif all(s.row is not None and s.row.decision == "agreed" for s in sigs):
        text = Text(
            "{number}提案《{title}》的答复（第{v}稿）协办单位均已会签，已提交审核。",
            **_subject(proposal, reply),
        )
    else:
        text = Text(
            "{number}提案《{title}》的答复（第{v}稿）会签已完成，已提交审核。",
            **_subject(proposal, reply),
        )
    for sig in sigs:  # one line per unit, in the order of the units
        text = Text("{first}\n{rest}", first=text, rest=outcome(ctx, sig))
    notify(
        system,
        people_with_role(ctx.session, Role.HANDLER, lead.unit_id),
        "countersign_done",
        text,
        key=str(reply.id),
        proposal_id=proposal.id,
    )
    return True


def close_window(ctx: Ctx, reply_id: int) -> bool:
    """The window has ended: each countersignature still awaited is recorded as 逾期未会签，
    视为同意, and the letter goes to review. By the system; False if nothing was due."""
    if ctx.actor is not None:
        raise PermissionDenied(
            "「{action}」由系统自动执行，不能手动操作。", action=DECISIONS["deemed"]
        )
    reply, lead, proposal = lock_reply(ctx, reply_id)
    if reply.status != "countersigning":
        return False
    missing = [r for r in awaited(ctx, reply) if r.due_date < ctx.today]
    units = []
    for row in missing:
        row.decision = "deemed"
        row.decided_at = ctx.now
        ctx.session.add(row)
        co = ctx.session.get(Assignment, row.assignment_id)
        assert co is not None
        _record(ctx, "countersign_deemed", co, reply)
        units.append(unit_name(ctx, co.unit_id))
    return _finish_if_complete(ctx, reply, lead, proposal, deemed=units)


def _waiting_letter(ctx: Ctx, proposal_id: int) -> Reply | None:
    """The proposal's letter waiting for countersignatures now, if any (the caller holds
    the proposal's lock, as every countersignature does: no letter moves meanwhile)."""
    letter = latest_reply(ctx, proposal_id)
    if letter is None or letter.status != "countersigning":
        return None
    return letter


def _ask(ctx: Ctx, reply: Reply, co: Assignment) -> None:
    """Ask one more co-handling unit to countersign a letter waiting for 会签, with a window
    of its own from today."""
    lead = ctx.session.get(Assignment, reply.assignment_id)
    proposal = ctx.session.get(Proposal, co.proposal_id)
    assert lead is not None and proposal is not None
    due = ctx.calendar.add_workdays(ctx.today, ctx.rules.countersign_window_workdays)
    ctx.session.add(
        Countersign(reply_id=pk(reply), assignment_id=pk(co), unit_id=co.unit_id, due_date=due)
    )
    audit(
        ctx.as_system(),
        "countersign_asked",
        proposal_id=proposal.id,
        assignment_id=co.id,
        reply_id=reply.id,
        version=reply.version,
        due_date=due,
    )
    ask_to_countersign(ctx, reply, lead, proposal, co, due)


def _row(ctx: Ctx, reply: Reply, assignment: Assignment) -> Countersign | None:
    return ctx.session.exec(
        select(Countersign).where(
            Countersign.reply_id == reply.id, Countersign.assignment_id == assignment.id
        )
    ).first()


def hand_over(ctx: Ctx, new: Assignment) -> None:
    """A co-handling unit reassigned (改交, its adjustment granted) while a letter waits for
    会签: the unit taking its place is asked, with a window of its own from today, whether
    the old unit's countersignature was awaited, given (before it asked for adjustment) or
    never asked for (held back while its request was undecided): the letter is countersigned
    by the units on the proposal."""
    letter = _waiting_letter(ctx, new.proposal_id)
    if letter is not None:
        _ask(ctx, letter, new)


def adjustment_refused(ctx: Ctx, assignment: Assignment) -> None:
    """Staff refused a co-handling unit's request for adjustment: it stays on the proposal,
    so a letter waiting for 会签 that did not ask it (the request was undecided when the
    letter was submitted) asks it now, with a window of its own from today."""
    if assignment.role != "co":
        return
    letter = _waiting_letter(ctx, assignment.proposal_id)
    if letter is None or _row(ctx, letter, assignment) is not None:
        return
    _ask(ctx, letter, assignment)
