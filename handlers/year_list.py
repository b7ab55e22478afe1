"""A list of proposals read one year at a time, this year's first: eight a page, buttons to
the reader's other years (and, if the list has one, to a view of every year), and a tap
shows the proposal's whole record with its timeline, as 查询提案 does. 督办的重点提案 and
已办结的交办 are such lists.

A ``YearList`` is given what differs: how the workflow reads the list (its years, count and
pages, each refused to whoever may not read it), how one of its proposals is authorized to
be opened, and what the list says. ``year_list.flow(...)`` is then the flow with its two
steps, ``list`` and ``show``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from handlers.engine import END, Flow, Step, Turn
from handlers.i18n import N_
from handlers.member import (
    LIST_PAGER,
    chosen_record,
    on_pick,
    picked_year,
    proposal_button,
    year_choices,
)
from handlers.messages import Choice
from handlers.paging import Fetched
from handlers.staff_common import TO_MENU
from storage.models import Proposal
from workflow.core import Ctx
from workflow.roles import Role

Item = TypeVar("Item")

EVERY_YEAR = "open"  # the value of the button to the view of every year (year None)


@dataclass(frozen=True)
class YearList(Generic[Item]):
    """What one year-by-year list reads and says. The texts are functions of the turn so
    each module keeps its own message ids."""

    years: Callable[[Ctx], list[int]]  # the reader's years, newest first; refuses others
    this_year: Callable[[Ctx], int | None]  # the year the list opens on
    count: Callable[[Ctx, int | None], int]
    page: Callable[[Ctx, int | None, int, int], Sequence[Item]]  # (year, offset, limit)
    proposal: Callable[[Item], Proposal]  # the proposal a line's button opens
    line: Callable[[Turn, int, Item], str]  # one numbered line of the list
    authorize: Callable[[Ctx, int], Any]  # refuses opening a proposal not in the list
    none: Callable[[Turn], str]  # said (then the menu) when the reader has no year at all
    empty: Callable[[Turn, int | None], str]  # a year (or every year's view) holding none
    head: Callable[[Turn, int | None, int], str]  # the first line: the view and how many
    every_year: str | None = None  # the label (message id) of the view of every year

    # ------------------------------------------------------------- the list

    def view(self, turn: Turn) -> int | None:
        """The year shown (None: the view of every year)."""
        view = turn.data.get("view")
        if view == EVERY_YEAR and self.every_year is not None:
            return None
        return view if isinstance(view, int) else self.this_year(turn.ctx)

    def views(self, turn: Turn, shown: int | None, years: list[int]) -> list[Choice]:
        """Buttons to the other years, to the view of every year, and back to the menu."""
        buttons = year_choices(turn, years, shown)
        if shown is not None and self.every_year is not None:
            buttons.append(turn.choice(turn.t(self.every_year), EVERY_YEAR))
        buttons.append(turn.choice(turn.t(TO_MENU), "menu"))
        return buttons

    def ask_list(self, turn: Turn) -> None:
        """Lists the reader's proposals of the year shown, a page at a time."""
        ctx = turn.ctx
        years = self.years(ctx)  # the workflow refuses whoever may not read the list
        if not years:
            turn.say(self.none(turn), expects="none")
            turn.start("menu")
            return
        year = self.view(turn)
        items: Fetched[Item] = Fetched(
            lambda: self.count(ctx, year),
            lambda offset, limit: self.page(ctx, year, offset, limit),
        )
        views = self.views(turn, year, years)
        if not items:
            turn.say(self.empty(turn, year) + "\n" + turn.t("可以查看其他年度的："), views)
            return
        shown = LIST_PAGER.page(turn, items)
        lines = [
            self.head(turn, year, shown.total),
            *(self.line(turn, i, item) for i, item in enumerate(shown.rows, shown.first)),
            *shown.position(turn),
            turn.t("点选一件查看完整记录："),
        ]
        proposals = [self.proposal(item) for item in shown.rows]
        turn.say(
            "\n".join(lines),
            [
                *(turn.choice(proposal_button(turn, p), f"p:{p.id}") for p in proposals),
                *shown.buttons(turn),
                *views,
            ],
        )

    def on_list(self, turn: Turn, value: str) -> str | None:
        """Opens a proposal, turns the page or shows another year (or every year's view)."""
        if value == "menu":
            return "menu"
        year = picked_year(value)
        every = value == EVERY_YEAR and self.every_year is not None
        if every or year is not None:
            turn.data["view"] = EVERY_YEAR if every else year
            turn.data[LIST_PAGER.key] = 0
            return "page"
        return on_pick(turn, value)

    # ------------------------------------------------------------- one proposal

    def show_record(self, turn: Turn) -> None:
        """Shows the chosen proposal's whole record, as 查询提案 does."""
        self.authorize(turn.ctx, turn.data.get("pid") or 0)  # refused if not in the list
        shown = chosen_record(turn, "list")
        if shown is None:
            return
        _proposal, text = shown
        turn.say(
            text,
            [turn.choice(turn.t("返回列表"), "back"), turn.choice(turn.t(TO_MENU), "menu")],
            columns=2,
        )

    def on_record(self, turn: Turn, value: str) -> str:
        return "menu" if value == "menu" else "back"

    def flow(self, name: str, roles: frozenset[Role]) -> Flow:
        return Flow(
            name=name,
            start="list",
            roles=roles,
            steps={
                "list": Step(
                    prompt=self.ask_list, choice=self.on_list, hint=N_("请点选一件提案。")
                ),
                "show": Step(
                    prompt=self.show_record,
                    choice=self.on_record,
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
