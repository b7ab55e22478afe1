"""Committee staff's work in the chat: the review queue (立案 / 不予立案 / 并案 / 转为意见建议)
and the 交办 wizard, adjustment requests, the review of replies (staff, and supervisors for
the key proposals their unit supervises) and 重新办理 after 不满意.

Every change goes through the workflow services, which check roles and relations and write
the audit events and notices; the lists here only offer what the person may act on.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import date

from sqlmodel import Session, col, select

from handlers.engine import END, Engine, Flow, Step, Turn
from handlers.i18n import N_
from handlers.messages import Choice
from storage.models import Assignment, Person, Proposal, Rating, Reply, Signer, Unit
from workflow import assignments, proposals, replies
from workflow.assignments import due_date_or_default
from workflow.attachments import attachments_of
from workflow.core import (
    check_text,
    fmt_date,
    fmt_time,
    people_with_role,
    person_name,
    signer_ids,
)
from workflow.errors import InvalidInput
from workflow.numbering import long_number, short_number
from workflow.record import render_record
from workflow.replies import CLASS_MEANINGS, RATINGS
from workflow.roles import Role
from workflow.statuses import (
    AssignmentStatus,
    ProposalStatus,
    assignment_label,
    proposal_label,
)

PAGE_SIZE = 8
SEARCH_MAX = 50
LABEL_MAX = 22
STAFF = (Role.STAFF,)
REVIEWERS = (Role.STAFF, Role.SUPERVISOR)

BACK = N_("↩️ 返回")
TO_MENU = N_("🏠 返回菜单")
PREV = N_("◀ 上一页")
NEXT = N_("下一页 ▶")
SHOW_ALL = N_("显示全部")
USE_DEFAULT = N_("使用默认")
DATE_HINT = N_("请点「使用默认」，或输入日期，例如 2027-03-15 或 2027年3月15日。")


# ================================================================ shared pieces


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _short(text: str, limit: int = LABEL_MAX) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _words(turn: Turn, text: str, what: str, max_chars: int) -> str:
    """A free text that must say something: within its limit, not only emoji or marks."""
    text = check_text(text, what, max_chars=max_chars)
    if not any(ch.isalnum() for ch in text):
        raise InvalidInput(turn.t("{what}需要用文字写明，不能只有表情或符号。", what=what))
    return text


def _number(p: Proposal) -> str:
    return short_number(p.number) if p.number else ""


def _both_numbers(p: Proposal) -> str:
    """2026年度第3号（第〔3〕号）"""
    return f"{long_number(p.year, p.number)}（{short_number(p.number)}）"


def _day(turn: Turn, moment) -> str:
    if moment is None:
        return ""
    local = turn.ctx.local(moment)
    return turn.t("{m}月{d}日", m=local.month, d=local.day)


def parse_date(text: str) -> date | None:
    """2027-03-15, 2027/3/15, 2027.3.15 or 2027年3月15日; None if it is not a date."""
    text = re.sub(r"\s+", "", _norm(text))
    match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?", text)
    if not match:
        return None
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def _read_date(turn: Turn, text: str, months: int, what: str) -> date:
    """A typed due date, refused with the workflow's own message when it is not later than
    today."""
    if len(text) > 40:
        raise InvalidInput(turn.t("日期太长了。") + turn.t(DATE_HINT))
    day = parse_date(text)
    if day is None:
        raise InvalidInput(
            turn.t("看不懂这个日期，或者没有这一天：{text}。", text=_short(text, 20))
            + turn.t(DATE_HINT)
        )
    return due_date_or_default(turn.ctx, day, months, what)


def _guarded(roles: Sequence[Role], prompt: Callable[[Turn], None]) -> Callable[[Turn], None]:
    """Ask the step's question only of someone who holds one of ``roles``; anyone else is
    told so and goes back to the menu (the workflow would refuse them anyway)."""

    def ask(turn: Turn) -> None:
        if any(turn.has_role(r) for r in roles):
            prompt(turn)
            return
        turn.say(turn.t("这一项您无权使用。"))
        turn.finish()
        turn.engine.menu(turn)

    ask.__doc__ = prompt.__doc__
    return ask


def _goto(turn: Turn, step: str) -> None:
    """From inside a prompt: move to ``step`` and ask its question instead."""
    turn.conv.step = step
    turn.engine.prompt(turn)


# ---------------------------------------------------------------- pages


def _paged(turn: Turn, key: str, rows: list) -> tuple[list, int, int]:
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(int(turn.data.get(f"{key}_pg", 0)), 0), pages - 1)
    turn.data[f"{key}_pg"] = page
    return rows[page * PAGE_SIZE : (page + 1) * PAGE_SIZE], page, pages


def _nav(turn: Turn, page: int, pages: int) -> list[Choice]:
    choices = []
    if page > 0:
        choices.append(turn.choice(turn.t(PREV), f"pg:{page - 1}"))
    if page < pages - 1:
        choices.append(turn.choice(turn.t(NEXT), f"pg:{page + 1}"))
    return choices


def _page_line(turn: Turn, page: int, pages: int) -> list[str]:
    return [turn.t("（第 {p}/{n} 页）", p=page + 1, n=pages)] if pages > 1 else []


def _browse(turn: Turn, key: str, value: str) -> str | None:
    """Page turns and "show all" of a list; 'page' when the value was one of them."""
    if value.startswith("pg:"):
        turn.data[f"{key}_pg"] = int(value[3:])
        return "page"
    if value == "all":
        turn.data.pop(f"{key}_q", None)
        turn.data[f"{key}_pg"] = 0
        return "page"
    return None


def _search(turn: Turn, key: str, text: str) -> str:
    query = _norm(text)
    if len(query) > SEARCH_MAX:
        raise InvalidInput(turn.t("搜索词最多 {n} 个字，请缩短后再试。", n=SEARCH_MAX))
    turn.data[f"{key}_q"] = query
    turn.data[f"{key}_pg"] = 0
    return "search"


def _forget(turn: Turn, *keys: str) -> None:
    for key in keys:
        turn.data.pop(f"{key}_q", None)
        turn.data.pop(f"{key}_pg", None)


# ---------------------------------------------------------------- read-only queries


def active_units(session: Session, kind: str) -> list[Unit]:
    return list(
        session.exec(
            select(Unit).where(Unit.kind == kind, col(Unit.active).is_(True)).order_by(Unit.id)
        ).all()
    )


def unit_matches(unit: Unit, query: str) -> bool:
    query = query.replace(" ", "")
    return query in unit.name or bool(unit.short_name and query in unit.short_name)


def review_queue(session: Session) -> tuple[list[Proposal], list[Proposal]]:
    """Submitted proposals, oldest first; filed ones not yet assigned, by number."""
    submitted = session.exec(
        select(Proposal)
        .where(Proposal.status == ProposalStatus.SUBMITTED)
        .order_by(col(Proposal.submitted_at), col(Proposal.id))
    ).all()
    filed = session.exec(
        select(Proposal)
        .where(Proposal.status == ProposalStatus.FILED)
        .order_by(col(Proposal.year), col(Proposal.number), col(Proposal.id))
    ).all()
    return list(submitted), list(filed)


def pending_cosigners(session: Session, proposal_id: int) -> list[int]:
    return list(
        session.exec(
            select(Signer.person_id)
            .where(Signer.proposal_id == proposal_id, Signer.state == "pending")
            .order_by(col(Signer.position))
        ).all()
    )


def merge_targets(session: Session, proposal: Proposal) -> list[Proposal]:
    """Filed or assigned proposals of the same year, other than this one."""
    return list(
        session.exec(
            select(Proposal)
            .where(
                col(Proposal.status).in_([ProposalStatus.FILED, ProposalStatus.ASSIGNED]),
                Proposal.year == proposal.year,
                Proposal.id != proposal.id,
            )
            .order_by(col(Proposal.number), col(Proposal.id))
        ).all()
    )


NUMBER_RE = re.compile(r"第?\s*[〔\[(（]?\s*(\d{1,6})\s*[〕\])）]?\s*号?")


def proposal_matches(proposal: Proposal, query: str) -> bool:
    match = NUMBER_RE.fullmatch(query)
    if match:
        return proposal.number == int(match.group(1))
    return query.lower() in (proposal.title or "").lower()


def adjustment_requests(session: Session) -> list[Assignment]:
    return list(
        session.exec(
            select(Assignment)
            .where(Assignment.status == AssignmentStatus.ADJUSTMENT_REQUESTED)
            .order_by(col(Assignment.adjustment_requested_at), col(Assignment.id))
        ).all()
    )


def handling_unit_ids(session: Session, proposal_id: int) -> set[int]:
    """Units handling the proposal now (an assignment not given up by reassignment)."""
    return set(
        session.exec(
            select(Assignment.unit_id).where(
                Assignment.proposal_id == proposal_id,
                col(Assignment.status) != AssignmentStatus.REASSIGNED,
            )
        ).all()
    )


def may_review(person: Person, proposal: Proposal) -> bool:
    """Staff review every reply; a supervisor those of the proposals their unit supervises.
    (Only decides what the list offers: the workflow checks it again on every call.)"""
    roles = person.role_set
    if Role.STAFF.value in roles:
        return True
    return (
        Role.SUPERVISOR.value in roles
        and person.unit_id is not None
        and proposal.supervising_unit_id == person.unit_id
    )


def replies_to_review(session: Session, person: Person) -> list[tuple[Reply, Proposal]]:
    stmt = (
        select(Reply, Proposal)
        .join(Proposal, col(Proposal.id) == Reply.proposal_id)
        .where(Reply.status == "submitted")
    )
    if Role.STAFF.value not in person.role_set:
        if Role.SUPERVISOR.value not in person.role_set or person.unit_id is None:
            return []
        stmt = stmt.where(Proposal.supervising_unit_id == person.unit_id)
    stmt = stmt.order_by(col(Reply.submitted_at), col(Reply.id))
    return [(r, p) for r, p in session.exec(stmt).all()]


def current_ratings(turn: Turn, proposal: Proposal) -> tuple[Reply | None, list[Rating]]:
    reply = replies.delivered_reply(turn.ctx, proposal)
    if reply is None:
        return None, []
    ratings = turn.session.exec(
        select(Rating)
        .where(Rating.reply_id == reply.id, Rating.proposal_id == proposal.id)
        .order_by(col(Rating.id))
    ).all()
    return reply, list(ratings)


def unsatisfied(ratings: list[Rating]) -> bool:
    return any("unsatisfied" in (r.work_rating, r.result_rating) for r in ratings)


def rehandle_queue(turn: Turn) -> list[Proposal]:
    """Delivered proposals (not merged ones) with an 不满意 on their current reply."""
    delivered = turn.session.exec(
        select(Proposal)
        .where(
            Proposal.status == ProposalStatus.DELIVERED,
            col(Proposal.merged_into_id).is_(None),
        )
        .order_by(col(Proposal.delivered_at), col(Proposal.id))
    ).all()
    return [p for p in delivered if unsatisfied(current_ratings(turn, p)[1])]


def _unit_name(session: Session, unit_id: int | None) -> str:
    unit = session.get(Unit, unit_id) if unit_id else None
    return unit.name if unit else ""


def _leader_label(person: Person) -> str:
    return f"{person.name}（{person.title}）" if person.title else person.name


# ---------------------------------------------------------------- pickers


def _unit_picker(
    turn: Turn,
    head: str,
    *,
    key: str,
    kind: str,
    prefix: str,
    exclude: set[int] = frozenset(),  # type: ignore[assignment]
    marked: Sequence[int] = (),
    extra: Sequence[Choice] = (),
) -> None:
    """A page of units to pick from; typing part of a name narrows it."""
    units = [u for u in active_units(turn.session, kind) if u.id not in exclude]
    lines = [head]
    query = turn.data.get(f"{key}_q")
    found = [u for u in units if unit_matches(u, query)] if query else []
    if query and found:
        lines.append(turn.t("名称含「{q}」的单位（{n} 个）：", q=query, n=len(found)))
        units = found
    elif query:
        lines.append(turn.t("没有名称含「{q}」的单位，以下是全部单位：", q=query))
        _forget(turn, key)
    if not units:
        lines.append(turn.t("没有可以选择的单位。请先在名册中导入单位。"))
    rows, page, pages = _paged(turn, key, units)
    lines += _page_line(turn, page, pages)
    choices = [
        turn.choice(("✅ " if u.id in marked else "") + u.name, f"{prefix}:{u.id}") for u in rows
    ]
    choices += _nav(turn, page, pages)
    if query and found:
        choices.append(turn.choice(turn.t(SHOW_ALL), "all"))
    turn.say("\n".join(lines), [*choices, *extra], columns=2)


def _proposal(turn: Turn) -> Proposal | None:
    pid = turn.data.get("pid")
    return turn.session.get(Proposal, pid) if pid else None


def _title(turn: Turn, p: Proposal) -> str:
    return turn.t("{n}《{title}》", n=_number(p), title=p.title)


# ================================================================ review (审查队列)


def ask_queue(turn: Turn) -> None:
    """The review queue: submitted proposals, oldest first, then filed ones to assign."""
    turn.data.pop("pid", None)
    submitted, filed = review_queue(turn.session)
    if not submitted and not filed:
        turn.say(
            turn.t("审查队列是空的：没有待审查或待交办的提案。"),
            [turn.choice(turn.t(TO_MENU), "menu")],
        )
        return
    rows, page, pages = _paged(turn, "queue", [*submitted, *filed])
    names = {p.proposer_id: person_name(turn.session, p.proposer_id) for p in rows}
    lines = [turn.t("审查队列：待审查 {a} 件，待交办 {b} 件。", a=len(submitted), b=len(filed))]
    choices = []
    section = None
    for index, p in enumerate(rows, page * PAGE_SIZE + 1):
        if p.status != section:
            section = p.status
            lines.append(
                turn.t("【待审查】（提交时间从早到晚）")
                if section == ProposalStatus.SUBMITTED
                else turn.t("【待交办】（已立案，尚未交办）")
            )
        if p.status == ProposalStatus.SUBMITTED:
            lines.append(
                turn.t(
                    "{i}. 《{title}》 {name}，{day}提交",
                    i=index,
                    title=p.title,
                    name=names[p.proposer_id],
                    day=_day(turn, p.submitted_at),
                )
            )
            choices.append(turn.choice(_short(p.title), f"p:{p.id}"))
        else:
            lines.append(
                turn.t(
                    "{i}. {n}《{title}》 {name}",
                    i=index,
                    n=_number(p),
                    title=p.title,
                    name=names[p.proposer_id],
                )
            )
            choices.append(turn.choice(_short(f"{_number(p)} {p.title}"), f"p:{p.id}"))
    lines += _page_line(turn, page, pages)
    lines.append(turn.t("请点选一件提案查看并处理："))
    choices += _nav(turn, page, pages)
    choices.append(turn.choice(turn.t(TO_MENU), "menu"))
    turn.say("\n".join(lines), choices)


def on_queue(turn: Turn, value: str) -> str | None:
    if value == "menu":
        return "menu"
    if _browse(turn, "queue", value):
        return "page"
    turn.data["pid"] = int(value.removeprefix("p:"))
    return "open"


def ask_open(turn: Turn) -> None:
    """One proposal as its record, with the decisions its status allows."""
    p = _proposal(turn)
    if p is None:
        turn.say(turn.t("找不到这件提案。"))
        _goto(turn, "queue")
        return
    turn.say(render_record(turn.ctx, p), expects="none")
    if p.status == ProposalStatus.SUBMITTED:
        waiting = pending_cosigners(turn.session, p.id)
        note = ""
        if waiting:
            note = turn.t(
                "注意：{names}尚未确认联名（截止{deadline}）；现在审查，未确认的联名人将不再列入。",
                names="、".join(person_name(turn.session, i) for i in waiting),
                deadline=fmt_time(turn.ctx, p.cosign_deadline),
            )
            note += "\n"
        turn.say(
            note + turn.t("请审查这件提案："),
            [
                turn.choice(turn.t("立案"), "file"),
                turn.choice(turn.t("不予立案"), "reject"),
                turn.choice(turn.t("并案"), "merge"),
                turn.choice(turn.t("转为意见建议"), "convert"),
                turn.choice(turn.t(BACK), "back"),
            ],
            columns=2,
        )
    elif p.status == ProposalStatus.FILED:
        turn.say(
            turn.t("这件提案已立案（{n}），尚未交办。", n=_number(p)),
            [turn.choice(turn.t("交办"), "assign"), turn.choice(turn.t(BACK), "back")],
        )
    else:
        turn.say(
            turn.t("这件提案当前为「{s}」，无需在审查队列处理。", s=turn.t(proposal_label(p.status))),
            [turn.choice(turn.t(BACK), "back")],
        )


def on_open(turn: Turn, value: str) -> str:
    pid = turn.data["pid"]
    if value == "file":
        p = proposals.file_proposal(turn.ctx, pid)
        turn.say(turn.t("已立案，编号为{number}。已通知提案人。", number=_both_numbers(p)))
        return "filed"
    if value == "assign":
        return _start_wizard(turn)
    if value == "reject":
        turn.data.pop("reason", None)
    if value == "merge":
        _forget(turn, "target")
    if value == "convert":
        turn.data.pop("note", None)
    return value  # reject, merge, convert, back


def ask_after_file(turn: Turn) -> None:
    turn.say(
        turn.t("是否现在交办？也可以稍后在审查队列的「待交办」中交办。"),
        [
            turn.choice(turn.t("现在交办"), "now"),
            turn.choice(turn.t("稍后交办"), "later"),
        ],
    )


def on_after_file(turn: Turn, value: str) -> str:
    return _start_wizard(turn) if value == "now" else "later"


# ---------------------------------------------------------------- 不予立案


def ask_reject_reason(turn: Turn) -> None:
    p = _proposal(turn)
    turn.say(
        turn.t("请写明《{title}》不予立案的理由（将告知提案人）：", title=p.title),
        [turn.choice(turn.t(BACK), "back")],
    )


def on_reject_reason(turn: Turn, text: str) -> str:
    turn.data["reason"] = _words(turn, text, turn.t("不予立案的理由"), 1000)
    return "next"


def ask_reject_confirm(turn: Turn) -> None:
    p = _proposal(turn)
    turn.say(
        turn.t(
            "确认《{title}》不予立案？\n理由：{reason}", title=p.title, reason=turn.data["reason"]
        ),
        [
            turn.choice(turn.t("确认不予立案"), "ok"),
            turn.choice(turn.t("修改理由"), "edit"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def on_reject_confirm(turn: Turn, value: str) -> str:
    if value != "ok":
        return value
    p = proposals.reject(turn.ctx, turn.data["pid"], turn.data["reason"])
    turn.say(turn.t("《{title}》不予立案，已通知提案人。", title=p.title))
    return "done"


# ---------------------------------------------------------------- 并案


def ask_merge_target(turn: Turn) -> None:
    p = _proposal(turn)
    targets = merge_targets(turn.session, p)
    lines = [
        turn.t(
            "请选择《{title}》要并入的提案（{year}年度已立案或办理中），"
            "也可以发送编号或标题关键词搜索：",
            title=p.title,
            year=p.year,
        )
    ]
    query = turn.data.get("target_q")
    found = [t for t in targets if proposal_matches(t, query)] if query else []
    if query and found:
        lines.append(turn.t("含「{q}」的提案（{n} 件）：", q=query, n=len(found)))
        targets = found
    elif query:
        lines.append(turn.t("没有找到含「{q}」的提案，以下是全部可并入的提案：", q=query))
        _forget(turn, "target")
    if not targets:
        lines.append(turn.t("{year}年度还没有可以并入的提案。", year=p.year))
    rows, page, pages = _paged(turn, "target", targets)
    lines += [f"{_number(t)}《{t.title}》" for t in rows]
    lines += _page_line(turn, page, pages)
    choices = [turn.choice(_short(f"{_number(t)} {t.title}"), f"t:{t.id}") for t in rows]
    choices += _nav(turn, page, pages)
    if query and found:
        choices.append(turn.choice(turn.t(SHOW_ALL), "all"))
    choices.append(turn.choice(turn.t(BACK), "back"))
    turn.say("\n".join(lines), choices)


def on_merge_target(turn: Turn, value: str) -> str:
    if value == "back" or _browse(turn, "target", value):
        return "back" if value == "back" else "page"
    turn.data["target"] = int(value.removeprefix("t:"))
    return "picked"


def on_merge_search(turn: Turn, text: str) -> str:
    return _search(turn, "target", text)


def ask_merge_confirm(turn: Turn) -> None:
    p = _proposal(turn)
    target = turn.session.get(Proposal, turn.data["target"])
    turn.say(
        turn.t(
            "确认将《{title}》并入{n}《{target}》？\n"
            "并案后两件提案一并办理，答复同样送达本提案的提案人。",
            title=p.title,
            n=_number(target),
            target=target.title,
        ),
        [
            turn.choice(turn.t("确认并案"), "ok"),
            turn.choice(turn.t("重新选择"), "again"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def on_merge_confirm(turn: Turn, value: str) -> str:
    if value != "ok":
        _forget(turn, "target")
        return value
    p = proposals.merge(turn.ctx, turn.data["pid"], turn.data["target"])
    target = turn.session.get(Proposal, turn.data["target"])
    turn.say(turn.t("《{title}》已并入{n}提案，已通知提案人。", title=p.title, n=_number(target)))
    return "done"


# ---------------------------------------------------------------- 转为意见建议


def ask_convert_note(turn: Turn) -> None:
    p = _proposal(turn)
    turn.say(
        turn.t(
            "将《{title}》转为意见建议。可以写一段说明（将告知提案人），或点「不写说明」：",
            title=p.title,
        ),
        [turn.choice(turn.t("不写说明"), "skip"), turn.choice(turn.t(BACK), "back")],
    )


def on_convert_note(turn: Turn, text: str) -> str:
    turn.data["note"] = _words(turn, text, turn.t("说明"), 1000)
    return "next"


def on_convert_choice(turn: Turn, value: str) -> str:
    if value == "skip":
        turn.data["note"] = None
        return "next"
    return value


def ask_convert_confirm(turn: Turn) -> None:
    p = _proposal(turn)
    note = turn.data.get("note") or turn.t("（无）")
    turn.say(
        turn.t("确认将《{title}》转为意见建议？\n说明：{note}", title=p.title, note=note),
        [
            turn.choice(turn.t("确认转为意见建议"), "ok"),
            turn.choice(turn.t("修改说明"), "edit"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def on_convert_confirm(turn: Turn, value: str) -> str:
    if value != "ok":
        return value
    p = proposals.convert(turn.ctx, turn.data["pid"], turn.data.get("note"))
    turn.say(turn.t("《{title}》已转为意见建议，已通知提案人。", title=p.title))
    return "done"


# ---------------------------------------------------------------- the 交办 wizard

WIZARD_KEYS = ("lead", "co", "due", "key", "sup", "leader", "edit")


def _start_wizard(turn: Turn) -> str:
    for key in WIZARD_KEYS:
        turn.data.pop(key, None)
    turn.data["co"] = []
    _forget(turn, "lead", "co", "sup", "leader")
    return "assign"


def _wizard_head(turn: Turn, step: str) -> str:
    p = _proposal(turn)
    return turn.t("交办{n}《{title}》", n=_number(p), title=p.title) + "\n" + step


def _then(turn: Turn) -> str:
    """After a wizard step: on to the next one, or back to the summary when editing."""
    return "summary" if turn.data.get("edit") else "next"


def ask_lead(turn: Turn) -> None:
    head = _wizard_head(turn, turn.t("第一步：请选择主办单位（可发送单位名称的一部分搜索）："))
    _unit_picker(
        turn,
        head,
        key="lead",
        kind="handling",
        prefix="u",
        marked=[turn.data["lead"]] if turn.data.get("lead") else [],
        extra=[turn.choice(turn.t(BACK), "back")],
    )


def on_lead(turn: Turn, value: str) -> str:
    if value == "back" or _browse(turn, "lead", value):
        return "back" if value == "back" else "page"
    lead = int(value.removeprefix("u:"))
    turn.data["lead"] = lead
    if lead in turn.data.get("co", []):
        turn.data["co"] = [u for u in turn.data["co"] if u != lead]
        turn.say(
            turn.t(
                "{unit}改为主办单位，已从协办单位中去掉。",
                unit=_unit_name(turn.session, lead),
            )
        )
    _forget(turn, "lead")
    return _then(turn)


def on_lead_search(turn: Turn, text: str) -> str:
    return _search(turn, "lead", text)


def ask_co(turn: Turn) -> None:
    chosen = turn.data.get("co", [])
    names = "、".join(_unit_name(turn.session, u) for u in chosen) or turn.t("（暂无）")
    head = _wizard_head(
        turn,
        turn.t(
            "第二步：请选择协办单位，可选多个，再点一次取消；选好后点「完成」，"
            "不需要协办单位直接点「完成」。也可以发送单位名称的一部分搜索。\n"
            "主办单位：{lead}\n已选协办单位：{names}",
            lead=_unit_name(turn.session, turn.data["lead"]),
            names=names,
        ),
    )
    _unit_picker(
        turn,
        head,
        key="co",
        kind="handling",
        prefix="c",
        exclude={turn.data["lead"]},
        marked=chosen,
        extra=[turn.choice(turn.t("完成"), "done"), turn.choice(turn.t(BACK), "back")],
    )


def on_co(turn: Turn, value: str) -> str:
    if value == "back":
        return "back"
    if value == "done":
        _forget(turn, "co")
        return _then(turn)
    if _browse(turn, "co", value):
        return "page"
    unit = int(value.removeprefix("c:"))
    chosen = list(turn.data.get("co", []))
    if unit in chosen:
        chosen.remove(unit)
    else:
        chosen.append(unit)
    turn.data["co"] = chosen
    return "page"


def on_co_search(turn: Turn, text: str) -> str:
    return _search(turn, "co", text)


def _default_due(turn: Turn) -> date:
    return due_date_or_default(turn.ctx, None, turn.ctx.rules.reply_due_months, "答复期限")


def ask_due(turn: Turn) -> None:
    lines = [
        _wizard_head(
            turn,
            turn.t(
                "第三步：答复期限。默认为交办后 {m} 个月：{day}。",
                m=turn.ctx.rules.reply_due_months,
                day=fmt_date(_default_due(turn)),
            ),
        )
    ]
    if turn.data.get("due"):
        lines.append(
            turn.t("当前已填：{day}。", day=fmt_date(date.fromisoformat(turn.data["due"])))
        )
    lines.append(turn.t(DATE_HINT))
    turn.say(
        "\n".join(lines),
        [turn.choice(turn.t(USE_DEFAULT), "default"), turn.choice(turn.t(BACK), "back")],
    )


def on_due_choice(turn: Turn, value: str) -> str:
    if value == "back":
        return "back"
    turn.data["due"] = None
    return _then(turn)


def on_due_text(turn: Turn, text: str) -> str:
    day = _read_date(turn, text, turn.ctx.rules.reply_due_months, "答复期限")
    turn.data["due"] = day.isoformat()
    return _then(turn)


def ask_key(turn: Turn) -> None:
    turn.say(
        _wizard_head(turn, turn.t("第四步：是否列为重点提案？重点提案须指定督办单位和牵头领导。")),
        [
            turn.choice(turn.t("是，列为重点提案"), "yes"),
            turn.choice(turn.t("否"), "no"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def on_key(turn: Turn, value: str) -> str:
    if value == "back":
        return "back"
    turn.data["key"] = value == "yes"
    if value == "no":
        turn.data["sup"] = turn.data["leader"] = None
    return value


def ask_supervising(turn: Turn) -> None:
    head = _wizard_head(turn, turn.t("请选择督办单位："))
    _unit_picker(
        turn,
        head,
        key="sup",
        kind="supervising",
        prefix="s",
        marked=[turn.data["sup"]] if turn.data.get("sup") else [],
        extra=[turn.choice(turn.t(BACK), "back")],
    )


def on_supervising(turn: Turn, value: str) -> str:
    if value == "back" or _browse(turn, "sup", value):
        return "back" if value == "back" else "page"
    turn.data["sup"] = int(value.removeprefix("s:"))
    _forget(turn, "sup")
    return "picked"


def ask_leader(turn: Turn) -> None:
    ids = people_with_role(turn.session, Role.LEADER)
    leaders = [turn.session.get(Person, i) for i in ids]
    lines = [_wizard_head(turn, turn.t("请选择牵头领导："))]
    if not leaders:
        lines.append(turn.t("名册里还没有领导身份的人员，请先在名册中登记。"))
    rows, page, pages = _paged(turn, "leader", leaders)
    lines += _page_line(turn, page, pages)
    choices = [
        turn.choice(
            ("✅ " if p.id == turn.data.get("leader") else "") + _leader_label(p), f"l:{p.id}"
        )
        for p in rows
    ]
    choices += _nav(turn, page, pages)
    choices.append(turn.choice(turn.t(BACK), "back"))
    turn.say("\n".join(lines), choices, columns=2)


def on_leader(turn: Turn, value: str) -> str:
    if value == "back" or _browse(turn, "leader", value):
        return "back" if value == "back" else "page"
    turn.data["leader"] = int(value.removeprefix("l:"))
    _forget(turn, "leader")
    return "picked"


def _summary(turn: Turn, p: Proposal) -> str:
    data = turn.data
    co = "、".join(_unit_name(turn.session, u) for u in data.get("co", [])) or turn.t("无")
    if data.get("due"):
        due = fmt_date(date.fromisoformat(data["due"]))
    else:
        due = turn.t(
            "{day}（默认，交办后 {m} 个月）",
            day=fmt_date(_default_due(turn)),
            m=turn.ctx.rules.reply_due_months,
        )
    lines = [
        turn.t("提案：{n}《{title}》", n=_number(p), title=p.title),
        turn.t("主办单位：{u}", u=_unit_name(turn.session, data["lead"])),
        turn.t("协办单位：{u}", u=co),
        turn.t("答复期限：{d}", d=due),
        turn.t("是否重点：{k}", k=turn.t("是") if data.get("key") else turn.t("否")),
    ]
    if data.get("key"):
        leader = turn.session.get(Person, data["leader"])
        lines.append(turn.t("督办单位：{u}", u=_unit_name(turn.session, data["sup"])))
        lines.append(turn.t("牵头领导：{p}", p=_leader_label(leader) if leader else ""))
    return "\n".join(lines)


def ask_confirm(turn: Turn) -> None:
    p = _proposal(turn)
    turn.data["edit"] = True
    if p.status != ProposalStatus.FILED:
        turn.say(
            turn.t(
                "{n}《{title}》当前为「{s}」，不能再交办。",
                n=_number(p),
                title=p.title,
                s=turn.t(proposal_label(p.status)),
            ),
            [turn.choice(turn.t("返回审查队列"), "quit")],
        )
        return
    turn.say(
        turn.t("请核对交办信息：") + "\n" + _summary(turn, p),
        [
            turn.choice(turn.t("确认交办"), "ok"),
            turn.choice(turn.t("修改主办单位"), "lead"),
            turn.choice(turn.t("修改协办单位"), "co"),
            turn.choice(turn.t("修改答复期限"), "due"),
            turn.choice(turn.t("修改重点设置"), "key"),
            turn.choice(turn.t("放弃交办"), "quit"),
        ],
        columns=2,
    )


def on_confirm(turn: Turn, value: str) -> str:
    if value != "ok":
        if value == "quit":
            for key in WIZARD_KEYS:
                turn.data.pop(key, None)
        return value
    data = turn.data
    key = bool(data.get("key"))
    made = assignments.assign(
        turn.ctx,
        data["pid"],
        lead_unit_id=data["lead"],
        co_unit_ids=data.get("co", []),
        due_date=date.fromisoformat(data["due"]) if data.get("due") else None,
        is_key=key,
        supervising_unit_id=data.get("sup") if key else None,
        lead_leader_id=data.get("leader") if key else None,
    )
    p = _proposal(turn)
    co = "、".join(_unit_name(turn.session, a.unit_id) for a in made[1:])
    turn.say(
        turn.t(
            "已交办：{n}《{title}》由{lead}主办{co}，答复期限{due}{key}。已通知各承办单位。",
            n=_number(p),
            title=p.title,
            lead=_unit_name(turn.session, made[0].unit_id),
            co=turn.t("，{co}协办", co=co) if co else "",
            due=fmt_date(p.due_date),
            key=turn.t("，列为重点提案") if key else "",
        )
    )
    for k in WIZARD_KEYS:
        data.pop(k, None)
    return "assigned"


REVIEW_FLOW = Flow(
    name="review",
    start="queue",
    roles=frozenset(STAFF),
    steps={
        "queue": Step(prompt=ask_queue, choice=on_queue, hint=N_("请点选一件提案。")),
        "open": Step(prompt=ask_open, choice=on_open, hint=N_("请点选审查结果。")),
        "after_file": Step(
            prompt=ask_after_file, choice=on_after_file, hint=N_("请点选是否现在交办。")
        ),
        "reject_reason": Step(
            prompt=ask_reject_reason,
            text=on_reject_reason,
            choice=lambda turn, value: value,
            hint=N_("请用文字写明不予立案的理由。"),
        ),
        "reject_confirm": Step(
            prompt=ask_reject_confirm, choice=on_reject_confirm, hint=N_("请点选是否确认。")
        ),
        "merge_target": Step(
            prompt=ask_merge_target,
            choice=on_merge_target,
            text=on_merge_search,
            hint=N_("请点选要并入的提案，或发送编号、标题关键词搜索。"),
        ),
        "merge_confirm": Step(
            prompt=ask_merge_confirm, choice=on_merge_confirm, hint=N_("请点选是否确认并案。")
        ),
        "convert_note": Step(
            prompt=ask_convert_note,
            text=on_convert_note,
            choice=on_convert_choice,
            hint=N_("请发送说明文字，或点「不写说明」。"),
        ),
        "convert_confirm": Step(
            prompt=ask_convert_confirm, choice=on_convert_confirm, hint=N_("请点选是否确认。")
        ),
        "lead": Step(
            prompt=ask_lead,
            choice=on_lead,
            text=on_lead_search,
            hint=N_("请点选主办单位，或发送单位名称的一部分搜索。"),
        ),
        "co": Step(
            prompt=ask_co,
            choice=on_co,
            text=on_co_search,
            hint=N_("请点选协办单位（可多选），选好后点「完成」；也可以发送单位名称搜索。"),
        ),
        "due": Step(
            prompt=ask_due,
            choice=on_due_choice,
            text=on_due_text,
            hint=N_("请点「使用默认」，或输入日期，例如 2027-03-15。"),
        ),
        "key": Step(prompt=ask_key, choice=on_key, hint=N_("请点选是否列为重点提案。")),
        "supervising": Step(
            prompt=ask_supervising, choice=on_supervising, hint=N_("请点选督办单位。")
        ),
        "leader": Step(prompt=ask_leader, choice=on_leader, hint=N_("请点选牵头领导。")),
        "confirm": Step(prompt=ask_confirm, choice=on_confirm, hint=N_("请核对后点选确认交办。")),
    },
    edges={
        ("queue", "open"): "open",
        ("queue", "page"): "queue",
        ("queue", "menu"): END,
        ("open", "filed"): "after_file",
        ("open", "reject"): "reject_reason",
        ("open", "merge"): "merge_target",
        ("open", "convert"): "convert_note",
        ("open", "assign"): "lead",
        ("open", "back"): "queue",
        ("after_file", "assign"): "lead",
        ("after_file", "later"): "queue",
        ("reject_reason", "next"): "reject_confirm",
        ("reject_reason", "back"): "open",
        ("reject_confirm", "done"): "queue",
        ("reject_confirm", "edit"): "reject_reason",
        ("reject_confirm", "back"): "open",
        ("merge_target", "picked"): "merge_confirm",
        ("merge_target", "page"): "merge_target",
        ("merge_target", "search"): "merge_target",
        ("merge_target", "back"): "open",
        ("merge_confirm", "done"): "queue",
        ("merge_confirm", "again"): "merge_target",
        ("merge_confirm", "back"): "open",
        ("convert_note", "next"): "convert_confirm",
        ("convert_note", "back"): "open",
        ("convert_confirm", "done"): "queue",
        ("convert_confirm", "edit"): "convert_note",
        ("convert_confirm", "back"): "open",
        ("lead", "next"): "co",
        ("lead", "summary"): "confirm",
        ("lead", "page"): "lead",
        ("lead", "search"): "lead",
        ("lead", "back"): "open",
        ("co", "next"): "due",
        ("co", "summary"): "confirm",
        ("co", "page"): "co",
        ("co", "search"): "co",
        ("co", "back"): "lead",
        ("due", "next"): "key",
        ("due", "summary"): "confirm",
        ("due", "back"): "co",
        ("key", "yes"): "supervising",
        ("key", "no"): "confirm",
        ("key", "back"): "due",
        ("supervising", "picked"): "leader",
        ("supervising", "page"): "supervising",
        ("supervising", "back"): "key",
        ("leader", "picked"): "confirm",
        ("leader", "page"): "leader",
        ("leader", "back"): "supervising",
        ("confirm", "assigned"): "queue",
        ("confirm", "lead"): "lead",
        ("confirm", "co"): "co",
        ("confirm", "due"): "due",
        ("confirm", "key"): "key",
        ("confirm", "quit"): "queue",
    },
)


# ================================================================ adjustments (调整申请)


def _assignment(turn: Turn) -> Assignment | None:
    aid = turn.data.get("aid")
    return turn.session.get(Assignment, aid) if aid else None


def _role_label(turn: Turn, assignment: Assignment) -> str:
    return turn.t("主办") if assignment.role == "lead" else turn.t("协办")


def ask_adjustments(turn: Turn) -> None:
    turn.data.pop("aid", None)
    requests = adjustment_requests(turn.session)
    if not requests:
        turn.say(turn.t("没有待处理的调整申请。"), [turn.choice(turn.t(TO_MENU), "menu")])
        return
    rows, page, pages = _paged(turn, "adj", requests)
    lines = [turn.t("待处理的调整申请 {n} 件（申请时间从早到晚）：", n=len(requests))]
    choices = []
    for index, a in enumerate(rows, page * PAGE_SIZE + 1):
        p = turn.session.get(Proposal, a.proposal_id)
        unit = _unit_name(turn.session, a.unit_id)
        lines.append(
            turn.t(
                "{i}. {n}《{title}》 {unit}（{role}），{day}申请",
                i=index,
                n=_number(p),
                title=p.title,
                unit=unit,
                role=_role_label(turn, a),
                day=_day(turn, a.adjustment_requested_at),
            )
        )
        choices.append(turn.choice(_short(f"{_number(p)} {unit}"), f"a:{a.id}"))
    lines += _page_line(turn, page, pages)
    choices += _nav(turn, page, pages)
    choices.append(turn.choice(turn.t(TO_MENU), "menu"))
    turn.say("\n".join(lines), choices)


def on_adjustments(turn: Turn, value: str) -> str:
    if value == "menu":
        return "menu"
    if _browse(turn, "adj", value):
        return "page"
    turn.data["aid"] = int(value.removeprefix("a:"))
    return "open"


def ask_adjustment(turn: Turn) -> None:
    a = _assignment(turn)
    if a is None:
        turn.say(turn.t("找不到这项交办。"))
        _goto(turn, "list")
        return
    p = turn.session.get(Proposal, a.proposal_id)
    turn.say(render_record(turn.ctx, p), expects="none")
    text = turn.t(
        "{unit}申请调整{n}《{title}》的交办（{role}）。\n申请人：{who}，{at}\n理由：{reason}",
        unit=_unit_name(turn.session, a.unit_id),
        n=_number(p),
        title=p.title,
        role=_role_label(turn, a),
        who=person_name(turn.session, a.adjustment_requested_by),
        at=fmt_time(turn.ctx, a.adjustment_requested_at),
        reason=a.adjustment_reason or "",
    )
    if a.status != AssignmentStatus.ADJUSTMENT_REQUESTED:
        turn.say(
            text + "\n" + turn.t("这项申请已处理，当前为「{s}」。", s=turn.t(assignment_label(a.status))),
            [turn.choice(turn.t(BACK), "back")],
        )
        return
    turn.say(
        text,
        [
            turn.choice(turn.t("同意并改交"), "grant"),
            turn.choice(turn.t("不予调整"), "refuse"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def on_adjustment(turn: Turn, value: str) -> str:
    if value == "grant":
        _forget(turn, "new")
        turn.data.pop("new", None)
    return value


def ask_new_unit(turn: Turn) -> None:
    a = _assignment(turn)
    p = turn.session.get(Proposal, a.proposal_id)
    head = turn.t(
        "同意调整：请选择改由哪个单位{role}{n}《{title}》（可发送单位名称的一部分搜索）：",
        role=_role_label(turn, a),
        n=_number(p),
        title=p.title,
    )
    _unit_picker(
        turn,
        head,
        key="new",
        kind="handling",
        prefix="u",
        exclude=handling_unit_ids(turn.session, p.id),
        extra=[turn.choice(turn.t(BACK), "back")],
    )


def on_new_unit(turn: Turn, value: str) -> str:
    if value == "back" or _browse(turn, "new", value):
        return "back" if value == "back" else "page"
    turn.data["new"] = int(value.removeprefix("u:"))
    _forget(turn, "new")
    return "picked"


def on_new_unit_search(turn: Turn, text: str) -> str:
    return _search(turn, "new", text)


def ask_reassign_confirm(turn: Turn) -> None:
    a = _assignment(turn)
    p = turn.session.get(Proposal, a.proposal_id)
    turn.say(
        turn.t(
            "确认同意{old}的调整申请，{n}《{title}》改由{new}{role}？",
            old=_unit_name(turn.session, a.unit_id),
            n=_number(p),
            title=p.title,
            new=_unit_name(turn.session, turn.data["new"]),
            role=_role_label(turn, a),
        ),
        [
            turn.choice(turn.t("确认改交"), "ok"),
            turn.choice(turn.t("重新选择"), "again"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def on_reassign_confirm(turn: Turn, value: str) -> str:
    if value != "ok":
        _forget(turn, "new")
        return value
    new = assignments.reassign(turn.ctx, turn.data["aid"], turn.data["new"])
    p = turn.session.get(Proposal, new.proposal_id)
    turn.say(
        turn.t(
            "已改交：{n}提案改由{unit}{role}，期限{due}。已通知原单位和新单位。",
            n=_number(p),
            unit=_unit_name(turn.session, new.unit_id),
            role=_role_label(turn, new),
            due=fmt_date(new.due_date),
        )
    )
    return "done"


def ask_refuse_reason(turn: Turn) -> None:
    a = _assignment(turn)
    turn.say(
        turn.t("请写明不予调整的理由（将告知{unit}）：", unit=_unit_name(turn.session, a.unit_id)),
        [turn.choice(turn.t(BACK), "back")],
    )


def on_refuse_reason(turn: Turn, text: str) -> str:
    reason = _words(turn, text, turn.t("不予调整的理由"), 1000)
    a = assignments.refuse_adjustment(turn.ctx, turn.data["aid"], reason)
    turn.say(
        turn.t(
            "已不予调整：{unit}须按期办理（{due}前），已通知该单位。",
            unit=_unit_name(turn.session, a.unit_id),
            due=fmt_date(a.due_date),
        )
    )
    return "done"


ADJUSTMENTS_FLOW = Flow(
    name="adjustments",
    start="list",
    roles=frozenset(STAFF),
    steps={
        "list": Step(prompt=ask_adjustments, choice=on_adjustments, hint=N_("请点选一项申请。")),
        "open": Step(prompt=ask_adjustment, choice=on_adjustment, hint=N_("请点选处理意见。")),
        "new_unit": Step(
            prompt=ask_new_unit,
            choice=on_new_unit,
            text=on_new_unit_search,
            hint=N_("请点选新的承办单位，或发送单位名称的一部分搜索。"),
        ),
        "reassign_confirm": Step(
            prompt=ask_reassign_confirm,
            choice=on_reassign_confirm,
            hint=N_("请点选是否确认改交。"),
        ),
        "refuse_reason": Step(
            prompt=ask_refuse_reason,
            text=on_refuse_reason,
            choice=lambda turn, value: value,
            hint=N_("请用文字写明不予调整的理由。"),
        ),
    },
    edges={
        ("list", "open"): "open",
        ("list", "page"): "list",
        ("list", "menu"): END,
        ("open", "grant"): "new_unit",
        ("open", "refuse"): "refuse_reason",
        ("open", "back"): "list",
        ("new_unit", "picked"): "reassign_confirm",
        ("new_unit", "page"): "new_unit",
        ("new_unit", "search"): "new_unit",
        ("new_unit", "back"): "open",
        ("reassign_confirm", "done"): "list",
        ("reassign_confirm", "again"): "new_unit",
        ("reassign_confirm", "back"): "open",
        ("refuse_reason", "done"): "list",
        ("refuse_reason", "back"): "open",
    },
)


# ================================================================ reply review (答复审核)


def _reply(turn: Turn) -> Reply | None:
    rid = turn.data.get("rid")
    return turn.session.get(Reply, rid) if rid else None


def ask_replies(turn: Turn) -> None:
    turn.data.pop("rid", None)
    pending = replies_to_review(turn.session, turn.person)
    if not pending:
        turn.say(turn.t("没有待审核的答复。"), [turn.choice(turn.t(TO_MENU), "menu")])
        return
    rows, page, pages = _paged(turn, "rep", pending)
    lines = [turn.t("待审核的答复 {n} 件（提交时间从早到晚）：", n=len(pending))]
    choices = []
    for index, (r, p) in enumerate(rows, page * PAGE_SIZE + 1):
        lines.append(
            turn.t(
                "{i}. {n}《{title}》 {unit}，{c}类，第{v}稿，{day}提交",
                i=index,
                n=_number(p),
                title=p.title,
                unit=r.signing_unit,
                c=r.reply_class,
                v=r.version,
                day=_day(turn, r.submitted_at),
            )
        )
        choices.append(turn.choice(_short(f"{_number(p)} {p.title}"), f"r:{r.id}"))
    lines += _page_line(turn, page, pages)
    choices += _nav(turn, page, pages)
    choices.append(turn.choice(turn.t(TO_MENU), "menu"))
    turn.say("\n".join(lines), choices)


def on_replies(turn: Turn, value: str) -> str:
    if value == "menu":
        return "menu"
    if _browse(turn, "rep", value):
        return "page"
    turn.data["rid"] = int(value.removeprefix("r:"))
    return "open"


def reply_letter(turn: Turn, reply: Reply, proposal: Proposal) -> str:
    """The reply letter as the reviewer reads it, with the co-handling units' opinions."""
    lead = turn.session.get(Assignment, reply.assignment_id)
    lines = [
        turn.t(
            "{n}《{title}》的答复（第{v}稿，{unit}主办）",
            n=_number(proposal),
            title=proposal.title,
            v=reply.version,
            unit=_unit_name(turn.session, lead.unit_id if lead else None),
        ),
        turn.t(
            "答复类别：{c}类（{meaning}）",
            c=reply.reply_class,
            meaning=turn.t(CLASS_MEANINGS.get(reply.reply_class, "")),
        ),
        "",
        reply.title,
        reply.body.strip(),
        "",
        turn.t(
            "联系人：{p}　联系电话：{phone}", p=reply.contact_person, phone=reply.contact_phone
        ),
        turn.t("落款单位：{u}", u=reply.signing_unit),
        turn.t("答复日期：{d}", d=fmt_date(reply.reply_date)),
    ]
    files = attachments_of(turn.ctx, reply_id=reply.id)
    if files:
        lines.append(turn.t("附件：{names}", names="、".join(f.filename for f in files)))
    co = turn.session.exec(
        select(Assignment)
        .where(
            Assignment.proposal_id == proposal.id,
            Assignment.role == "co",
            col(Assignment.status) != AssignmentStatus.REASSIGNED,
        )
        .order_by(col(Assignment.id))
    ).all()
    if co:
        lines.append(turn.t("协办意见："))
        for a in co:
            lines.append(
                f"  {_unit_name(turn.session, a.unit_id)}："
                + (a.opinion or turn.t("（尚未提出）"))
            )
    return "\n".join(lines)


def ask_reply(turn: Turn) -> None:
    r = _reply(turn)
    p = turn.session.get(Proposal, r.proposal_id) if r else None
    if r is None or p is None or not may_review(turn.person, p):
        turn.say(turn.t("找不到这份答复，或您无权审核它。"))
        _goto(turn, "list")
        return
    turn.say(reply_letter(turn, r, p), expects="none")
    if r.status != "submitted":
        turn.say(
            turn.t("这一稿答复已经审核过了。"),
            [turn.choice(turn.t(BACK), "back")],
        )
        return
    others = [c for c in turn.ctx.rules.reply_classes if c != r.reply_class]
    turn.say(
        turn.t("请审核这份答复："),
        [
            turn.choice(turn.t("通过（{c}类）", c=r.reply_class), "ok"),
            *[turn.choice(turn.t("改为{c}类后通过", c=c), f"cls:{c}") for c in others],
            turn.choice(turn.t("退回修改"), "ret"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def on_reply(turn: Turn, value: str) -> str:
    if value in ("ret", "back"):
        return value
    new_class = value.removeprefix("cls:") if value.startswith("cls:") else None
    r = replies.approve_reply(turn.ctx, turn.data["rid"], new_class)
    p = turn.session.get(Proposal, r.proposal_id)
    turn.say(
        turn.t(
            "已审核通过{n}提案的答复（{c}类），已送达提案人和联名委员，请他们评价。",
            n=_number(p),
            c=r.reply_class,
        )
    )
    return "done"


def ask_return_comment(turn: Turn) -> None:
    turn.say(
        turn.t("请写明退回意见（将告知主办单位）："),
        [turn.choice(turn.t(BACK), "back")],
    )


def on_return_comment(turn: Turn, text: str) -> str:
    comment = _words(turn, text, turn.t("退回意见"), 2000)
    r = replies.return_reply(turn.ctx, turn.data["rid"], comment)
    p = turn.session.get(Proposal, r.proposal_id)
    turn.say(turn.t("已退回{n}提案的答复，已通知主办单位修改后重新提交。", n=_number(p)))
    return "done"


REPLY_REVIEW_FLOW = Flow(
    name="reply_review",
    start="list",
    roles=frozenset(REVIEWERS),
    steps={
        "list": Step(prompt=ask_replies, choice=on_replies, hint=N_("请点选一份答复。")),
        "open": Step(prompt=ask_reply, choice=on_reply, hint=N_("请点选审核意见。")),
        "return_comment": Step(
            prompt=ask_return_comment,
            text=on_return_comment,
            choice=lambda turn, value: value,
            hint=N_("请用文字写明退回意见。"),
        ),
    },
    edges={
        ("list", "open"): "open",
        ("list", "page"): "list",
        ("list", "menu"): END,
        ("open", "done"): "list",
        ("open", "ret"): "return_comment",
        ("open", "back"): "list",
        ("return_comment", "done"): "list",
        ("return_comment", "back"): "open",
    },
)


# ================================================================ 不满意待处理 (rehandle)


def ask_rehandles(turn: Turn) -> None:
    turn.data.pop("pid", None)
    pending = rehandle_queue(turn)
    if not pending:
        turn.say(
            turn.t("没有评价为不满意、待处理的提案。"), [turn.choice(turn.t(TO_MENU), "menu")]
        )
        return
    rows, page, pages = _paged(turn, "reh", pending)
    lines = [turn.t("评价为不满意的提案 {n} 件：", n=len(pending))]
    choices = []
    for index, p in enumerate(rows, page * PAGE_SIZE + 1):
        lines.append(
            turn.t(
                "{i}. {n}《{title}》，{day}送达",
                i=index,
                n=_number(p),
                title=p.title,
                day=_day(turn, p.delivered_at),
            )
        )
        choices.append(turn.choice(_short(f"{_number(p)} {p.title}"), f"p:{p.id}"))
    lines += _page_line(turn, page, pages)
    choices += _nav(turn, page, pages)
    choices.append(turn.choice(turn.t(TO_MENU), "menu"))
    turn.say("\n".join(lines), choices)


def on_rehandles(turn: Turn, value: str) -> str:
    if value == "menu":
        return "menu"
    if _browse(turn, "reh", value):
        return "page"
    turn.data["pid"] = int(value.removeprefix("p:"))
    return "open"


def ratings_text(turn: Turn, proposal: Proposal) -> str:
    reply, ratings = current_ratings(turn, proposal)
    lines = [
        turn.t(
            "评价情况（第{v}稿答复，{c}类）：",
            v=reply.version if reply else "",
            c=reply.reply_class if reply else "",
        )
    ]
    rated = {r.person_id: r for r in ratings}
    for person_id in signer_ids(turn.session, proposal.id):
        name = person_name(turn.session, person_id)
        r = rated.get(person_id)
        if r is None:
            lines.append(turn.t("  {name}：尚未评价", name=name))
        elif r.not_given:
            lines.append(turn.t("  {name}：评价期满未评价", name=name))
        else:
            lines.append(
                turn.t(
                    "  {name}：办理工作{w}，办理结果{res}",
                    name=name,
                    w=turn.t(RATINGS.get(r.work_rating, "")),
                    res=turn.t(RATINGS.get(r.result_rating, "")),
                )
                + (turn.t("；意见：{f}", f=r.feedback) if r.feedback else "")
            )
    deadline = replies.rating_deadline(turn.ctx, proposal)
    if deadline:
        lines.append(turn.t("评价期至：{d}", d=fmt_date(deadline)))
    lines.append(
        turn.t(
            "已重新办理 {n} 次（最多 {max} 次）。",
            n=proposal.rehandle_count,
            max=turn.ctx.rules.max_rehandles,
        )
    )
    return "\n".join(lines)


def ask_rehandle(turn: Turn) -> None:
    p = _proposal(turn)
    if p is None:
        turn.say(turn.t("找不到这件提案。"))
        _goto(turn, "list")
        return
    turn.say(render_record(turn.ctx, p), expects="none")
    if p.status != ProposalStatus.DELIVERED:
        turn.say(
            turn.t("这件提案当前为「{s}」，无需处理。", s=turn.t(proposal_label(p.status))),
            [turn.choice(turn.t(BACK), "back")],
        )
        return
    turn.say(
        ratings_text(turn, p) + "\n" + turn.t("请选择处理方式："),
        [
            turn.choice(turn.t("重新办理"), "re"),
            turn.choice(turn.t("办结"), "close"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def on_rehandle(turn: Turn, value: str) -> str:
    if value == "re":
        turn.data.pop("re_due", None)
        return "re"
    if value == "close":
        p = replies.close(turn.ctx, turn.data["pid"])
        turn.say(turn.t("{n}《{title}》已办结，已通知提案人。", n=_number(p), title=p.title))
        return "done"
    return value


def _default_rehandle_due(turn: Turn) -> date:
    return due_date_or_default(turn.ctx, None, turn.ctx.rules.rehandle_due_months, "新的答复期限")


def ask_rehandle_due(turn: Turn) -> None:
    lead = assignments.lead_assignment(turn.ctx, turn.data["pid"])
    turn.say(
        turn.t(
            "重新办理：由{unit}重新答复。新的答复期限默认为 {m} 个月后：{day}。",
            unit=_unit_name(turn.session, lead.unit_id if lead else None),
            m=turn.ctx.rules.rehandle_due_months,
            day=fmt_date(_default_rehandle_due(turn)),
        )
        + "\n"
        + turn.t(DATE_HINT),
        [turn.choice(turn.t(USE_DEFAULT), "default"), turn.choice(turn.t(BACK), "back")],
    )


def on_rehandle_due_choice(turn: Turn, value: str) -> str:
    if value == "default":
        turn.data["re_due"] = None
        return "next"
    return value


def on_rehandle_due_text(turn: Turn, text: str) -> str:
    day = _read_date(turn, text, turn.ctx.rules.rehandle_due_months, "新的答复期限")
    turn.data["re_due"] = day.isoformat()
    return "next"


def ask_rehandle_note(turn: Turn) -> None:
    due = turn.data.get("re_due")
    day = date.fromisoformat(due) if due else _default_rehandle_due(turn)
    turn.say(
        turn.t(
            "新的答复期限：{day}。\n可以写下重新办理的要求（将告知承办单位），"
            "或点「不写要求，下达」：",
            day=fmt_date(day),
        ),
        [
            turn.choice(turn.t("不写要求，下达"), "skip"),
            turn.choice(turn.t(BACK), "back"),
        ],
    )


def _order_rehandle(turn: Turn, note: str | None) -> str:
    due = turn.data.get("re_due")
    lead = replies.order_rehandle(
        turn.ctx,
        turn.data["pid"],
        due_date=date.fromisoformat(due) if due else None,
        note=note,
    )
    p = turn.session.get(Proposal, lead.proposal_id)
    turn.say(
        turn.t(
            "已下达重新办理：{n}提案由{unit}在{due}前重新答复，已通知承办单位和提案人。",
            n=_number(p),
            unit=_unit_name(turn.session, lead.unit_id),
            due=fmt_date(lead.due_date),
        )
    )
    return "done"


def on_rehandle_note_text(turn: Turn, text: str) -> str:
    return _order_rehandle(turn, _words(turn, text, turn.t("重新办理要求"), 2000))


def on_rehandle_note_choice(turn: Turn, value: str) -> str:
    return _order_rehandle(turn, None) if value == "skip" else value


REHANDLE_FLOW = Flow(
    name="rehandle",
    start="list",
    roles=frozenset(STAFF),
    steps={
        "list": Step(prompt=ask_rehandles, choice=on_rehandles, hint=N_("请点选一件提案。")),
        "open": Step(prompt=ask_rehandle, choice=on_rehandle, hint=N_("请点选处理方式。")),
        "due": Step(
            prompt=ask_rehandle_due,
            choice=on_rehandle_due_choice,
            text=on_rehandle_due_text,
            hint=N_("请点「使用默认」，或输入日期，例如 2027-03-15。"),
        ),
        "note": Step(
            prompt=ask_rehandle_note,
            choice=on_rehandle_note_choice,
            text=on_rehandle_note_text,
            hint=N_("请发送重新办理的要求，或点「不写要求，下达」。"),
        ),
    },
    edges={
        ("list", "open"): "open",
        ("list", "page"): "list",
        ("list", "menu"): END,
        ("open", "re"): "due",
        ("open", "done"): "list",
        ("open", "back"): "list",
        ("due", "next"): "note",
        ("due", "back"): "open",
        ("note", "done"): "list",
        ("note", "back"): "due",
    },
)


FLOWS = (REVIEW_FLOW, ADJUSTMENTS_FLOW, REPLY_REVIEW_FLOW, REHANDLE_FLOW)


def install(engine: Engine) -> None:
    for flow in FLOWS:
        roles = tuple(flow.roles or ())
        guarded = {
            name: Step(
                prompt=_guarded(roles, step.prompt),
                text=step.text,
                choice=step.choice,
                file=step.file,
                contact=step.contact,
                hint=step.hint,
            )
            for name, step in flow.steps.items()
        }
        engine.add_flow(Flow(flow.name, flow.start, guarded, dict(flow.edges), roles=flow.roles))
