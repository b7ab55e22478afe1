"""督办的重点提案: the key proposals a lead leader oversees, or the reader's supervising unit
supervises. This year's first, then another year's or the open ones of every year, a page at
a time; each line says the proposal's status, lead unit, due date and whether its reply is
overdue, and a tap shows its whole record as 查询提案 does.

What the list holds and whether a proposal may be opened is decided by
``workflow.key_proposals``; the handlers only ask and show.
"""

from __future__ import annotations

from handlers.engine import END, Engine, Flow, Step, Turn
from handlers.i18n import N_
from handlers.member import LIST_PAGER, chosen_record, on_pick, proposal_button
from handlers.paging import Fetched
from handlers.staff_common import TO_MENU, install_flows
from workflow import key_proposals
from workflow.key_proposals import KeyProposal
from workflow.roles import Role
from workflow.statuses import ProposalStatus, proposal_label

FOLLOWERS = frozenset({Role.LEADER, Role.SUPERVISOR})
OPEN = "open"  # the view of the open ones of every year
YEAR_BUTTONS = 6  # other years offered under the list


def _view(turn: Turn) -> int | None:
    """The year shown (None: the open ones of every year)."""
    view = turn.data.get("view")
    if view == OPEN:
        return None
    return view if isinstance(view, int) else key_proposals.this_year(turn.ctx)


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


def _views(turn: Turn, shown: int | None, years: list[int]) -> list:
    """Buttons to the other years and to the open ones of every year."""
    buttons = [
        turn.choice(turn.t("{year}年度", year=year), f"y:{year}")
        for year in years
        if year != shown
    ][:YEAR_BUTTONS]
    if shown is not None:
        buttons.append(turn.choice(turn.t("未办结的（各年度）"), OPEN))
    return buttons


def ask_list(turn: Turn) -> None:
    """Lists the reader's key proposals of the year shown, eight at a time."""
    ctx = turn.ctx
    years = key_proposals.years(ctx)  # refused to anyone who follows none
    if not years:
        turn.say(
            turn.t(
                "目前没有您督办的重点提案。提案委交办重点提案、指定您为牵头领导或由贵单位督办时，"
                "会通知您。"
            ),
            expects="none",
        )
        turn.start("menu")
        return
    year = _view(turn)
    items = Fetched(
        lambda: key_proposals.count(ctx, year=year),
        lambda offset, limit: key_proposals.page(ctx, year=year, offset=offset, limit=limit),
    )
    views = [*_views(turn, year, years), turn.choice(turn.t(TO_MENU), "menu")]
    if not items:
        empty = (
            turn.t("{year}年度没有您督办的重点提案。", year=year)
            if year is not None
            else turn.t("您督办的重点提案都已办结。")
        )
        turn.say(empty + "\n" + turn.t("可以查看其他年度的："), views)
        return
    shown = LIST_PAGER.page(turn, items)
    head = (
        turn.t("{year}年度您督办的重点提案共 {n} 件：", year=year, n=shown.total)
        if year is not None
        else turn.t("您督办的未办结重点提案共 {n} 件（早的在前）：", n=shown.total)
    )
    lines = [head, *(_line(turn, i, item) for i, item in enumerate(shown.rows, shown.first))]
    lines += shown.position(turn)
    lines.append(turn.t("点选一件查看完整记录："))
    turn.say(
        "\n".join(lines),
        [
            *(
                turn.choice(proposal_button(turn, item.proposal), f"p:{item.proposal.id}")
                for item in shown.rows
            ),
            *shown.buttons(turn),
            *views,
        ],
    )


def on_list(turn: Turn, value: str) -> str | None:
    """Opens a proposal, turns the page or shows another year (or the open ones)."""
    if value == "menu":
        return "menu"
    year = value.removeprefix("y:")
    if value == OPEN or (year != value and year.isascii() and year.isdigit()):
        turn.data["view"] = OPEN if value == OPEN else int(year)
        turn.data[LIST_PAGER.key] = 0
        return "page"
    return on_pick(turn, value)


def show_record(turn: Turn) -> None:
    """Shows the chosen key proposal's whole record, as 查询提案 does."""
    key_proposals.followed_proposal(turn.ctx, turn.data.get("pid") or 0)  # refused if not theirs
    shown = chosen_record(turn, "list")
    if shown is None:
        return
    _proposal, text = shown
    turn.say(
        text,
        [turn.choice(turn.t("返回列表"), "back"), turn.choice(turn.t(TO_MENU), "menu")],
        columns=2,
    )


def on_record(turn: Turn, value: str) -> str:
    return "menu" if value == "menu" else "back"


KEY_PROPOSALS_FLOW = Flow(
    name="key_proposals",
    start="list",
    roles=FOLLOWERS,
    steps={
        "list": Step(prompt=ask_list, choice=on_list, hint=N_("请点选一件提案。")),
        "show": Step(
            prompt=show_record,
            choice=on_record,
            hint=N_("请点「返回列表」或「返回菜单」。"),
        ),
    },
    edges={
        ("list", "page"): "list",
        ("list", "open"): "show",
        ("list", "menu"): END,
        ("show", "back"): "list",
        ("show", "menu"): END,
    },
)


def install(engine: Engine) -> None:
    install_flows(engine, [KEY_PROPOSALS_FLOW])
