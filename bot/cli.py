"""The ``proposalbot`` command: init, import, people, invite, list, show, export, stats,
notices, sweep, chat, run, calendar, demo.

A mistake a person can make (a wrong file, an unknown name, a database that is not set up)
ends with a one-line message and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
import logging
import sys
from datetime import timedelta
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlmodel import select

from bot.app import App, build_app
from storage.models import ChannelAccount, Notice, Person, Proposal, Unit, pk
from workflow import invites, people, queries, roster
from workflow.core import fmt_date, fmt_time
from workflow.errors import WorkflowError
from workflow.numbering import parse_number, proposal_number
from workflow.record import render_record
from workflow.roles import format_roles
from workflow.statuses import proposal_label

cli = typer.Typer(
    help="提案通 proposal-bot: 政协提案工作的聊天机器人。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
import_cli = typer.Typer(help="导入名册（CSV 或 XLSX）。", no_args_is_help=True)
cli.add_typer(import_cli, name="import")
people_cli = typer.Typer(help="名册中的人员：列出、停用、恢复启用。", no_args_is_help=True)
cli.add_typer(people_cli, name="people")

# Markup off: titles, names and file names are what people wrote, and "[/b]" in a title must
# print as written (rich would fail on it); the few styled lines say markup=True and escape.
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def fail(message: str, code: int = 1) -> None:
    err.print(f"[red]错误：[/red]{escape(message)}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


def friendly(fn):
    """Turn every error a user can cause into one line and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except roster.RosterError as exc:
            first, *rows = exc.lines()  # each bad row once, under a heading
            err.print(f"[red]错误：[/red]{escape(first)}", markup=True, soft_wrap=True)
            for line in rows:
                err.print(f"  {line}", markup=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except WorkflowError as exc:
            fail(exc.message)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]).upper()
            # A check of several settings together names none: say which it concerns.
            name = f"PROPOSALBOT_{where}" if where else "设置之间"
            fail(f"配置有误：{name}：{first['msg']}")
        except UnicodeDecodeError:
            fail("无法读取 .env 文件：请以 UTF-8 编码保存。")
        except (OperationalError, ProgrammingError) as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            fail(
                f"无法访问数据库（{reason}）。请检查 PROPOSALBOT_DATABASE_URL，或运行 proposalbot init。"
            )
        except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            fail(f"无法读取文件：{exc.filename}")

    return wrapper


def app_ready() -> App:
    app = build_app()
    app.require_schema()
    return app


@cli.command()
@friendly
def init() -> None:
    """创建或升级数据库结构（Alembic 迁移到最新版本）。"""
    app = build_app()
    revision = app.init_schema()
    url = app.db.engine.url.render_as_string(hide_password=True)
    out.print(f"数据库已就绪：{url}（版本 {revision}）")


@import_cli.command("people")
@friendly
def import_people(
    file: Path = typer.Argument(..., help="人员名册 CSV 或 XLSX"),
    deactivate_missing: bool = typer.Option(
        False, "--deactivate-missing", help="同时停用名册中有、但这份文件里没有的人"
    ),
) -> None:
    """导入人员：姓名、手机号、角色、单位、界别、职务。按手机号更新，不会重复。

    名册中有、但文件里没有的人只列出，不会停用；加 --deactivate-missing 才一并停用。
    文件里有、但已停用的人不会因导入而恢复启用（用 proposalbot people reactivate）。
    """
    app = app_ready()
    with app.db.session() as session:
        report = roster.import_people(session, file, now=app.workflow.clock())
        done: list[people.Deactivation] = []
        if deactivate_missing and report.missing:
            try:
                done = people.deactivate_missing(app.workflow.ctx(session, None), report)
            except WorkflowError as exc:
                raise WorkflowError(f"{exc.message}未导入任何数据。") from None
    print_report("人员名册已导入：", report)
    if done:
        out.print(f"已停用名册中有、但文件里没有的 {len(done)} 人：")
        for item in done:
            out.print(f"  {item.name}：{deactivation_summary(item)}")
    elif report.missing:
        out.print(
            f"名册中有 {len(report.missing)} 人不在这份文件里，仍为在用"
            "（加 --deactivate-missing 可在导入时一并停用，或用 proposalbot people deactivate）："
        )
        for missing in report.missing:
            out.print(f"  {missing}")


@import_cli.command("units")
@friendly
def import_units(file: Path = typer.Argument(..., help="单位名册 CSV 或 XLSX")) -> None:
    """导入单位：名称、简称、类型（承办单位/督办单位）。按名称更新，不会重复。"""
    app = app_ready()
    with app.db.session() as session:
        report = roster.import_units(session, file, now=app.workflow.clock())
    print_report("单位名册已导入：", report)


def print_report(title: str, report: roster.ImportReport) -> None:
    """The counts, then what the import changed in each one kept already, a row a line."""
    summary, *changes = report.lines()
    out.print(title + summary, markup=False)
    for line in changes:
        out.print(f"  {line}", markup=False)


def deactivation_summary(done: people.Deactivation) -> str:
    """What deactivating one person changed, on one line."""
    said = [f"取消待发通知 {done.notices_cancelled} 条", f"作废邀请码 {done.codes_revoked} 个"]
    for unit in done.units_left:
        open_ = (
            f"，办理中的提案 {unit.open_assignments} 件无人办理" if unit.open_assignments else ""
        )
        said.append(f"{unit.name}已没有在用的承办人{open_}（已通知提案委）")
    return "；".join(said)


def described(session, person: Person) -> str:
    """A person as the people commands name them: #12 林晓（13800000001，委员，区教育局）."""
    unit = session.get(Unit, person.unit_id) if person.unit_id else None
    parts = [person.phone, format_roles(person.roles), *([unit.name] if unit else [])]
    return f"#{person.id} {person.name}（{'，'.join(parts)}）"


def confirmed(question: str, yes: bool) -> bool:
    """Whether to go on: ``--yes``, or the operator answers yes (no answer is a no)."""
    if yes:
        return True
    try:
        return typer.confirm(question, default=False)
    except typer.Abort:
        return False


WHO_HELP = "编号（如 12 或 #12）、手机号，或名册中唯一的姓名"


@people_cli.command("list")
@friendly
def people_list(
    inactive: bool = typer.Option(False, "--inactive", help="列出已停用的人，而不是在用的"),
) -> None:
    """列出名册中在用的人员（或已停用的），及其绑定的聊天账号。"""
    from workflow.reach import CHANNEL_LABELS

    app = app_ready()
    with app.db.read_session() as session:
        rows = people.listed(session, inactive=inactive)
        units = queries.names_of(session, Unit, {p.unit_id for p in rows if p.unit_id})
        accounts: dict[int, list[str]] = {}
        for person_id, channel in session.exec(
            select(ChannelAccount.person_id, ChannelAccount.channel).order_by(
                ChannelAccount.channel
            )
        ):
            accounts.setdefault(person_id, []).append(str(CHANNEL_LABELS.get(channel, channel)))
    title = "已停用的人员" if inactive else "在用的人员"
    table = Table(title=f"{title}（{len(rows)} 人）")
    for column in ("编号", "姓名", "手机号", "角色", "单位", "聊天账号"):
        table.add_column(column, overflow="fold")
    for p in rows:
        table.add_row(
            str(p.id),
            p.name,
            p.phone,
            format_roles(p.roles),
            units.get(p.unit_id, ""),
            "、".join(accounts.get(pk(p), [])) or "未绑定",
        )
    out.print(table)


@people_cli.command("deactivate")
@friendly
def people_deactivate(
    who: str = typer.Argument(..., metavar="WHO", help=WHO_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="不再询问，直接停用"),
) -> None:
    """停用一个人（离任的委员、调走的承办人、退休的工作人员）。

    停用后不再收到通知，未用的邀请码作废，发消息只会得到“账号已停用”的答复；
    提案、答复等记录和草稿都保留，恢复启用后草稿还在。
    """
    app = app_ready()
    with app.db.trial_session() as session:  # what it would do, or its refusal, first
        person = queries.find_person(session, who)
        person_id, name = pk(person), described(session, person)
        preview = people.deactivate(app.workflow.ctx(session, None), person_id)
    if not yes:
        out.print(f"将停用 {name}：{deactivation_summary(preview)}。")
    if not confirmed("确定停用吗？", yes):
        fail("已放弃，没有做任何更改。")
    with app.db.session() as session:
        done = people.deactivate(app.workflow.ctx(session, None), person_id)
    out.print(f"已停用 {name}：{deactivation_summary(done)}。")


@people_cli.command("reactivate")
@friendly
def people_reactivate(
    who: str = typer.Argument(..., metavar="WHO", help=WHO_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="不再询问，直接恢复启用"),
) -> None:
    """恢复启用一个已停用的人；已绑定的聊天账号可以直接继续使用，草稿都还在。"""
    app = app_ready()
    with app.db.trial_session() as session:
        person = queries.find_person(session, who)
        person_id, name = pk(person), described(session, person)
        people.reactivate(app.workflow.ctx(session, None), person_id)
    if not confirmed(f"确定恢复启用 {name} 吗？", yes):
        fail("已放弃，没有做任何更改。")
    with app.db.session() as session:
        people.reactivate(app.workflow.ctx(session, None), person_id)
        bound = session.exec(
            select(ChannelAccount.id).where(ChannelAccount.person_id == person_id)
        ).first()
    out.print(f"已恢复启用 {name}。")
    if bound is None:
        out.print("此人还没有绑定聊天账号：可用 proposalbot invite 为其发放邀请码。")
    else:
        out.print("此人已绑定的聊天账号可以直接继续使用。")


@cli.command()
@friendly
def invite(who: str = typer.Argument(..., metavar="NAME_OR_PHONE", help="姓名或手机号")) -> None:
    """为名册中的一个人发放一次性邀请码（用于绑定聊天账号）。"""
    app = app_ready()
    with app.db.session() as session:
        person = queries.find_person(session, who)
        ctx = app.workflow.ctx(session, None)
        code = invites.issue_invite(ctx, pk(person))
        ttl = timedelta(hours=app.settings.invite_ttl_hours)
        name, expires = person.name, fmt_time(ctx, ctx.now + ttl)
    out.print(
        f"{escape(name)} 的邀请码：[bold]{code}[/bold]（{expires} 前有效，只能使用一次）",
        markup=True,
    )
    link = app.settings.deep_link(code)
    if link:
        out.print(f"Telegram 链接：{link}")
    else:
        out.print("设置 PROPOSALBOT_TELEGRAM_BOT_USERNAME 后，这里会给出 Telegram 一键绑定链接。")


@cli.command("list")
@friendly
def list_(
    status: str | None = typer.Option(None, help="状态，如 filed 或 已立案"),
    unit: str | None = typer.Option(None, help="承办单位名称或简称"),
    year: int | None = typer.Option(None, min=2000, max=9999, help="年度"),
    overdue: bool = typer.Option(False, "--overdue", help="只列出超期未答复的"),
    limit: int = typer.Option(200, min=1, max=10000, help="最多列出多少件"),
) -> None:
    """列出提案（不含草稿）。"""
    app = app_ready()
    with app.db.read_session() as session:
        ctx = app.workflow.ctx(session, None)
        flt = queries.ProposalFilter(
            status=queries.parse_status(status) if status else None,
            unit_id=queries.find_unit(session, unit).id if unit else None,
            year=year,
            overdue=overdue,
        )
        rows = queries.list_proposals(session, flt=flt, today=ctx.today, limit=limit)
        leads = queries.lead_units(session, proposal_ids=[pk(p) for p in rows])
        # The names of the people and units shown, not of the whole roster.
        people = queries.names_of(session, Person, {p.proposer_id for p in rows})
        units = queries.names_of(session, Unit, set(leads.values()))
    table = Table(title=f"提案（{len(rows)} 件）", show_lines=False)
    for column in ("编号", "标题", "提案人", "状态", "主办单位", "答复期限"):
        table.add_column(column, overflow="fold")
    for p in rows:
        table.add_row(
            proposal_number(p.year, p.number) if p.number else f"{p.year}年度 #{p.id}",
            p.title,
            people.get(p.proposer_id, ""),
            proposal_label(p.status),
            units.get(leads.get(pk(p)), ""),
            fmt_date(p.due_date),
        )
    out.print(table)


@cli.command()
@friendly
def show(
    number: str = typer.Argument(
        ..., metavar="N", help="提案编号：28（今年的），或连同年度 2026-28；或 #内部号"
    ),
    year: int | None = typer.Option(
        None, min=2000, max=9999, help="年度（编号不带年度时），默认最近立案的一年"
    ),
) -> None:
    """显示一件提案的完整记录（提案、交办、答复、评价）及办理过程。"""
    app = app_ready()
    with app.db.read_session() as session:
        proposal = _find_proposal(session, number, year)
        ctx = app.workflow.ctx(session, None)
        page = render_record(ctx, proposal, timeline=True)
    out.print(page, markup=False)


def _find_proposal(session, number: str, year: int | None) -> Proposal:
    text = number.strip()
    internal = text.removeprefix("#")
    if text.startswith("#") and internal.isascii() and internal.isdigit() and len(internal) <= 9:
        proposal = session.get(Proposal, int(internal))
        if proposal is None or proposal.status == "draft":
            raise WorkflowError(f"没有内部号为 {internal} 的提案。")
        return proposal
    if parse_number(text) is None:
        raise WorkflowError(
            f"「{number}」不是提案编号，例如：proposalbot show 28，或 proposalbot show 2026-28"
        )
    return queries.find_by_number(session, text, year=year)


def _year_or_latest(session, year: int | None) -> int:
    """The year asked for, or the latest year with proposals."""
    year = year or queries.latest_year(session)
    if year is None:
        raise WorkflowError("还没有任何提案。")
    return year


@cli.command()
@friendly
def export(
    year: int | None = typer.Option(
        None, min=2000, max=9999, help="年度（默认为最近有提案的年度）"
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="保存到这个文件"),
) -> None:
    """导出某一年度的提案台账（Excel）。"""
    from workflow.export import ledger

    app = app_ready()
    with app.db.read_session() as session:
        year = _year_or_latest(session, year)
        data, count = ledger(app.workflow.ctx(session, None), year)
    target = output or Path(f"提案台账-{year}.xlsx")
    if target.is_dir():
        raise WorkflowError(f"{target} 是一个目录，请给出文件名。")
    if target.suffix.lower() != ".xlsx":  # a .csv or .xls name would not open as one
        raise WorkflowError(f"{target}：台账是 Excel 文件，文件名须以 .xlsx 结尾。")
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise WorkflowError(f"无法写入文件 {target}：{exc.strerror or exc}") from None
    out.print(f"已导出 {year} 年度提案台账（{count} 件）：{target}")


@cli.command()
@friendly
def stats(
    year: int | None = typer.Option(
        None, min=2000, max=9999, help="年度（默认为最近有提案的年度）"
    ),
) -> None:
    """年度提案工作统计：收到、立案、交办、按期答复、答复类别、满意率，及各承办单位。"""
    from workflow.statistics import render_statistics, year_statistics

    app = app_ready()
    with app.db.read_session() as session:
        figures = year_statistics(app.workflow.ctx(session, None), _year_or_latest(session, year))
    out.print(render_statistics(figures))


NOTICE_STATES = {
    "pending": "待发送",
    "parked": "待绑定账号",
    "sending": "发送中",
    "sent": "已发送",
    "failed": "失败",
    "cancelled": "已取消",
}


@cli.command()
@friendly
def notices(
    state: str | None = typer.Option(
        None, help="pending、parked、sending、sent、failed 或 cancelled"
    ),
    person: str | None = typer.Option(None, help="收件人姓名或手机号"),
    kind: str | None = typer.Option(None, help="通知类型，如 assigned"),
    limit: int = typer.Option(50, min=1, max=10000, help="最多列出多少条（最新的在前）"),
) -> None:
    """查看通知发件箱：待发送、已发送、失败的通知。"""
    from sqlalchemy import func

    app = app_ready()
    if state is not None and state not in NOTICE_STATES:
        raise WorkflowError(f"没有「{state}」这种状态，可用：{'、'.join(NOTICE_STATES)}。")
    with app.db.read_session() as session:
        stmt = select(Notice)
        if state:
            stmt = stmt.where(Notice.state == state)
        if kind:
            stmt = stmt.where(Notice.kind == kind)
        if person:
            stmt = stmt.where(Notice.person_id == queries.find_person(session, person).id)
        rows = session.exec(stmt.order_by(Notice.id.desc()).limit(limit)).all()  # type: ignore[union-attr]
        counts = dict(
            session.exec(select(Notice.state, func.count()).group_by(Notice.state)).all()
        )
        names = {p.id: p.name for p in session.exec(select(Person))}
        ctx = app.workflow.ctx(session, None)
        table = Table(title=f"通知（{len(rows)} 条）")
        for column in ("编号", "写入时间", "收件人", "类型", "状态", "次数", "发送时间", "内容"):
            table.add_column(column, overflow="fold")
        for n in rows:
            text = " ".join(n.text.split())
            state_text = NOTICE_STATES.get(n.state, n.state)
            if n.last_error and n.state != "sent":
                state_text += f"\n{n.last_error[:60]}"
            table.add_row(
                str(n.id),
                fmt_time(ctx, n.created_at),
                names.get(n.person_id, str(n.person_id)),
                n.kind,
                state_text,
                str(n.attempts),
                fmt_time(ctx, n.sent_at) if n.sent_at else "",
                text if len(text) <= 60 else text[:59] + "…",
            )
    out.print(table)
    summary = "，".join(f"{label} {counts.get(key, 0)}" for key, label in NOTICE_STATES.items())
    out.print(f"合计：{summary}")


@cli.command()
@friendly
def sweep(
    dry_run: bool = typer.Option(False, "--dry-run", help="只显示会发出哪些通知，不做任何更改"),
    at: str | None = typer.Option(
        None, help="假定的时间（当地时间，如 2026-10-09T09:00），只能与 --dry-run 一起用"
    ),
) -> None:
    """立即运行一轮定时检查（到期提醒、超期督办、评价提醒、每日摘要……）。"""
    from datetime import datetime

    from bot.scheduler import preview, run_round
    from workflow import sweeps

    app = app_ready()
    rules = app.workflow.rules
    if at is not None and not dry_run:
        raise WorkflowError("--at 只能与 --dry-run 一起使用，真实运行总是按当前时间。")
    if at is not None:
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            raise WorkflowError(f"「{at}」不是时间，例如 2026-10-09T09:00。") from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=rules.tz)
    else:
        moment = app.workflow.clock()
    if dry_run:
        planned = preview(app, moment)
        local = moment.astimezone(rules.tz)
        table = Table(title=f"{local:%Y-%m-%d %H:%M} 会发出的通知（{len(planned)} 条，未保存）")
        for column in ("检查项", "收件人", "类型", "内容"):
            table.add_column(column, overflow="fold")
        for p in planned:
            table.add_row(p.sweep, p.person, p.kind, " ".join(p.text.split()))
        out.print(table)
        return
    written = run_round(app, list(sweeps.SWEEPS))
    if not written:
        out.print("另一个进程正在运行这一轮检查，本次跳过。")
        return
    out.print("已运行：" + "，".join(f"{name} {count} 条" for name, count in written.items()))


@cli.command()
@friendly
def chat(
    who: str = typer.Option(..., "--as", metavar="NAME_OR_PHONE", help="以名册中这个人的身份对话"),
) -> None:
    """在终端里以名册中某人的身份与机器人对话（选项显示为编号）。"""
    from bot.console import ConsoleChat

    app = app_ready()
    with app.db.read_session() as session:
        person = queries.find_person(session, who)
    ConsoleChat(app, app.engine, person, out).run(lambda: input("> "))


@cli.command()
@friendly
def run(
    webhook_url: str | None = typer.Option(
        None, help="以 webhook 方式接收消息：Telegram 推送到这个 https 地址"
    ),
    listen: str = typer.Option("127.0.0.1", help="webhook 监听地址"),
    port: int = typer.Option(8443, min=1, max=65535, help="webhook 监听端口"),
    url_path: str = typer.Option("", help="webhook 的路径（与反向代理一致）"),
    secret_token: str | None = typer.Option(
        None,
        help="webhook 密钥，Telegram 每次推送都带上并被核对"
        "（默认取 PROPOSALBOT_TELEGRAM_WEBHOOK_SECRET，未设置则随机生成）",
    ),
    channel: str | None = typer.Option(
        None, help="telegram 或 wechat（默认取 PROPOSALBOT_CHANNEL，未设置为 telegram）"
    ),
) -> None:
    """运行机器人：Telegram（长轮询，或 --webhook-url 时用 webhook）或微信，与通知推送。"""
    from bot.run import Webhook, limit_malloc_arenas
    from bot.run import run as run_bot

    limit_malloc_arenas()  # before the worker threads start
    app = app_ready()
    settings = app.settings
    chosen = (channel or settings.channel).strip().lower()
    if chosen not in ("telegram", "wechat"):
        fail(f"没有 {chosen} 这个渠道：--channel 只能是 telegram 或 wechat。")
    if chosen == "wechat":
        run_wechat(app, webhook_url)
        return
    if settings.telegram_token is None:
        fail(
            "没有设置 PROPOSALBOT_TELEGRAM_TOKEN（向 Telegram 的 @BotFather 申请机器人令牌后，"
            "写入环境变量或 .env 文件）。不用账号也可以试用：proposalbot chat --as 姓名，"
            "或 proposalbot demo。"
        )
    webhook = None
    if webhook_url is not None:
        if not webhook_url.startswith("https://") and not webhook_url.startswith("http://127."):
            fail("webhook 地址必须以 https:// 开头（Telegram 只向 https 推送）。")
        secret = secret_token or (
            settings.telegram_webhook_secret.get_secret_value()
            if settings.telegram_webhook_secret
            else ""
        )
        if secret and not all(c.isalnum() or c in "_-" for c in secret) or len(secret) > 256:
            fail("webhook 密钥只能由 1–256 个字母、数字、_ 和 - 组成。")
        webhook = Webhook(webhook_url, listen, port, secret, url_path)
    mode = f"webhook {webhook_url}" if webhook else "长轮询"
    out.print(f"提案通正在启动（Telegram，{mode}）。按 Ctrl-C 停止。")
    from telegram.error import InvalidToken, NetworkError

    try:
        run_bot(app, webhook)
    except InvalidToken:  # its message holds the token: never printed
        fail("Telegram 拒绝了机器人令牌。请向 @BotFather 核对 PROPOSALBOT_TELEGRAM_TOKEN。")
    except NetworkError as exc:
        fail(
            f"无法连接 Telegram（{type(exc).__name__}）。请检查网络，"
            "或 PROPOSALBOT_TELEGRAM_API_URL 所指的 Bot API 服务器。"
        )


def run_wechat(app: App, webhook_url: str | None) -> None:
    """``proposalbot run`` on WeChat, through the Wechaty puppet service the settings name."""
    from bot.run import run as run_bot

    try:
        from bot.wechat.serve import PUPPET_SERVICE
    except ImportError:  # the channel's packages (Wechaty and what it needs) are an extra
        fail(
            '微信渠道的软件包（Wechaty）没有安装：pip install "proposal-bot[wechat]"'
            '（从源码安装：pip install ".[wechat]"）。'
        )

    settings = app.settings
    if webhook_url is not None:
        fail("--webhook-url 只用于 Telegram；微信经 Wechaty 服务收发消息。")
    if settings.wechaty_puppet != PUPPET_SERVICE:
        fail(
            f"PROPOSALBOT_WECHATY_PUPPET 只能是 {PUPPET_SERVICE}：微信协议的 puppet"
            "（如 wechaty-puppet-padlocal）在 Wechaty 服务中运行，机器人通过服务令牌连接它。"
        )
    if settings.wechaty_puppet_service_token is None:
        fail(
            "没有设置 PROPOSALBOT_WECHATY_PUPPET_SERVICE_TOKEN（Wechaty puppet 服务的令牌，"
            "写入环境变量或 .env 文件；见 README 的 Running on WeChat）。不用账号也可以试用："
            "proposalbot chat --as 姓名，或 proposalbot demo。"
        )
    out.print("提案通正在启动（微信，Wechaty puppet 服务）。按 Ctrl-C 停止。")
    run_bot(app, channel="wechat")


WEEKDAYS = "一二三四五六日"


@cli.command()
@friendly
def calendar(
    year: int = typer.Argument(
        None, min=1900, max=9999, help="年份（默认今年）", show_default=False
    ),
) -> None:
    """列出一年中工作日以外的安排：周一至周五的假日、周末的调休上班日，及其来源。"""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.settings import Settings

    settings = Settings()
    cal = settings.work_calendar()
    year = year or datetime.now(ZoneInfo(settings.timezone)).year
    sources = []
    if cal.lists(year) and cal.covers(year):  # else the file's days are said below
        sources.append(f"节假日文件 {settings.holidays_file}")
    if cal.package_covers(year):
        sources.append("chinesecalendar")
    if not sources:  # said below, once, in words; not also as the calendar's log warning
        logging.getLogger("workflow.calendar").setLevel(logging.ERROR)
    off, worked = cal.exceptions(year)

    def days(items) -> str:
        return "、".join(f"{d:%m-%d}（周{WEEKDAYS[d.weekday()]}）" for d in items) or "无"

    out.print(f"{year} 年共 {cal.workdays_in(year)} 个工作日。")
    out.print(f"周一至周五放假（{len(off)} 天）：{days(off)}")
    out.print(f"周末调休上班（{len(worked)} 天）：{days(worked)}")
    if sources:
        out.print(f"依据：{'、'.join(sources)}。")
    elif cal.lists(year):
        listed = sum(1 for day in cal.days if day.year == year)
        err.print(
            f"[yellow]注意：[/yellow]节假日文件 {settings.holidays_file} 列了 {year} 年的 "
            f"{listed} 天，但未标明全年已列全：{year} 年的法定节假日（春节、国庆节等）尚不知道，"
            "文件所列以外的日子暂按周一至周五计算工作日。请照国务院办公厅当年的通知写全放假和"
            f"调休日，再加一行「{year} 全年」（见 README）。",
            markup=True,
            soft_wrap=True,
        )
    else:
        err.print(
            f"[yellow]注意：[/yellow]尚无 {year} 年的节假日安排，暂按周一至周五计算工作日。"
            "请升级 chinesecalendar，或把当年的放假和调休日写入 PROPOSALBOT_HOLIDAYS_FILE "
            f"所指的文件，再加一行「{year} 全年」（见 README）。",
            markup=True,
            soft_wrap=True,
        )


@cli.command()
@friendly
def demo() -> None:
    """在当前数据库中建立示例名册，并让一件示例提案走完全过程。"""
    from bot.demo import run_demo

    app = build_app()
    app.init_schema()
    run_demo(app, out)


def main() -> None:  # pragma: no cover - console script entry
    try:
        cli()
    except KeyboardInterrupt:
        err.print("已取消。")
        sys.exit(130)
