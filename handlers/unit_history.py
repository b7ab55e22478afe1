"""已办结的交办: the assignments the handler's unit has finished, as lead or co-handling
unit, so a reply given months ago is found without knowing its number. This year's first,
then the unit's other years, a page at a time; each line says the unit's part, the day its
assignment ended and, for the lead unit, the class of its approved reply, and a tap shows
the proposal's whole record as 查询提案 does (``handlers.year_list``).

What the list holds and whether a proposal may be opened is decided by
``workflow.unit_history``; the handlers only ask and show.
"""

from __future__ import annotations

from handlers.engine import Engine, Turn
from handlers.i18n import N_
from handlers.staff_common import install_flows
from handlers.turns import me
from handlers.unit_common import ROLE_LABELS
from handlers.year_list import YearList
from workflow import unit_history
from workflow.assignments import unit_name
from workflow.roles import Role
from workflow.unit_history import Finished

ITEM = N_("🗄 已办结的交办")  # the menu item, and the button under an empty inbox


def _unit(turn: Turn) -> str:
    return unit_name(turn.ctx, me(turn).unit_id)


def _line(turn: Turn, index: int, item: Finished) -> str:
    p = item.proposal
    line = turn.t(
        "{i}. {number}《{title}》 {role}",
        i=index,
        number=turn.number(p.year, p.number),
        title=p.title,
        role=turn.t(ROLE_LABELS.get(item.role, item.role)),
    )
    if item.ended is not None:
        line += " · " + turn.t("{d}办结", d=turn.date(item.ended))
    if item.reply_class:
        line += " · " + turn.t("答复{c}类", c=item.reply_class)
    return line


def _none(turn: Turn) -> str:
    return turn.t("{unit}还没有已办结的交办。", unit=_unit(turn))


def _empty(turn: Turn, year: int | None) -> str:
    return turn.t("{year}年度{unit}没有已办结的交办。", year=year, unit=_unit(turn))


def _head(turn: Turn, year: int | None, n: int) -> str:
    return turn.t("{year}年度{unit}已办结的交办共 {n} 件：", year=year, unit=_unit(turn), n=n)


UNIT_HISTORY: YearList[Finished] = YearList(
    years=unit_history.years,
    this_year=unit_history.this_year,
    count=lambda ctx, year: unit_history.count(ctx, year=year),
    page=lambda ctx, year, offset, limit: unit_history.page(
        ctx, year=year, offset=offset, limit=limit
    ),
    proposal=lambda item: item.proposal,
    line=_line,
    authorize=unit_history.finished_proposal,
    none=_none,
    empty=_empty,
    head=_head,
)

UNIT_HISTORY_FLOW = UNIT_HISTORY.flow("unit_history", frozenset({Role.HANDLER}))


def install(engine: Engine) -> None:
    install_flows(engine, [UNIT_HISTORY_FLOW])
