"""The handling unit's side: the assignment inbox (交办事项), one assignment with what the
handler may do with it, and the buttons on assignment notices. Signing for an assignment
(签收) is here; asking for adjustment (申请调整), recording a contact with the proposer
(记录沟通), the co-handling opinion (协办意见) and asking for more time (申请延期) are in
``handlers/unit_handling.py``; writing the reply letter (撰写答复) in ``handlers/reply.py``.
All their steps make the one ``inbox`` flow declared here; what they share is in
``handlers/unit_common.py``.

Every change goes through ``workflow.assignments`` / ``workflow.replies``; these modules only
ask, keep what was typed in ``turn.data`` (so a restart loses nothing) and show results.
"""

from __future__ import annotations

from sqlmodel import col, select

from handlers import unit_history
from handlers.engine import END, Engine, Flow, Step, Turn
from handlers.i18n import N_
from handlers.messages import FileOut
from handlers.paging import Pager
from handlers.reply import (
    _start_reply,
    ask_body,
    ask_class,
    ask_contact_person,
    ask_phone,
    ask_preview,
    ask_reply_date,
    ask_signing_unit,
    on_body_choice,
    on_body_file,
    on_body_text,
    on_class,
    on_class_text,
    on_contact_person_choice,
    on_contact_person_text,
    on_phone_choice,
    on_phone_contact,
    on_phone_text,
    on_preview,
    on_reply_date_choice,
    on_reply_date_text,
    on_signing_unit_choice,
    on_signing_unit_text,
)
from handlers.turns import me
from handlers.unit_common import BACK, ROLE_LABELS, _current, _gone, _text
from handlers.unit_common import co_opinions as co_opinions  # the reply review shows them
from handlers.unit_handling import (
    ask_adjust_confirm,
    ask_adjust_reason,
    ask_contact_date,
    ask_contact_method,
    ask_contact_summary,
    ask_extend_reason,
    ask_opinion,
    on_adjust_confirm,
    on_adjust_reason,
    on_back,
    on_contact_date_choice,
    on_contact_date_text,
    on_contact_method,
    on_contact_summary,
    on_extend_reason,
    on_opinion_choice,
    on_opinion_text,
)
from storage.models import Assignment, Proposal, Reply, existing, pk
from workflow import assignments, attachments, countersigns, replies
from workflow.assignments import assignment_subject, unit_name
from workflow.core import person_name, require_role, require_status
from workflow.errors import InvalidInput, InvalidTransition
from workflow.permissions import require_unit_handler
from workflow.record import render_record
from workflow.roles import Role
from workflow.statuses import (
    ACTIVE_ASSIGNMENT_STATUSES,
    ASSIGNMENT_TRANSITIONS,
    AssignmentStatus,
    assignment_label,
)

INBOX_PAGER = Pager(back=N_("上一页"), forward=N_("下一页"), position=N_("第 {page}/{pages} 页"))


# ---------------------------------------------------------------- small helpers


def _again(turn: Turn) -> None:
    """Ask the person's current question again (or show the menu when there is none)."""
    flow = turn.engine.flows.get(turn.conv.flow or "")
    if flow is not None and turn.conv.step in flow.steps:
        turn.engine.prompt(turn)
    else:
        turn.engine.menu(turn)


def _label(turn: Turn, assignment: Assignment, proposal: Proposal) -> str:
    title = proposal.title if len(proposal.title) <= 22 else proposal.title[:21] + "…"
    role = turn.t(ROLE_LABELS.get(assignment.role, assignment.role))
    return turn.t(
        "{num}{title}（{role}）",
        num=turn.number(proposal.year, proposal.number),
        title=title,
        role=role,
    )


def _due_text(turn: Turn, assignment: Assignment) -> str:
    if assignment.role == "lead":
        return turn.t("答复期限 {d}", d=turn.date(assignment.due_date))
    return turn.t("协办意见期限 {d}", d=turn.date(assignment.due_date))


def unit_inbox(turn: Turn) -> list[tuple[Assignment, Proposal]]:
    """The active assignments of the person's unit: 待签收 first, then the rest by due date."""
    rows = turn.session.exec(
        select(Assignment, Proposal)
        .join(Proposal, col(Proposal.id) == col(Assignment.proposal_id))
        .where(
            Assignment.unit_id == me(turn).unit_id,
            col(Assignment.status).in_(list(ACTIVE_ASSIGNMENT_STATUSES)),
        )
        .order_by(col(Assignment.due_date), col(Assignment.id))
    ).all()
    return sorted(rows, key=lambda row: row[0].status != AssignmentStatus.PENDING)


def _check_may(turn: Turn, action: str, assignment_id: int) -> Assignment:
    """Refuse at the start, with the workflow's own checks, what the service call at the end
    would refuse (role, unit, status; the adjustment window). The call checks again."""
    transition = ASSIGNMENT_TRANSITIONS[action]
    require_role(turn.ctx, transition)
    assignment = assignments.get_assignment(turn.ctx, assignment_id)
    require_unit_handler(turn.ctx, assignment)
    proposal = existing(turn.session, Proposal, assignment.proposal_id)
    require_status(
        turn.ctx,
        transition,
        assignment.status,
        label=assignment_label,
        subject=assignment_subject(turn.ctx, assignment, proposal),
        proposal_id=pk(proposal),
        assignment_id=assignment.id,
    )
    if action == "request_extension":
        assignments.refuse_a_second_extension_request(turn.ctx, pk(assignment))
    if action == "request_adjustment" and turn.ctx.today > assignment.adjust_deadline:
        raise InvalidTransition(
            turn.t(
                "调整申请期已于{d}结束，交办已确定，请按期办理。",
                d=turn.date(assignment.adjust_deadline),
            )
        )
    return assignment


def _can(assignment: Assignment, action: str) -> bool:
    return assignment.status in ASSIGNMENT_TRANSITIONS[action].sources


# ---------------------------------------------------------------- the list


def ask_list(turn: Turn) -> None:
    if not turn.has_role(Role.HANDLER) or me(turn).unit_id is None:
        turn.say(turn.t("交办事项只供承办单位的办理人员使用。"), expects="none")
        turn.start("menu")
        return
    rows = unit_inbox(turn)
    unit = unit_name(turn.ctx, me(turn).unit_id)
    if not rows:
        turn.say(
            turn.t("{unit}目前没有需要办理的交办事项。", unit=unit),
            [
                turn.choice(turn.t(unit_history.ITEM), "finished"),
                turn.choice(turn.t("返回菜单"), "menu"),
            ],
        )
        return
    page = INBOX_PAGER.page(turn, rows)
    pending = sum(1 for a, _p in rows if a.status == AssignmentStatus.PENDING)
    lines = [
        turn.t(
            "{unit}的交办事项：共 {n} 件，其中待签收 {p} 件。",
            unit=unit,
            n=len(rows),
            p=pending,
        )
    ]
    owing = countersigns.owing(turn.ctx, [pk(a) for a, _p in page.rows if a.role == "co"])
    group = None
    for assignment, proposal in page.rows:
        heading = (
            turn.t("【待签收】")
            if assignment.status == AssignmentStatus.PENDING
            else turn.t("【办理中】")
        )
        if heading != group:
            lines.append(heading)
            group = heading
        lines.append(
            turn.t(
                "· {num}《{title}》 {role} · {due} · {status}",
                num=turn.number(proposal.year, proposal.number),
                title=proposal.title,
                role=turn.t(ROLE_LABELS.get(assignment.role, assignment.role)),
                due=_due_text(turn, assignment),
                status=turn.t(assignment_label(assignment.status)),
            )
            + (turn.t(" · 答复待本单位会签") if assignment.id in owing else "")
        )
    lines += page.position(turn)
    lines.append(turn.t("请点选要办理的一件："))
    buttons = [turn.choice(_label(turn, a, p), f"a:{a.id}") for a, p in page.rows]
    buttons += page.buttons(turn)
    buttons.append(turn.choice(turn.t("返回菜单"), "menu"))
    turn.say("\n".join(lines), buttons)


def on_list(turn: Turn, value: str) -> str | None:
    if value == "menu":
        return "menu"
    if value == "finished":  # under an empty inbox
        turn.start(unit_history.UNIT_HISTORY_FLOW.name)
        return None
    if INBOX_PAGER.take(turn, value):
        return "page"
    turn.data["asg"] = int(value.removeprefix("a:"))
    if _current(turn) is None:
        turn.say(turn.t("这项交办已办结或已改交，不在本单位的待办中了。"), expects="none")
        return "page"
    _show_record(turn)
    return "open"


# ---------------------------------------------------------------- one assignment


def _show_record(turn: Turn, *, files: bool = False) -> None:
    """The proposal's record; with ``files``, the files the proposer attached to it too."""
    current = _current(turn)
    if current is not None:
        turn.say(
            render_record(turn.ctx, current[1], gettext=turn.gettext, locale=turn.locale),
            expects="none",
        )
        if files:
            for f, data in attachments.proposal_files(turn.ctx, turn.store, pk(current[1])):
                turn.send_file(
                    FileOut(name=f.filename, data=data, mime=f.mime_type),
                    turn.t("附件：{names}", names=f.filename),
                )


def ask_detail(turn: Turn) -> None:
    current = _current(turn)
    if current is None:
        _gone(turn)
        return
    assignment, proposal = current
    today = turn.ctx.today
    lines = [
        turn.t(
            "{num}提案《{title}》",
            num=turn.number(proposal.year, proposal.number),
            title=proposal.title,
        ),
        turn.t(
            "承办方式：{role}　{due}",
            role=turn.t(ROLE_LABELS.get(assignment.role, assignment.role)),
            due=_due_text(turn, assignment),
        ),
        turn.t("调整申请期限：{d}", d=turn.date(assignment.adjust_deadline)),
        turn.t("本单位办理状态：{s}", s=turn.t(assignment_label(assignment.status))),
    ]
    attached = attachments.proposal_attachments(turn.ctx, pk(proposal))
    if attached:  # sent with 提案全文
        lines.append(turn.t("附件：{names}", names=turn.join(f.filename for f in attached)))
    overdue = assignments.overdue_text(turn.ctx, assignment, proposal)
    if overdue is not None:
        lines.append(turn.t(overdue))
    if assignment.status == AssignmentStatus.PENDING:
        if today <= assignment.adjust_deadline:
            lines.append(
                turn.t(
                    "如不属于本单位职责，请于{d}前申请调整。",
                    d=turn.date(assignment.adjust_deadline),
                )
            )
        else:
            lines.append(
                turn.t("调整申请期已于{d}结束。", d=turn.date(assignment.adjust_deadline))
            )
    if assignment.status == AssignmentStatus.ADJUSTMENT_REQUESTED:
        lines.append(
            turn.t("已申请调整，等待提案委决定。理由：{r}", r=assignment.adjustment_reason or "")
        )
    if assignment.role == "co" and assignment.opinion:
        lines.append(turn.t("本单位协办意见：{o}", o=assignment.opinion))
    if assignment.status == AssignmentStatus.REPLIED:
        lines.append(turn.t("答复已提交，等待审核。"))
    if assignment.status == AssignmentStatus.COUNTERSIGNING:
        lines += _countersign_progress(turn, assignment)
    owed = countersigns.awaited_from(turn.ctx, assignment) if assignment.role == "co" else None
    if owed is not None:
        row, letter = owed
        lines += [
            turn.t(
                "主办单位的答复（{c}类，第{v}稿）等待本单位会签，期限{d}；逾期未会签的，视为同意。",
                c=letter.reply_class,
                v=letter.version,
                d=turn.date(row.due_date),
            ),
            turn.t(replies.letter_text(letter)),
        ]
    waiting = assignments.open_extension_request(turn.ctx, pk(assignment))
    if waiting is not None:
        lines.append(
            turn.t(
                "{name}已于{at}申请延期，正等待提案委决定，不必再次申请。",
                name=person_name(turn.session, waiting.actor_id),
                at=turn.time(waiting.at),
            )
        )
    may_reply = assignment.role == "lead" and _can(assignment, "submit_reply")
    start = (
        replies.draft_start(turn.ctx, pk(assignment))
        if may_reply and turn.has_role(Role.HANDLER)
        else None
    )
    returned = start.returned if start is not None else None
    rehandle = (
        replies.rehandle_order(turn.ctx, pk(assignment))
        if assignment.role == "lead" and turn.has_role(Role.HANDLER)
        else None
    )
    if rehandle is not None:
        lines.append(turn.t(rehandle))
    if returned is not None and start is not None and start.objected_by:
        lines.append(
            turn.t(
                "第{v}稿答复未通过会签，{unit}的修改意见：{c}",
                v=returned.version,
                unit=start.objected_by,
                c=returned.review_comment or "",
            )
        )
    elif returned is not None:
        lines.append(
            turn.t(
                "第{v}稿答复被退回，审核意见：{c}",
                v=returned.version,
                c=returned.review_comment or "",
            )
        )
    buttons = []
    if owed is not None:
        buttons.append(turn.choice(turn.t("✅ 同意会签"), "cs_yes"))
        buttons.append(turn.choice(turn.t("✏️ 提出修改意见"), "cs_no"))
    if _can(assignment, "accept"):
        buttons.append(turn.choice(turn.t("签收"), "accept"))
    if _can(assignment, "request_adjustment") and today <= assignment.adjust_deadline:
        buttons.append(turn.choice(turn.t("申请调整"), "adjust"))
    if may_reply:
        label = turn.t("撰写答复") if returned is None else turn.t("修改答复并重新提交")
        buttons.append(turn.choice(label, "reply"))
    if assignment.role == "co" and _can(assignment, "give_opinion"):
        label = turn.t("修改协办意见") if assignment.opinion else turn.t("协办意见")
        buttons.append(turn.choice(label, "opinion"))
    if _can(assignment, "record_contact"):
        buttons.append(turn.choice(turn.t("记录沟通"), "contact"))
    if _can(assignment, "request_extension") and waiting is None:
        buttons.append(turn.choice(turn.t("申请延期"), "extend"))
    buttons.append(turn.choice(turn.t("提案全文"), "record"))
    buttons.append(turn.choice(turn.t("返回列表"), "back"))
    lines.append(turn.t("请选择要办理的事项："))
    turn.say("\n".join(lines), buttons, columns=2)


def on_detail(turn: Turn, value: str) -> str | None:
    if value == "back":
        return "back"
    if value == "record":
        _show_record(turn, files=True)
        return "again"
    asg_id = int(turn.data.get("asg") or 0)
    if value == "accept":
        assignment = assignments.accept(turn.ctx, asg_id)
        proposal = existing(turn.session, Proposal, assignment.proposal_id)
        turn.say(
            turn.t(
                "已签收{num}提案，请按期办理。", num=turn.number(proposal.year, proposal.number)
            ),
            expects="none",
        )
        return "again"
    if value == "adjust":
        _check_may(turn, "request_adjustment", asg_id)
        return "adjust"
    if value == "contact":
        _check_may(turn, "record_contact", asg_id)
        turn.data["contact"] = {}
        return "contact"
    if value == "opinion":
        _check_may(turn, "give_opinion", asg_id)
        return "opinion"
    if value == "extend":
        _check_may(turn, "request_extension", asg_id)
        return "extend"
    if value == "reply":
        _check_may(turn, "submit_reply", asg_id)
        _start_reply(turn, asg_id)
        return "reply"
    if value in ("cs_yes", "cs_no"):
        current = _current(turn)
        owed = countersigns.awaited_from(turn.ctx, current[0]) if current else None
        if owed is None:
            raise InvalidTransition(turn.t("这份答复已不需要本单位会签了。"))
        if value == "cs_yes":
            _agree(turn, owed[1].id or 0)
            return "again"
        countersigns.check_may(turn.ctx, owed[1].id or 0)
        turn.data["cs"] = owed[1].id
        return "countersign"
    return None  # pragma: no cover - the engine passes only offered values


# ---------------------------------------------------------------- 会签


def _countersign_progress(turn: Turn, lead: Assignment) -> list[str]:
    """The lead unit's view of its letter waiting for 会签: who has countersigned, from whom
    it is still awaited and until when."""
    letter = replies.latest_reply(turn.ctx, lead.proposal_id)
    if letter is None or letter.status != "countersigning":
        return []
    waiting = countersigns.awaited(turn.ctx, letter)
    rows = countersigns.rows_of(turn.ctx, pk(letter))
    done = [r for r in rows if r.decision == "agreed"]
    deemed = [r for r in rows if r.decision == "deemed"]
    if len({r.due_date for r in waiting}) > 1:  # a unit asked later has a window of its own
        units = turn.join(
            turn.t(
                "{unit}（期限{d}）", unit=unit_name(turn.ctx, r.unit_id), d=turn.date(r.due_date)
            )
            for r in waiting
        )
        lines = [
            turn.t(
                "第{v}稿答复正等待协办单位会签：{units}，会签完成后自动提交审核。",
                v=letter.version,
                units=units,
            )
        ]
    else:
        lines = [
            turn.t(
                "第{v}稿答复正等待协办单位会签：{units}（期限{d}），会签完成后自动提交审核。",
                v=letter.version,
                units=turn.join(unit_name(turn.ctx, r.unit_id) for r in waiting),
                d=turn.date(waiting[0].due_date) if waiting else "",
            )
        ]
    if done:
        lines.append(
            turn.t(
                "已会签同意：{units}",
                units=turn.join(unit_name(turn.ctx, r.unit_id) for r in done),
            )
        )
    if deemed:
        lines.append(
            turn.t(
                "逾期未会签，视为同意：{units}",
                units=turn.join(unit_name(turn.ctx, r.unit_id) for r in deemed),
            )
        )
    asked = {r.assignment_id for r in countersigns.rows_of(turn.ctx, pk(letter))}
    held = [a for a in replies.units_held_back(turn.ctx, lead.proposal_id) if a.id not in asked]
    if held:
        lines.append(
            turn.t(
                "{units}申请调整尚待决定，暂不请其会签；不同意调整的，届时再请其会签。",
                units=turn.join(unit_name(turn.ctx, a.unit_id) for a in held),
            )
        )
    return lines


def _agree(turn: Turn, reply_id: int) -> None:
    countersigns.agree(turn.ctx, reply_id)
    letter = existing(turn.session, Reply, reply_id)
    proposal = existing(turn.session, Proposal, letter.proposal_id)
    turn.say(
        turn.t(
            "已会签同意{num}提案的答复（第{v}稿）。",
            num=turn.number(proposal.year, proposal.number),
            v=letter.version,
        )
        + (
            "\n" + turn.t("各协办单位均已会签，答复已提交审核。")
            if letter.status == "submitted"
            else ""
        ),
        expects="none",
    )


def ask_cs_comment(turn: Turn) -> None:
    letter = turn.session.get(Reply, turn.data.get("cs") or 0)
    current = _current(turn)
    owed = countersigns.awaited_from(turn.ctx, current[0]) if current else None
    if letter is None or owed is None or owed[1].id != letter.id:
        # the letter no longer waits for this unit (returned by another unit, its window
        # ended, the unit relieved): back to the assignment, which says what is the case
        turn.data.pop("cs", None)
        turn.conv.step = "detail"
        turn.engine.prompt(turn)
        return
    if letter is not None and countersigns.adjustment_undecided(turn.ctx, letter):
        # the revision asks it only if staff keep it on the proposal
        text = turn.t(
            "请写下本单位对第{v}稿答复的修改意见（上限 {max} 字）。发送后答复退回主办单位修改。"
            "本单位申请调整尚待决定：提案委不予调整的，会请本单位会签修改后的答复，"
            "除非届时该答复已完成会签。",
            v=letter.version if letter else "",
            max=countersigns.COMMENT_MAX,
        )
    else:
        text = turn.t(
            "请写下本单位对第{v}稿答复的修改意见（上限 {max} 字）。发送后答复退回主办单位修改，"
            "修改后会再请本单位会签。",
            v=letter.version if letter else "",
            max=countersigns.COMMENT_MAX,
        )
    turn.say(text, [turn.choice(turn.t(BACK), "back")])


def on_cs_comment(turn: Turn, text: str) -> str:
    comment = _text(turn, text, turn.t("修改意见"), countersigns.COMMENT_MAX)
    row = countersigns.object_to(turn.ctx, int(turn.data.get("cs") or 0), comment)
    turn.data.pop("cs", None)
    turn.say(
        turn.t("修改意见已送主办单位{unit}，答复已退回修改。", unit=_lead_name(turn, row)),
        expects="none",
    )
    return "sent"


def on_cs_back(turn: Turn, value: str) -> str:
    turn.data.pop("cs", None)
    return value


def _lead_name(turn: Turn, row) -> str:
    letter = existing(turn.session, Reply, row.reply_id)
    lead = existing(turn.session, Assignment, letter.assignment_id)
    return unit_name(turn.ctx, lead.unit_id)


# ---------------------------------------------------------------- the flow


INBOX_FLOW = Flow(
    name="inbox",
    cancelled=N_("已取消。已保存的草稿不会丢失。"),  # the reply and opinion drafts
    start="list",
    roles=frozenset({Role.HANDLER}),
    steps={
        "list": Step(prompt=ask_list, choice=on_list, hint=N_("请点选一件交办事项。")),
        "detail": Step(prompt=ask_detail, choice=on_detail, hint=N_("请点选要办理的事项。")),
        "adjust_reason": Step(
            prompt=ask_adjust_reason,
            text=on_adjust_reason,
            choice=on_back,
            hint=N_("请用文字说明申请调整的理由。"),
        ),
        "adjust_confirm": Step(
            prompt=ask_adjust_confirm,
            choice=on_adjust_confirm,
            hint=N_("请点「确认申请调整」「修改理由」或「不申请了」。"),
        ),
        "contact_method": Step(
            prompt=ask_contact_method,
            choice=on_contact_method,
            hint=N_("请点选一种沟通方式。"),
        ),
        "contact_date": Step(
            prompt=ask_contact_date,
            text=on_contact_date_text,
            choice=on_contact_date_choice,
            hint=N_("请点「今天」或发送沟通日期，例如 2026-11-20。"),
        ),
        "contact_summary": Step(
            prompt=ask_contact_summary,
            text=on_contact_summary,
            choice=on_back,
            hint=N_("请用文字简要写下沟通情况。"),
        ),
        "opinion": Step(
            prompt=ask_opinion,
            text=on_opinion_text,
            choice=on_opinion_choice,
            hint=N_("请用文字发送协办意见，写完点「完成」。"),
        ),
        "extend_reason": Step(
            prompt=ask_extend_reason,
            text=on_extend_reason,
            choice=on_back,
            hint=N_("请用文字说明申请延期的理由。"),
        ),
        "cs_comment": Step(
            prompt=ask_cs_comment,
            text=on_cs_comment,
            choice=on_cs_back,
            hint=N_("请用文字写下对答复的修改意见。"),
        ),
        "r_class": Step(
            prompt=ask_class,
            choice=on_class,
            text=on_class_text,
            hint=N_("请点选答复类别 A、B 或 C。"),
        ),
        "r_body": Step(
            prompt=ask_body,
            text=on_body_text,
            choice=on_body_choice,
            file=on_body_file,
            hint=N_("请发送答复正文（可分几条，写完点「完成」），或上传 .docx、.pdf、.txt 文件。"),
        ),
        "r_contact": Step(
            prompt=ask_contact_person,
            text=on_contact_person_text,
            choice=on_contact_person_choice,
            hint=N_("请点「使用我的姓名」或发送联系人姓名。"),
        ),
        "r_phone": Step(
            prompt=ask_phone,
            text=on_phone_text,
            choice=on_phone_choice,
            contact=on_phone_contact,
            hint=N_("请发送联系电话，例如 0839-8620000 或 13800000000。"),
        ),
        "r_unit": Step(
            prompt=ask_signing_unit,
            text=on_signing_unit_text,
            choice=on_signing_unit_choice,
            hint=N_("请点选或发送落款单位。"),
        ),
        "r_date": Step(
            prompt=ask_reply_date,
            text=on_reply_date_text,
            choice=on_reply_date_choice,
            hint=N_("请点「今天」或发送答复日期，例如 2026-11-20。"),
        ),
        "r_preview": Step(
            prompt=ask_preview,
            choice=on_preview,
            hint=N_("请点「提交审核」，或点选要修改的一项。"),
        ),
    },
    edges={
        ("list", "open"): "detail",
        ("list", "page"): "list",
        ("list", "menu"): END,
        ("detail", "again"): "detail",
        ("detail", "adjust"): "adjust_reason",
        ("detail", "contact"): "contact_method",
        ("detail", "opinion"): "opinion",
        ("detail", "extend"): "extend_reason",
        ("detail", "reply"): "r_class",
        ("detail", "back"): "list",
        ("adjust_reason", "next"): "adjust_confirm",
        ("adjust_reason", "back"): "detail",
        ("adjust_confirm", "sent"): "detail",
        ("adjust_confirm", "edit"): "adjust_reason",
        ("adjust_confirm", "back"): "detail",
        ("contact_method", "next"): "contact_date",
        ("contact_method", "back"): "detail",
        ("contact_date", "next"): "contact_summary",
        ("contact_date", "back"): "detail",
        ("contact_summary", "saved"): "detail",
        ("contact_summary", "back"): "detail",
        ("opinion", "more"): "opinion",
        ("opinion", "saved"): "detail",
        ("opinion", "back"): "detail",
        ("detail", "countersign"): "cs_comment",
        ("cs_comment", "sent"): "detail",
        ("cs_comment", "back"): "detail",
        ("extend_reason", "sent"): "detail",
        ("extend_reason", "back"): "detail",
        ("r_class", "next"): "r_body",
        ("r_class", "preview"): "r_preview",
        ("r_class", "back"): "detail",
        ("r_body", "more"): "r_body",
        ("r_body", "next"): "r_contact",
        ("r_body", "preview"): "r_preview",
        ("r_contact", "next"): "r_phone",
        ("r_contact", "preview"): "r_preview",
        ("r_phone", "next"): "r_unit",
        ("r_phone", "preview"): "r_preview",
        ("r_unit", "next"): "r_date",
        ("r_unit", "preview"): "r_preview",
        ("r_date", "next"): "r_preview",
        ("r_preview", "submitted"): "list",
        ("r_preview", "class"): "r_class",
        ("r_preview", "body"): "r_body",
        ("r_preview", "contact"): "r_contact",
        ("r_preview", "phone"): "r_phone",
        ("r_preview", "unit"): "r_unit",
        ("r_preview", "date"): "r_date",
        ("r_preview", "back"): "detail",
    },
)


# ---------------------------------------------------------------- notice buttons


def on_notice(turn: Turn, args: list[str]) -> None:
    """``asg:<assignment id>:accept|adjust`` from an assignment notice."""
    if (
        len(args) != 2
        or not (args[0].isascii() and args[0].isdigit() and len(args[0]) <= 9)
        or args[1] not in ("accept", "adjust")
    ):
        raise InvalidInput(turn.t("无法识别这个操作，没有做任何更改。"))
    asg_id = int(args[0])
    if args[1] == "accept":
        assignment = assignments.accept(turn.ctx, asg_id)
        proposal = existing(turn.session, Proposal, assignment.proposal_id)
        turn.say(
            turn.t(
                "已签收{num}提案《{title}》，请按期办理。",
                num=turn.number(proposal.year, proposal.number),
                title=proposal.title,
            ),
            expects="none",
        )
        if turn.conv.flow in (None, "menu"):
            turn.start("inbox", data={"asg": asg_id}, step="detail")
        else:
            _again(turn)
        return
    _check_may(turn, "request_adjustment", asg_id)
    turn.start("inbox", data={"asg": asg_id}, step="adjust_reason")


def on_countersign_notice(turn: Turn, args: list[str]) -> None:
    """``cs:<reply id>:yes|no`` from a notice asking a co-handling unit to countersign."""
    if (
        len(args) != 2
        or not (args[0].isascii() and args[0].isdigit() and len(args[0]) <= 9)
        or args[1] not in ("yes", "no")
    ):
        raise InvalidInput(turn.t("无法识别这个操作，没有做任何更改。"))
    reply_id = int(args[0])
    if args[1] == "yes":
        _agree(turn, reply_id)
        _again(turn)
        return
    row = countersigns.check_may(turn.ctx, reply_id)
    turn.start("inbox", data={"asg": row.assignment_id, "cs": reply_id}, step="cs_comment")


def install(engine: Engine) -> None:
    engine.add_flow(INBOX_FLOW)
    engine.add_action("asg", on_notice)
    engine.add_action("cs", on_countersign_notice)
