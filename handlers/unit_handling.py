"""What a handler does with one assignment of the unit's inbox besides the reply: ask for
adjustment (申请调整: reason, then confirm), record a contact with the proposer (记录沟通:
method, date, summary), give the co-handling opinion (协办意见, in as many messages as needed)
and ask for more time (申请延期).

The steps are part of the ``inbox`` flow, which ``handlers/unit.py`` declares and installs;
each ends back on the assignment (``detail``). A step whose action is refused for a reason
typing again will not change (a colleague acted first, the window ended, the assignment
ended) says so and goes back to the assignment too, rather than asking the same again.
"""

from __future__ import annotations

from datetime import date

from handlers.engine import Turn
from handlers.member import attempt
from handlers.unit_common import (
    BACK,
    _current,
    _parse_date,
    _parts_len,
    _text,
    is_done_word,
)
from workflow import assignments
from workflow.assignments import CONTACT_METHODS
from workflow.errors import InvalidInput

# Limits the workflow applies to these texts (repeated here only to refuse them early,
# before the person types the next step; the service call checks them again).
REASON_MAX = 1000  # 申请调整 / 申请延期的理由
SUMMARY_MAX = 2000  # 沟通情况


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
    done = attempt(turn, assignments.request_adjustment, int(turn.data["asg"]), reason)
    turn.data.pop("reason", None)
    if done is None:
        return "back"
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
    done = attempt(
        turn,
        assignments.record_contact,
        int(turn.data["asg"]),
        method=contact["method"],
        contact_date=date.fromisoformat(contact["date"]),
        summary=summary,
    )
    turn.data.pop("contact", None)
    if done is None:
        return "back"
    turn.say(turn.t("沟通情况已记录。"), expects="none")
    return "saved"


def on_back(turn: Turn, value: str) -> str:
    return value


# ---------------------------------------------------------------- co-handling opinion
#
# What the co-handler has written so far lives in ``turn.keep["opinions"][<assignment id>]``,
# as the reply draft does: it outlives the flow (/menu, /cancel, a notice's button that opens
# another assignment) until the opinion is sent.


def _opinion_parts(turn: Turn) -> list[str]:
    kept = turn.keep.get("opinions") or {}
    return list(kept.get(str(turn.data.get("asg"))) or [])


def _keep_opinion_parts(turn: Turn, parts: list[str]) -> None:
    kept = dict(turn.keep.get("opinions") or {})
    if parts:
        kept[str(turn.data.get("asg"))] = parts
    else:
        kept.pop(str(turn.data.get("asg")), None)
    turn.keep["opinions"] = kept


def ask_opinion(turn: Turn) -> None:
    parts = _opinion_parts(turn)
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
    if is_done_word(text):
        return on_opinion_choice(turn, "done")
    limit = turn.ctx.rules.body_max_chars
    part = _text(turn, text, turn.t("协办意见"), limit)
    parts = [*_opinion_parts(turn), part]
    if _parts_len(parts) > limit:
        raise InvalidInput(
            turn.t(
                "加上这一段共 {c} 字，超过了 {max} 字的上限，这一段没有记下。请精简后再发。",
                c=_parts_len(parts),
                max=limit,
            )
        )
    _keep_opinion_parts(turn, parts)
    return "more"


def on_opinion_choice(turn: Turn, value: str) -> str:
    if value == "back":
        return "back"
    if value == "clear":
        _keep_opinion_parts(turn, [])
        return "more"
    parts = _opinion_parts(turn)
    if not parts:
        raise InvalidInput(turn.t("还没有写协办意见，请先发送意见内容。"))
    if attempt(turn, assignments.give_opinion, int(turn.data["asg"]), "\n".join(parts)) is None:
        if _current(turn) is None:  # the assignment ended: nothing to keep the text for
            _keep_opinion_parts(turn, [])
        return "back"
    _keep_opinion_parts(turn, [])
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
    if attempt(turn, assignments.request_extension, int(turn.data["asg"]), reason) is None:
        return "back"
    turn.say(turn.t("延期申请已提交，提案委决定后会通知您。"), expects="none")
    return "sent"
