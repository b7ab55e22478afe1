"""Staff's views of a whole year: the proposal ledger (提案台账) as an Excel file sent into
the chat, and the year's statistics (年度提案工作统计) as a message."""

from __future__ import annotations

from handlers.engine import Engine, Flow, Step, Turn
from handlers.i18n import N_
from handlers.messages import FileOut
from workflow import export
from workflow.core import Ctx
from workflow.roles import Role
from workflow.statistics import render_statistics, require_staff, year_statistics

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BACK = "back"


def _ask_year(turn: Turn, question: str, none: str) -> None:
    years = export.years(turn.ctx)[:6]
    if not years:
        turn.say(none, [turn.choice(turn.t("↩️ 返回"), BACK)])
        return
    turn.say(
        question,
        [turn.choice(turn.t("{year}年度", year=year), str(year)) for year in years]
        + [turn.choice(turn.t("↩️ 返回"), BACK)],
        columns=3,
    )


def ask_year(turn: Turn) -> None:
    _ask_year(
        turn, turn.t("导出哪一年度的提案台账？"), turn.t("还没有可以导出的提案（草稿不导出）。")
    )


def on_year(turn: Turn, value: str) -> str:
    if value == BACK:
        return "back"
    year = int(value)
    export.require_staff(turn.ctx)  # refused here, the conversation stays at the question

    def read(ctx: Ctx) -> tuple[FileOut, str]:  # after the tap commits, as the statistics
        data, count = export.ledger(ctx, year, turn.gettext, turn.locale)
        name = turn.t("提案台账-{year}.xlsx", year=year)
        caption = turn.t("{year}年度提案台账，共 {count} 件（不含草稿）。", year=year, count=count)
        return FileOut(name=name, data=data, mime=XLSX), caption

    turn.send_file_read(read)
    return "sent"


def ask_stats_year(turn: Turn) -> None:
    _ask_year(turn, turn.t("查看哪一年度的提案工作统计？"), turn.t("还没有提交的提案，暂无统计。"))


def on_stats_year(turn: Turn, value: str) -> str:
    if value == BACK:
        return "back"
    year = int(value)
    require_staff(turn.ctx)  # refused here, the conversation stays at the question
    # Read after the tap commits, not holding up others' updates (a year may be 6,000
    # proposals); still the staff's own context, checked again by year_statistics.
    turn.say_read(
        lambda ctx: render_statistics(year_statistics(ctx, year), turn.gettext, turn.locale)
    )
    return "shown"


EXPORT_FLOW = Flow(
    name="export",
    start="year",
    roles=frozenset({Role.STAFF}),
    steps={"year": Step(prompt=ask_year, choice=on_year, hint=N_("请点选要导出的年度。"))},
    edges={("year", "sent"): "END", ("year", "back"): "END"},
)


STATS_FLOW = Flow(
    name="stats",
    start="year",
    roles=frozenset({Role.STAFF}),
    steps={
        "year": Step(prompt=ask_stats_year, choice=on_stats_year, hint=N_("请点选要统计的年度。"))
    },
    edges={("year", "shown"): "END", ("year", "back"): "END"},
)


def install(engine: Engine) -> None:
    engine.add_flow(EXPORT_FLOW)
    engine.add_flow(STATS_FLOW)
