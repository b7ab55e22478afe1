"""Staff export the year's proposal ledger (提案台账) as an Excel file, sent into the chat."""

from __future__ import annotations

from handlers.engine import Engine, Flow, Step, Turn
from handlers.i18n import N_
from handlers.messages import FileOut
from workflow import export
from workflow.roles import Role

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BACK = "back"


def ask_year(turn: Turn) -> None:
    years = export.years(turn.ctx)[:6]
    if not years:
        turn.say(
            turn.t("还没有可以导出的提案（草稿不导出）。"), [turn.choice(turn.t("↩️ 返回"), BACK)]
        )
        return
    turn.say(
        turn.t("导出哪一年度的提案台账？"),
        [turn.choice(turn.t("{year}年度", year=year), str(year)) for year in years]
        + [turn.choice(turn.t("↩️ 返回"), BACK)],
        columns=3,
    )


def on_year(turn: Turn, value: str) -> str:
    if value == BACK:
        return "back"
    year = int(value)
    data, count = export.ledger(turn.ctx, year, turn.gettext, turn.locale)
    name = turn.t("提案台账-{year}.xlsx", year=year)
    turn.send_file(
        FileOut(name=name, data=data, mime=XLSX),
        turn.t("{year}年度提案台账，共 {count} 件（不含草稿）。", year=year, count=count),
    )
    return "sent"


EXPORT_FLOW = Flow(
    name="export",
    start="year",
    roles=frozenset({Role.STAFF}),
    steps={"year": Step(prompt=ask_year, choice=on_year, hint=N_("请点选要导出的年度。"))},
    edges={("year", "sent"): "END", ("year", "back"): "END"},
)


def install(engine: Engine) -> None:
    engine.add_flow(EXPORT_FLOW)
