"""The handling unit's side: the assignment inbox (交办事项) and what a handler does with one
assignment — sign for it (签收), ask for adjustment (申请调整), record a contact with the
proposer (记录沟通), give the co-handling opinion (协办意见), ask for more time (申请延期)
and write the reply letter (撰写答复) — plus the buttons on assignment notices.

Every change goes through ``workflow.assignments`` / ``workflow.replies``; this module only
asks, keeps what was typed in ``turn.data`` (so a restart loses nothing) and shows results.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from datetime import date
from pathlib import PurePath

from sqlmodel import col, select

from handlers.engine import END, Engine, Flow, Step, Turn
from handlers.i18n import N_
from handlers.messages import FileIn
from handlers.paging import Pager
from storage.models import Assignment, Proposal
from workflow import assignments, attachments, replies
from workflow.assignments import CONTACT_METHODS, assignment_subject, unit_name
from workflow.core import check_text, person_name, require_role, require_status
from workflow.errors import InvalidInput, InvalidTransition
from workflow.permissions import require_unit_handler
from workflow.record import render_record
from workflow.replies import CLASS_MEANINGS, PHONE_RE
from workflow.roles import Role
from workflow.statuses import (
    ACTIVE_ASSIGNMENT_STATUSES,
    ASSIGNMENT_TRANSITIONS,
    AssignmentStatus,
    assignment_label,
)

DONE_WORDS = {"完成", "done", "Done", "DONE"}
# Limits the workflow applies to these texts (repeated here only to refuse them early,
# before the person types the next step; the service call checks them again).
REASON_MAX = 1000  # 申请调整 / 申请延期的理由
SUMMARY_MAX = 2000  # 沟通情况
REPLY_BODY_MAX = 20_000  # 答复正文
CONTACT_PERSON_MAX = 50
SIGNING_UNIT_MAX = 100
BODY_FILE_TYPES = (".docx", ".pdf", ".txt")

ROLE_LABELS = {"lead": N_("主办"), "co": N_("协办")}
BACK = N_("返回")
INBOX_PAGER = Pager(back=N_("上一页"), forward=N_("下一页"), position=N_("第 {page}/{pages} 页"))


# ---------------------------------------------------------------- small helpers


def _meaningful(turn: Turn, text: str, what: str) -> str:
    """Refuse text with no letter, digit or Chinese character in it (emoji only, dots)."""
    if not any(unicodedata.category(ch)[0] in "LN" for ch in text):
        raise InvalidInput(turn.t("{what}需要写明文字内容，不能只有表情或符号。", what=what))
    return text


def _text(turn: Turn, text: str, what: str, max_chars: int) -> str:
    return _meaningful(turn, check_text(text, what, max_chars=max_chars), what)


def _parse_date(turn: Turn, text: str) -> date:
    """今天, 2026-11-20, 2026/11/20, 2026年11月20日, 11月20日, 11-20 (this year)."""
    text = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
    today = turn.ctx.today
    if text in ("今天", "today"):
        return today
    match = re.fullmatch(r"(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})日?", text)
    if not match:
        raise InvalidInput(turn.t("请发送日期，例如 2026-11-20 或 11月20日。"))
    year = int(match.group(1)) if match.group(1) else today.year
    try:
        return date(year, int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise InvalidInput(turn.t("没有这一天，请检查日期。")) from None


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
        "{num}{title}（{role}）", num=turn.number(proposal.number), title=title, role=role
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
            Assignment.unit_id == turn.person.unit_id,
            col(Assignment.status).in_(list(ACTIVE_ASSIGNMENT_STATUSES)),
        )
        .order_by(col(Assignment.due_date), col(Assignment.id))
    ).all()
    return sorted(rows, key=lambda row: row[0].status != AssignmentStatus.PENDING)


def co_opinions(turn: Turn, proposal: Proposal) -> list[str]:
    """Each co-handling unit still on the proposal with its opinion: 区交通运输局：……
    (（尚未提出） while it has given none)."""
    co = turn.session.exec(
        select(Assignment)
        .where(
            Assignment.proposal_id == proposal.id,
            Assignment.role == "co",
            col(Assignment.status) != AssignmentStatus.REASSIGNED,
        )
        .order_by(col(Assignment.id))
    ).all()
    return [
        turn.t(
            "{unit}：{opinion}",
            unit=unit_name(turn.ctx, a.unit_id),
            opinion=a.opinion or turn.t("（尚未提出）"),
        )
        for a in co
    ]


def _current(turn: Turn) -> tuple[Assignment, Proposal] | None:
    """The assignment this conversation is about, while it is still the unit's to handle."""
    assignment = turn.session.get(Assignment, turn.data.get("asg") or 0)
    if (
        assignment is None
        or assignment.unit_id != turn.person.unit_id
        or assignment.status not in ACTIVE_ASSIGNMENT_STATUSES
    ):
        return None
    return assignment, turn.session.get(Proposal, assignment.proposal_id)


def _check_may(turn: Turn, action: str, assignment_id: int) -> Assignment:
    """Refuse at the start, with the workflow's own checks, what the service call at the end
    would refuse (role, unit, status; the adjustment window). The call checks again."""
    transition = ASSIGNMENT_TRANSITIONS[action]
    require_role(turn.ctx, transition)
    assignment = assignments.get_assignment(turn.ctx, assignment_id)
    require_unit_handler(turn.ctx, assignment)
    proposal = turn.session.get(Proposal, assignment.proposal_id)
    require_status(
        turn.ctx,
        transition,
        assignment.status,
        label=assignment_label,
        subject=assignment_subject(turn.ctx, assignment, proposal),
        proposal_id=proposal.id,
        assignment_id=assignment.id,
    )
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
    if not turn.has_role(Role.HANDLER) or turn.person.unit_id is None:
        turn.say(turn.t("交办事项只供承办单位的办理人员使用。"), expects="none")
        turn.start("menu")
        return
    rows = unit_inbox(turn)
    unit = unit_name(turn.ctx, turn.person.unit_id)
    if not rows:
        turn.say(
            turn.t("{unit}目前没有需要办理的交办事项。", unit=unit),
            [turn.choice(turn.t("返回菜单"), "menu")],
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
                num=turn.number(proposal.number),
                title=proposal.title,
                role=turn.t(ROLE_LABELS.get(assignment.role, assignment.role)),
                due=_due_text(turn, assignment),
                status=turn.t(assignment_label(assignment.status)),
            )
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
    if INBOX_PAGER.take(turn, value):
        return "page"
    turn.data["asg"] = int(value.removeprefix("a:"))
    if _current(turn) is None:
        turn.say(turn.t("这项交办已办结或已改交，不在本单位的待办中了。"), expects="none")
        return "page"
    _show_record(turn)
    return "open"


# ---------------------------------------------------------------- one assignment


def _show_record(turn: Turn) -> None:
    current = _current(turn)
    if current is not None:
        turn.say(
            render_record(turn.ctx, current[1], gettext=turn.gettext, locale=turn.locale),
            expects="none",
        )


def _returned(turn: Turn, assignment: Assignment, proposal: Proposal):
    """The unit's last reply, if the review returned it (the wizard starts from it)."""
    last = replies.latest_reply(turn.ctx, proposal.id)
    if last is not None and last.status == "returned" and last.assignment_id == assignment.id:
        return last
    return None


def ask_detail(turn: Turn) -> None:
    current = _current(turn)
    if current is None:
        turn.say(turn.t("这项交办已办结或已改交，不在本单位的待办中了。"), expects="none")
        turn.conv.step = "list"
        turn.engine.prompt(turn)
        return
    assignment, proposal = current
    today = turn.ctx.today
    lines = [
        turn.t(
            "{num}提案《{title}》",
            num=turn.number(proposal.number),
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
    returned = _returned(turn, assignment, proposal)
    if returned is not None and _can(assignment, "submit_reply"):
        lines.append(
            turn.t(
                "第{v}稿答复被退回，审核意见：{c}",
                v=returned.version,
                c=returned.review_comment or "",
            )
        )
    buttons = []
    if _can(assignment, "accept"):
        buttons.append(turn.choice(turn.t("签收"), "accept"))
    if _can(assignment, "request_adjustment") and today <= assignment.adjust_deadline:
        buttons.append(turn.choice(turn.t("申请调整"), "adjust"))
    if assignment.role == "lead" and _can(assignment, "submit_reply"):
        label = turn.t("撰写答复") if returned is None else turn.t("修改答复并重新提交")
        buttons.append(turn.choice(label, "reply"))
    if assignment.role == "co" and _can(assignment, "give_opinion"):
        label = turn.t("修改协办意见") if assignment.opinion else turn.t("协办意见")
        buttons.append(turn.choice(label, "opinion"))
    if _can(assignment, "record_contact"):
        buttons.append(turn.choice(turn.t("记录沟通"), "contact"))
    if _can(assignment, "request_extension"):
        buttons.append(turn.choice(turn.t("申请延期"), "extend"))
    buttons.append(turn.choice(turn.t("提案全文"), "record"))
    buttons.append(turn.choice(turn.t("返回列表"), "back"))
    lines.append(turn.t("请选择要办理的事项："))
    turn.say("\n".join(lines), buttons, columns=2)


def on_detail(turn: Turn, value: str) -> str | None:
    if value == "back":
        return "back"
    if value == "record":
        _show_record(turn)
        return "again"
    asg_id = int(turn.data.get("asg") or 0)
    if value == "accept":
        assignment = assignments.accept(turn.ctx, asg_id)
        proposal = turn.session.get(Proposal, assignment.proposal_id)
        turn.say(
            turn.t("已签收{num}提案，请按期办理。", num=turn.number(proposal.number)),
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
        turn.data["parts"] = []
        return "opinion"
    if value == "extend":
        _check_may(turn, "request_extension", asg_id)
        return "extend"
    if value == "reply":
        _check_may(turn, "submit_reply", asg_id)
        _start_reply(turn, asg_id)
        return "reply"
    return None  # pragma: no cover - the engine passes only offered values


# ---------------------------------------------------------------- adjustment


def ask_adjust_reason(turn: Turn) -> None:
    current = _current(turn)
    deadline = turn.date(current[0].adjust_deadline) if current else ""
    turn.say(
        turn.t(
            "申请调整：请说明这件提案不属于本单位职责的理由（调整申请期到{d}）。",
            d=deadline,
        ),
        [turn.choice(turn.t(BACK), "back")],
    )


def on_adjust_reason(turn: Turn, text: str) -> str:
    turn.data["reason"] = _text(turn, text, turn.t("申请调整的理由"), REASON_MAX)
    return "next"


def ask_adjust_confirm(turn: Turn) -> None:
    turn.say(
        turn.t(
            "将向提案委申请调整这项交办，理由：\n{r}\n确认提交吗？", r=turn.data.get("reason", "")
        ),
        [
            turn.choice(turn.t("确认申请调整"), "send"),
            turn.choice(turn.t("修改理由"), "edit"),
            turn.choice(turn.t("不申请了"), "back"),
        ],
    )


def on_adjust_confirm(turn: Turn, value: str) -> str:
    if value != "send":
        return value
    reason = turn.data.get("reason") or ""
    if not reason:
        return "edit"
    assignments.request_adjustment(turn.ctx, int(turn.data["asg"]), reason)
    turn.data.pop("reason", None)
    turn.say(turn.t("调整申请已提交，提案委决定后会通知您。"), expects="none")
    return "sent"


# ---------------------------------------------------------------- contact with the proposer


def ask_contact_method(turn: Turn) -> None:
    turn.say(
        turn.t("记录与提案人的沟通：请选择沟通方式。"),
        [turn.choice(turn.t(label), f"m:{code}") for code, label in CONTACT_METHODS.items()]
        + [turn.choice(turn.t(BACK), "back")],
        columns=2,
    )


def on_contact_method(turn: Turn, value: str) -> str:
    if value == "back":
        return "back"
    turn.data["contact"] = {**turn.data.get("contact", {}), "method": value.removeprefix("m:")}
    return "next"


def ask_contact_date(turn: Turn) -> None:
    turn.say(
        turn.t("沟通日期：点「今天」，或发送日期，例如 2026-11-20 或 11月20日。"),
        [turn.choice(turn.t("今天"), "today"), turn.choice(turn.t(BACK), "back")],
    )


def _set_contact_date(turn: Turn, day: date) -> str:
    current = _current(turn)
    if day > turn.ctx.today:
        raise InvalidInput(turn.t("沟通日期不能晚于今天。"))
    if current is not None and day < turn.ctx.local(current[0].assigned_at).date():
        raise InvalidInput(
            turn.t(
                "沟通日期不能早于交办日期（{d}）。",
                d=turn.date(turn.ctx.local(current[0].assigned_at).date()),
            )
        )
    turn.data["contact"] = {**turn.data.get("contact", {}), "date": day.isoformat()}
    return "next"


def on_contact_date_choice(turn: Turn, value: str) -> str:
    if value == "back":
        return "back"
    return _set_contact_date(turn, turn.ctx.today)


def on_contact_date_text(turn: Turn, text: str) -> str:
    return _set_contact_date(turn, _parse_date(turn, text))


def ask_contact_summary(turn: Turn) -> None:
    contact = turn.data.get("contact", {})
    method = CONTACT_METHODS.get(contact.get("method", ""), "")
    day = date.fromisoformat(contact["date"]) if contact.get("date") else None
    turn.say(
        turn.t(
            "{day}{method}：请简要写下沟通情况（委员的意见、商定的事项）。",
            day=turn.date(day),
            method=turn.t(method) if method else "",
        ),
        [turn.choice(turn.t(BACK), "back")],
    )


def on_contact_summary(turn: Turn, text: str) -> str:
    summary = _text(turn, text, turn.t("沟通情况"), SUMMARY_MAX)
    contact = turn.data.get("contact", {})
    if not contact.get("method"):
        raise InvalidInput(turn.t("还没有选择沟通方式，请重新记录。"))
    if not contact.get("date"):
        raise InvalidInput(turn.t("还没有填写沟通日期，请重新记录。"))
    assignments.record_contact(
        turn.ctx,
        int(turn.data["asg"]),
        method=contact["method"],
        contact_date=date.fromisoformat(contact["date"]),
        summary=summary,
    )
    turn.data.pop("contact", None)
    turn.say(turn.t("沟通情况已记录。"), expects="none")
    return "saved"


def on_back(turn: Turn, value: str) -> str:
    return value


# ---------------------------------------------------------------- co-handling opinion


def _parts_len(parts: list[str]) -> int:
    return len("\n".join(parts))


def ask_opinion(turn: Turn) -> None:
    parts = turn.data.get("parts") or []
    limit = turn.ctx.rules.body_max_chars
    buttons = []
    if parts:
        text = turn.t(
            "协办意见已收到 {n} 段，共 {c} 字（上限 {max} 字）。可以继续发送，"
            "写完请点「完成」或发送“完成”。",
            n=len(parts),
            c=_parts_len(parts),
            max=limit,
        )
        buttons = [
            turn.choice(turn.t("完成"), "done"),
            turn.choice(turn.t("清空重写"), "clear"),
        ]
    else:
        current = _current(turn)
        text = turn.t(
            "请写下本单位对这件提案的协办意见，供主办单位答复时参考。"
            "内容较长可以分几条发送，写完点「完成」（上限 {max} 字）。",
            max=limit,
        )
        if current and current[0].opinion:
            text += "\n" + turn.t("已提出的意见将被新的内容替换：\n{o}", o=current[0].opinion)
    buttons.append(turn.choice(turn.t(BACK), "back"))
    turn.say(text, buttons)


def on_opinion_text(turn: Turn, text: str) -> str:
    if text.strip() in DONE_WORDS:
        return on_opinion_choice(turn, "done")
    limit = turn.ctx.rules.body_max_chars
    part = _text(turn, text, turn.t("协办意见"), limit)
    parts = [*(turn.data.get("parts") or []), part]
    if _parts_len(parts) > limit:
        raise InvalidInput(
            turn.t(
                "加上这一段共 {c} 字，超过了 {max} 字的上限，这一段没有记下。请精简后再发。",
                c=_parts_len(parts),
                max=limit,
            )
        )
    turn.data["parts"] = parts
    return "more"


def on_opinion_choice(turn: Turn, value: str) -> str:
    if value == "back":
        return "back"
    if value == "clear":
        turn.data["parts"] = []
        return "more"
    parts = turn.data.get("parts") or []
    if not parts:
        raise InvalidInput(turn.t("还没有写协办意见，请先发送意见内容。"))
    assignments.give_opinion(turn.ctx, int(turn.data["asg"]), "\n".join(parts))
    turn.data.pop("parts", None)
    turn.say(turn.t("协办意见已送主办单位。"), expects="none")
    return "saved"


# ---------------------------------------------------------------- extension


def ask_extend_reason(turn: Turn) -> None:
    current = _current(turn)
    due = turn.date(current[0].due_date) if current else ""
    turn.say(
        turn.t("申请延期：现在的期限是{d}。请说明需要延期的理由。", d=due),
        [turn.choice(turn.t(BACK), "back")],
    )


def on_extend_reason(turn: Turn, text: str) -> str:
    reason = _text(turn, text, turn.t("申请延期的理由"), REASON_MAX)
    assignments.request_extension(turn.ctx, int(turn.data["asg"]), reason)
    turn.say(turn.t("延期申请已提交，提案委决定后会通知您。"), expects="none")
    return "sent"


# ---------------------------------------------------------------- the reply wizard
# The draft lives in turn.keep["replies"][<assignment id>], which outlives the flow (/cancel,
# /menu, another flow): every step writes a new copy of it with the conversation row.


def _draft(turn: Turn) -> dict:
    drafts = turn.keep.get("replies") or {}
    return copy.deepcopy(drafts.get(str(turn.data.get("asg")), {}))


def _save(turn: Turn, draft: dict) -> None:
    drafts = copy.deepcopy(turn.keep.get("replies") or {})
    drafts[str(turn.data.get("asg"))] = draft
    turn.keep["replies"] = drafts


def _drop(turn: Turn) -> None:
    drafts = copy.deepcopy(turn.keep.get("replies") or {})
    drafts.pop(str(turn.data.get("asg")), None)
    turn.keep["replies"] = drafts


def _start_reply(turn: Turn, asg_id: int) -> None:
    """Open the draft of this assignment's reply; a returned reply fills it first."""
    if _draft(turn):
        return
    draft: dict = {}
    assignment, proposal = _current(turn) or (None, None)
    last = _returned(turn, assignment, proposal) if assignment else None
    if last is not None:
        draft = {
            "cls": last.reply_class,
            "parts": [last.body],
            "person": last.contact_person,
            "phone": last.contact_phone,
            "unit": last.signing_unit,
            "returned": {"version": last.version, "comment": last.review_comment or ""},
        }
    _save(turn, draft)


def _next(draft: dict) -> str:
    """After a step: back to the preview once it was shown, else the next question."""
    return "preview" if draft.get("previewed") else "next"


def ask_class(turn: Turn) -> None:
    draft = _draft(turn)
    current = _current(turn)
    lines = []
    if current:
        lines.append(
            turn.t(
                "撰写答复 · {num}提案《{title}》",
                num=turn.number(current[1].number),
                title=current[1].title,
            )
        )
    returned = draft.get("returned")
    if returned:
        lines.append(
            turn.t(
                "第{v}稿答复被退回，审核意见：{c}\n已按上一稿填好，请逐项修改。",
                v=returned["version"],
                c=returned["comment"],
            )
        )
    lines.append(turn.t("第 1 步：请选择答复类别（落实情况）："))
    classes = turn.ctx.rules.reply_classes
    lines += [turn.t("{c}类：{m}", c=c, m=turn.t(CLASS_MEANINGS.get(c, ""))) for c in classes]
    if draft.get("cls"):
        lines.append(turn.t("当前选的是 {c} 类。", c=draft["cls"]))
    buttons = [
        turn.choice(turn.t("{c}类：{m}", c=c, m=turn.t(CLASS_MEANINGS.get(c, ""))), f"c:{c}")
        for c in classes
    ]
    buttons.append(turn.choice(turn.t(BACK), "back"))
    turn.say("\n".join(lines), buttons)


def on_class(turn: Turn, value: str) -> str:
    if value == "back":
        return "back"
    draft = _draft(turn)
    draft["cls"] = value.removeprefix("c:")
    _save(turn, draft)
    return _next(draft)


def ask_body(turn: Turn) -> None:
    draft = _draft(turn)
    parts = draft.get("parts") or []
    files = draft.get("files") or []
    lines = []
    if parts:
        lines.append(
            turn.t(
                "第 2 步：答复正文已有 {n} 段，共 {c} 字。可以继续发送补充内容，"
                "写完请点「完成」或发送“完成”。",
                n=len(parts),
                c=_parts_len(parts),
            )
        )
    else:
        lines.append(
            turn.t(
                "第 2 步：请发送答复正文。内容较长可以分几条发送，写完点「完成」。"
                "也可以上传答复文件（.docx、.pdf 或 .txt）。"
            )
        )
    if files:
        lines.append(
            turn.t(
                "已上传的文件（提交后作为答复附件）：{f}", f=turn.join(f["name"] for f in files)
            )
        )
        if not parts:
            lines.append(turn.t("请再发送一段简短的答复正文（例如答复要点）。"))
    buttons = []
    if parts:
        buttons = [
            turn.choice(turn.t("完成"), "done"),
            turn.choice(turn.t("清空重写"), "clear"),
        ]
    turn.say("\n".join(lines), buttons)


def on_body_text(turn: Turn, text: str) -> str:
    if text.strip() in DONE_WORDS:
        return on_body_choice(turn, "done")
    part = _text(turn, text, turn.t("答复正文"), REPLY_BODY_MAX)
    draft = _draft(turn)
    parts = [*(draft.get("parts") or []), part]
    if _parts_len(parts) > REPLY_BODY_MAX:
        raise InvalidInput(
            turn.t(
                "加上这一段共 {c} 字，超过了 {max} 字的上限，这一段没有记下。",
                c=_parts_len(parts),
                max=REPLY_BODY_MAX,
            )
        )
    draft["parts"] = parts
    _save(turn, draft)
    return "more"


def on_body_choice(turn: Turn, value: str) -> str:
    draft = _draft(turn)
    if value == "clear":
        draft["parts"] = []
        _save(turn, draft)
        return "more"
    if not draft.get("parts"):
        raise InvalidInput(turn.t("答复正文还是空的，请至少发送一段文字。"))
    return _next(draft)


def on_body_file(turn: Turn, upload: FileIn) -> str:
    name = attachments.clean_filename(upload.name)
    if PurePath(name).suffix.lower() not in BODY_FILE_TYPES:
        raise InvalidInput(turn.t("答复文件只接受 .docx、.pdf 或 .txt 格式。"))
    if not upload.data:
        raise InvalidInput(turn.t("文件是空的。"))
    rules = turn.ctx.rules
    if len(upload.data) > rules.attachment_max_bytes:
        raise InvalidInput(
            turn.t(
                "文件太大，单个附件不能超过 {mb} MB。", mb=round(rules.attachment_max_bytes / 1e6)
            )
        )
    attachments.sniff(name, upload.data)  # the real type, as attach_to_reply will check it
    draft = _draft(turn)
    files = draft.get("files") or []
    if len(files) >= rules.attachment_max_count:
        raise InvalidInput(turn.t("最多只能上传 {n} 个附件。", n=rules.attachment_max_count))
    if name.lower().endswith(".txt"):
        body = upload.data.decode("utf-8").strip()
        body = _text(turn, body, turn.t("答复正文"), REPLY_BODY_MAX)
        draft["parts"] = [body]
        turn.say(
            turn.t("已用文件《{name}》的内容作为答复正文（{c} 字）。", name=name, c=len(body)),
            expects="none",
        )
    else:
        turn.say(turn.t("已收到文件《{name}》，提交答复后作为附件。", name=name), expects="none")
    digest, path = turn.store.put(upload.data)
    if not any(f["sha"] == digest for f in files):
        files = [*files, {"name": name, "sha": digest, "path": path}]
    draft["files"] = files
    _save(turn, draft)
    return "more"


def ask_contact_person(turn: Turn) -> None:
    draft = _draft(turn)
    me = turn.person.name
    buttons = [turn.choice(turn.t("使用我的姓名（{name}）", name=me), "self")]
    if draft.get("person") and draft["person"] != me:
        buttons.append(turn.choice(turn.t("保留：{v}", v=draft["person"]), "keep"))
    turn.say(
        turn.t("第 3 步：答复函上的联系人。点下方按钮使用您的姓名，或发送其他联系人的姓名。"),
        buttons,
    )


def on_contact_person_choice(turn: Turn, value: str) -> str:
    draft = _draft(turn)
    if value == "self":
        draft["person"] = turn.person.name
    _save(turn, draft)
    return _next(draft)


def on_contact_person_text(turn: Turn, text: str) -> str:
    draft = _draft(turn)
    draft["person"] = _text(turn, text, turn.t("联系人"), CONTACT_PERSON_MAX)
    _save(turn, draft)
    return _next(draft)


def ask_phone(turn: Turn) -> None:
    draft = _draft(turn)
    buttons = [turn.choice(turn.t("使用我的手机号（{p}）", p=turn.person.phone), "mine")]
    if draft.get("phone") and draft["phone"] != turn.person.phone:
        buttons.append(turn.choice(turn.t("保留：{v}", v=draft["phone"]), "keep"))
    turn.say(
        turn.t("第 4 步：请发送联系电话，例如 0839-8620000 或 13800000000。"),
        buttons,
        expects="text",
    )


def _set_phone(turn: Turn, phone: str) -> str:
    phone = phone.strip()
    if not PHONE_RE.match(phone):
        raise InvalidInput(turn.t("联系电话格式不正确，例如 0839-8620000 或 13800000000。"))
    draft = _draft(turn)
    draft["phone"] = phone
    _save(turn, draft)
    return _next(draft)


def on_phone_text(turn: Turn, text: str) -> str:
    return _set_phone(turn, unicodedata.normalize("NFKC", text))


def on_phone_choice(turn: Turn, value: str) -> str:
    if value == "mine":
        return _set_phone(turn, turn.person.phone)
    return _next(_draft(turn))


def on_phone_contact(turn: Turn, phone: str, is_self: bool) -> str:
    return _set_phone(turn, phone.replace("+86", "").replace(" ", ""))


def ask_signing_unit(turn: Turn) -> None:
    draft = _draft(turn)
    mine = unit_name(turn.ctx, turn.person.unit_id)
    buttons = [turn.choice(turn.t("使用「{u}」", u=mine), "default")]
    if draft.get("unit") and draft["unit"] != mine:
        buttons.append(turn.choice(turn.t("保留：{v}", v=draft["unit"]), "keep"))
    turn.say(turn.t("第 5 步：落款单位。点下方按钮，或发送落款单位的全称。"), buttons)


def on_signing_unit_choice(turn: Turn, value: str) -> str:
    draft = _draft(turn)
    if value == "default":
        draft["unit"] = unit_name(turn.ctx, turn.person.unit_id)
    _save(turn, draft)
    return _next(draft)


def on_signing_unit_text(turn: Turn, text: str) -> str:
    draft = _draft(turn)
    draft["unit"] = _text(turn, text, turn.t("落款单位"), SIGNING_UNIT_MAX)
    _save(turn, draft)
    return _next(draft)


def ask_reply_date(turn: Turn) -> None:
    draft = _draft(turn)
    today = turn.ctx.today
    buttons = [turn.choice(turn.t("今天（{d}）", d=turn.date(today)), "today")]
    if draft.get("date") and draft["date"] != today.isoformat():
        buttons.append(
            turn.choice(
                turn.t("保留：{v}", v=turn.date(date.fromisoformat(draft["date"]))), "keep"
            )
        )
    turn.say(
        turn.t("第 6 步：答复日期。点「今天」，或发送日期，例如 2026-11-20 或 11月20日。"),
        buttons,
    )


def _set_reply_date(turn: Turn, day: date) -> str:
    if day > turn.ctx.today:
        raise InvalidInput(turn.t("答复日期不能晚于今天。"))
    draft = _draft(turn)
    draft["date"] = day.isoformat()
    _save(turn, draft)
    return "next"


def on_reply_date_choice(turn: Turn, value: str) -> str:
    if value == "today":
        return _set_reply_date(turn, turn.ctx.today)
    return "next"


def on_reply_date_text(turn: Turn, text: str) -> str:
    return _set_reply_date(turn, _parse_date(turn, text))


def _reply_title(proposal: Proposal) -> str:
    if proposal.number:
        return f"关于{proposal.session_label}第{proposal.number}号提案的答复"
    return f"关于《{proposal.title}》的答复"


WIZARD = ("cls", "parts", "person", "phone", "unit", "date")
WIZARD_STEPS = dict(
    zip(WIZARD, ("r_class", "r_body", "r_contact", "r_phone", "r_unit", "r_date"), strict=True)
)


def ask_preview(turn: Turn) -> None:
    draft = _draft(turn)
    missing = next((key for key in WIZARD if not draft.get(key)), None)
    if missing is not None:  # never shown half a letter: ask what is missing
        turn.conv.step = WIZARD_STEPS[missing]
        turn.engine.prompt(turn)
        return
    current = _current(turn)
    if current is None:
        ask_detail(turn)
        return
    assignment, proposal = current
    draft["previewed"] = True
    _save(turn, draft)
    proposer = person_name(turn.session, proposal.proposer_id)
    salutation = (
        turn.t("尊敬的{name}委员：", name=proposer)
        if proposal.category == "member"
        else turn.t("{name}：", name=proposal.collective_body or proposer)
    )
    lines = [turn.t("答复函预览"), "", _reply_title(proposal), salutation]
    lines += [f"  {p.strip()}" for part in draft["parts"] for p in part.splitlines() if p.strip()]
    lines.append(turn.t("（联系人：{p}　联系电话：{t}）", p=draft["person"], t=draft["phone"]))
    lines.append(draft["unit"])
    lines.append(turn.date(date.fromisoformat(draft["date"])))
    lines.append(
        turn.t(
            "答复类别：（{c}）类　{m}",
            c=draft["cls"],
            m=turn.t(CLASS_MEANINGS.get(draft["cls"], "")),
        )
    )
    if draft.get("files"):
        lines.append(turn.t("附件：{f}", f=turn.join(f["name"] for f in draft["files"])))
    opinions = co_opinions(turn, proposal)
    if opinions:
        lines += ["", turn.t("协办单位意见："), *("· " + opinion for opinion in opinions)]
    if draft.get("returned"):
        lines += ["", turn.t("上一稿的审核意见：{c}", c=draft["returned"]["comment"])]
    lines += ["", turn.t("确认无误后点「提交审核」；也可以修改任何一项。")]
    buttons = [
        turn.choice(turn.t("提交审核"), "submit"),
        turn.choice(turn.t("修改类别"), "e:class"),
        turn.choice(turn.t("修改正文"), "e:body"),
        turn.choice(turn.t("修改联系人"), "e:contact"),
        turn.choice(turn.t("修改电话"), "e:phone"),
        turn.choice(turn.t("修改落款"), "e:unit"),
        turn.choice(turn.t("修改日期"), "e:date"),
        turn.choice(turn.t("暂不提交"), "back"),
    ]
    turn.say("\n".join(lines), buttons, columns=2)


def on_preview(turn: Turn, value: str) -> str:
    if value != "submit":
        return value.removeprefix("e:")
    draft = _draft(turn)
    current = _current(turn)
    proposal = current[1] if current else None
    reply = replies.submit_reply(
        turn.ctx,
        int(turn.data["asg"]),
        reply_class=draft.get("cls") or "",
        body="\n".join(draft.get("parts") or []),
        contact_person=draft.get("person") or "",
        contact_phone=draft.get("phone") or "",
        signing_unit=draft.get("unit"),
        reply_date=date.fromisoformat(draft["date"]) if draft.get("date") else None,
        title=_reply_title(proposal) if proposal else None,
    )
    for upload in draft.get("files") or []:
        attachments.attach_to_reply(
            turn.ctx, turn.store, reply.id, upload["name"], turn.store.read(upload["path"])
        )
    _drop(turn)
    turn.say(
        turn.t(
            "答复已提交审核（{c}类，第{v}稿{files}）。审核结果会通知您。",
            c=reply.reply_class,
            v=reply.version,
            files=turn.t("，附件 {n} 个", n=len(draft.get("files") or []))
            if draft.get("files")
            else "",
        ),
        expects="none",
    )
    return "submitted"


# ---------------------------------------------------------------- the flow


INBOX_FLOW = Flow(
    name="inbox",
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
        "r_class": Step(prompt=ask_class, choice=on_class, hint=N_("请点选答复类别 A、B 或 C。")),
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
        proposal = turn.session.get(Proposal, assignment.proposal_id)
        turn.say(
            turn.t(
                "已签收{num}提案《{title}》，请按期办理。",
                num=turn.number(proposal.number),
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


def install(engine: Engine) -> None:
    engine.add_flow(INBOX_FLOW)
    engine.add_action("asg", on_notice)
