"""督办的重点提案: the key proposals a lead leader oversees, or the reader's supervising unit
supervises. This year's first, then another year's or the open ones of every year, a page at
a time; each line says the proposal's status, lead unit, due date and whether its reply is
overdue, and a tap shows its whole record as 查询提案 does (``handlers.year_list``).

What the list holds and whether a proposal may be opened is decided by
``workflow.key_proposals``; the handlers only ask and show.
"""

from __future__ import annotations

from handlers.engine import Engine, Turn
from handlers.i18n import N_
from handlers.staff_common import install_flows
from handlers.year_list import YearList
from workflow import key_proposals
from workflow.key_proposals import KeyProposal
from workflow.roles import Role
from workflow.statuses import ProposalStatus, proposal_label

FOLLOWERS = frozenset({Role.LEADER, Role.SUPERVISOR})


def _line(turn: Turn, index: int, item: KeyProposal) -> str:
    p = item.proposal
    line = turn.t(
        "{i}. {number}《{title}》 {status} · 主办：{unit} · {due}",
        i=index,
        number=turn.number(p.year, p.number),
        title=p.title,
        status=turn.t(proposal_label(p.status)),
        unit=item.lead_unit or turn.t("无"),
        due=_due(turn, item),
    )
    if item.overdue:
        line += " · " + turn.t("⚠️ 逾期 {n} 个工作日", n=item.overdue)
    elif item.overdue == 0:
        line += " · " + turn.t("⚠️ 已逾期")
    return line


def _due(turn: Turn, item: KeyProposal) -> str:
    """When its reply is due, or (answered) when the reply was delivered."""
    p = item.proposal
    if p.status in (ProposalStatus.DELIVERED, ProposalStatus.CLOSED) and p.delivered_at:
        return turn.t("已于{d}答复", d=turn.date(turn.ctx.local(p.delivered_at).date()))
    return turn.t("答复期限 {d}", d=turn.date(item.due))


def _none(turn: Turn) -> str:
    return turn.t(
        "目前没有您督办的重点提案。提案委交办重点提案、指定您为牵头领导或由贵单位督办时，"
        "会通知您。"
    )


def _empty(turn: Turn, year: int | None) -> str:
    if year is None:
        return turn.t("您督办的重点提案都已办结。")
    return turn.t("{year}年度没有您督办的重点提案。", year=year)


def _head(turn: Turn, year: int | None, n: int) -> str:
    if year is None:
        return turn.t("您督办的未办结重点提案共 {n} 件（早的在前）：", n=n)
    return turn.t("{year}年度您督办的重点提案共 {n} 件：", year=year, n=n)


KEY_PROPOSALS: YearList[KeyProposal] = YearList(
    years=key_proposals.years,
    this_year=key_proposals.this_year,
    count=lambda ctx, year: key_proposals.count(ctx, year=year),
    page=lambda ctx, year, offset, limit: key_proposals.page(
        ctx, year=year, offset=offset, limit=limit
    ),
    proposal=lambda item: item.proposal,
    line=_line,
    authorize=key_proposals.followed_proposal,
    none=_none,
    empty=_empty,
    head=_head,
    every_year=N_("未办结的（各年度）"),
)

KEY_PROPOSALS_FLOW = KEY_PROPOSALS.flow("key_proposals", FOLLOWERS)


def install(engine: Engine) -> None:
    install_flows(engine, [KEY_PROPOSALS_FLOW])
