"""What the staff flows share: pages, searches, pickers, dates and read-only queries."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import date

from sqlmodel import Session, col, select

from handlers.engine import Engine, Flow, Step, Turn
from handlers.i18n import N_
from handlers.messages import Choice
from handlers.paging import PAGE_SIZE as PAGE_SIZE  # the staff lists' page size
from handlers.paging import Page, Pager
from storage.models import Assignment, Person, Proposal, Rating, Reply, Signer, Unit
from workflow import proposals, reach, replies
from workflow.assignments import due_date_or_default, postponement
from workflow.core import (
    check_text,
    person_name,
)
from workflow.errors import InvalidInput
from workflow.numbering import bracket_number_text, parse_number
from workflow.roles import Role
from workflow.statuses import (
    AssignmentStatus,
    ProposalStatus,
)
from workflow.texts import Text, label

SEARCH_MAX = 50
LABEL_MAX = 22
STAFF = (Role.STAFF,)
REVIEWERS = (Role.STAFF, Role.SUPERVISOR)

BACK = N_("↩️ 返回")
TO_MENU = N_("🏠 返回菜单")
SHOW_ALL = N_("显示全部")
USE_DEFAULT = N_("使用默认")
DATE_HINT = N_("请点「使用默认」，或输入日期，例如 2027-03-15 或 2027年3月15日。")


# ================================================================ shared pieces


def norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def short(text: str, limit: int = LABEL_MAX) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def told_units(turn: Turn, unit_ids: Sequence[int]) -> str:
    """After an action that wrote notices to these units' handlers: which units were
    notified, and for each unit none of whose handlers will read it, why and what to do
    (a unit with no handler on the roster, or handlers with no chat account reaching them)."""
    reaches = reach.unit_reach(turn.ctx, unit_ids)
    told = [r.unit for r in reaches if r.reachable]
    lines = [turn.t("已通知{units}。", units=turn.join(told))] if told else []
    lines += [turn.t(gap) for r in reaches if (gap := r.gap()) is not None]
    return "\n".join(lines)


def proposer_of(turn: Turn, p: Proposal) -> str:
    """Who the proposal is from as staff's lists name it: a 集体提案's body, or the member."""
    shown = proposals.proposer_shown(p, person_name(turn.session, p.proposer_id))
    return turn.t(shown) if isinstance(shown, Text) else shown


def told_proposer(turn: Turn, p: Proposal) -> str:
    """After an action that wrote the proposer a notice: that they were notified, or why
    they will not read it yet and their phone number."""
    gap = reach.person_reach(turn.ctx, p.proposer_id).gap()
    return turn.t("已通知提案人。") if gap is None else turn.t(gap)


def words(turn: Turn, text: str, what: str, max_chars: int) -> str:
    """A free text that must say something: within its limit, not only emoji or marks."""
    text = check_text(text, what, max_chars=max_chars)
    if not any(ch.isalnum() for ch in text):
        raise InvalidInput(turn.t("{what}需要用文字写明，不能只有表情或符号。", what=what))
    return text


def number_of(turn: Turn, p: Proposal) -> str:
    """2026年度第3号, No. 3 of 2026; nothing before the proposal is filed."""
    return turn.number(p.year, p.number) if p.number else ""


def both_numbers(turn: Turn, p: Proposal) -> str:
    """2026年度第3号（第〔3〕号）, No. 3 of 2026 (No. 3): the number as documents carry it,
    beside its year."""
    return turn.t(
        "{long}（{short}）",
        long=turn.number(p.year, p.number),
        short=turn.t(bracket_number_text(p.number)),
    )


def day_text(turn: Turn, moment) -> str:
    if moment is None:
        return ""
    local = turn.ctx.local(moment)
    return turn.t("{m}月{d}日", m=local.month, d=local.day)


def parse_date(text: str) -> date | None:
    """2027-03-15, 2027/3/15, 2027.3.15 or 2027年3月15日; None if it is not a date."""
    text = re.sub(r"\s+", "", norm(text))
    match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?", text)
    if not match:
        return None
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def read_date(turn: Turn, text: str, months: int, what: label) -> date:
    """A typed due date, refused with the workflow's own message when it is not later than
    today; one on a day off becomes the next working day, and the person is told so."""
    if len(text) > 40:
        raise InvalidInput(turn.t("日期太长了。") + turn.t(DATE_HINT))
    day = parse_date(text)
    if day is None:
        raise InvalidInput(
            turn.t("看不懂这个日期，或者没有这一天：{text}。", text=short(text, 20))
            + turn.t(DATE_HINT)
        )
    due = due_date_or_default(turn.ctx, day, months, what)
    said = postponement(turn.ctx, day, what)
    if said:
        turn.say("".join(turn.t(text) for text in said))
    return due


def guarded_prompt(
    roles: Sequence[Role], prompt: Callable[[Turn], None]
) -> Callable[[Turn], None]:
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


def goto(turn: Turn, step: str) -> None:
    """From inside a prompt: move to ``step`` and ask its question instead."""
    turn.conv.step = step
    turn.engine.prompt(turn)


# ---------------------------------------------------------------- pages


def pager(key: str) -> Pager:
    """The pager of the staff list ``key``: its page number is kept as ``<key>_pg``, next to
    its search words (``<key>_q``)."""
    return Pager(key=f"{key}_pg")


def paged(turn: Turn, key: str, rows: Sequence) -> Page:
    """The page of the staff list ``key`` to show now."""
    return pager(key).page(turn, rows)


def browse(turn: Turn, key: str, value: str) -> str | None:
    """Page turns and "show all" of a list; 'page' when the value was one of them."""
    if pager(key).take(turn, value):
        return "page"
    if value == "all":
        turn.data.pop(f"{key}_q", None)
        turn.data[pager(key).key] = 0
        return "page"
    return None


def search_list(turn: Turn, key: str, text: str) -> str:
    query = norm(text)
    if len(query) > SEARCH_MAX:
        raise InvalidInput(turn.t("搜索词最多 {n} 个字，请缩短后再试。", n=SEARCH_MAX))
    turn.data[f"{key}_q"] = query
    turn.data[pager(key).key] = 0
    return "search"


def forget(turn: Turn, *keys: str) -> None:
    for key in keys:
        turn.data.pop(f"{key}_q", None)
        turn.data.pop(pager(key).key, None)


# ---------------------------------------------------------------- read-only queries


def active_units(session: Session, kind: str) -> list[Unit]:
    return list(
        session.exec(
            select(Unit)
            .where(Unit.kind == kind, col(Unit.active).is_(True))
            .order_by(col(Unit.id))
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


def proposal_matches(proposal: Proposal, query: str) -> bool:
    """Whether a typed number (28, 第〔28〕号, 2026-28, 2026年度第28号) or part of a title
    names the proposal."""
    parsed = parse_number(query)
    if parsed:
        year, number = parsed
        return proposal.number == number and year in (None, proposal.year)
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
    """The reply the proposal's signers rate and its ratings: for a main proposal, those
    given on the proposals merged into it too."""
    reply = replies.delivered_reply(turn.ctx, proposal)
    if reply is None:
        return None, []
    stmt = select(Rating).where(Rating.reply_id == reply.id)
    if proposal.merged_into_id is not None:
        stmt = stmt.where(Rating.proposal_id == proposal.id)
    return reply, list(turn.session.exec(stmt.order_by(col(Rating.id))).all())


def rehandle_queue(turn: Turn) -> list[Proposal]:
    """Delivered proposals whose 不满意 waits for staff (see ``replies.awaits_staff``)."""
    delivered = turn.session.exec(
        select(Proposal)
        .where(Proposal.status == ProposalStatus.DELIVERED)
        .order_by(col(Proposal.delivered_at), col(Proposal.id))
    ).all()
    return [p for p in delivered if replies.awaits_staff(turn.ctx, p)]


def leader_label(turn: Turn, person: Person) -> str:
    """王明（副主席）, 王明 (副主席)"""
    if not person.title:
        return person.name
    return turn.t("{name}（{title}）", name=person.name, title=person.title)


# ---------------------------------------------------------------- pickers


def unit_picker(
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
        forget(turn, key)
    if not units:
        lines.append(turn.t("没有可以选择的单位。请先在名册中导入单位。"))
    page = paged(turn, key, units)
    lines += page.position(turn)
    choices = [
        turn.choice(("✅ " if u.id in marked else "") + u.name, f"{prefix}:{u.id}")
        for u in page.rows
    ]
    choices += page.buttons(turn)
    if query and found:
        choices.append(turn.choice(turn.t(SHOW_ALL), "all"))
    turn.say("\n".join(lines), [*choices, *extra], columns=2)


def chosen_proposal(turn: Turn) -> Proposal | None:
    pid = turn.data.get("pid")
    return turn.session.get(Proposal, pid) if pid else None


def the_proposal(turn: Turn) -> Proposal:
    """The proposal chosen earlier in the flow, in the steps that follow the choice."""
    proposal = chosen_proposal(turn)
    assert proposal is not None, "these steps come after a proposal was chosen"
    return proposal


def proposal_title(turn: Turn, p: Proposal) -> str:
    return turn.t("{n}《{title}》", n=number_of(turn, p), title=p.title)


def install_flows(engine: Engine, flows: Sequence[Flow]) -> None:
    """Install staff flows whose every question first re-checks the person's role."""
    for flow in flows:
        roles = tuple(flow.roles or ())
        guarded = {
            name: Step(
                prompt=guarded_prompt(roles, step.prompt),
                text=step.text,
                choice=step.choice,
                file=step.file,
                contact=step.contact,
                hint=step.hint,
            )
            for name, step in flow.steps.items()
        }
        engine.add_flow(dataclasses.replace(flow, steps=guarded, edges=dict(flow.edges)))
