"""The proposalbot command line, as an operator uses it."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import date

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from bot.cli import cli
from storage.models import ChannelAccount, Notice, Person
from tests.factories import Story
from workflow import assignments, invites
from workflow.reach import park_and_release


@pytest.fixture
def run(db, monkeypatch, tmp_path):
    """Run a proposalbot command against the test database; returns the result."""
    monkeypatch.setenv("PROPOSALBOT_DATABASE_URL", db.url)
    monkeypatch.delenv("PROPOSALBOT_TELEGRAM_BOT_USERNAME", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    monkeypatch.setenv("COLUMNS", "250")  # tables do not wrap titles
    runner = CliRunner()

    def invoke(*args, env=None):
        return runner.invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


def assert_one_line_error(result, text):
    assert result.exit_code == 1
    assert text in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_init_creates_the_schema_on_an_empty_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'fresh' / 'bot.db'}"
    runner = CliRunner()
    env = {"PROPOSALBOT_DATABASE_URL": url}
    before = runner.invoke(cli, ["list"], env=env)
    assert_one_line_error(before, "数据库尚未初始化")
    assert "请先运行 proposalbot init" in before.output
    assert not (tmp_path / "fresh").exists()  # init makes the folder, not list
    first = runner.invoke(cli, ["init"], env=env)
    assert first.exit_code == 0 and "数据库已就绪" in first.output
    again = runner.invoke(cli, ["init"], env=env)
    assert again.exit_code == 0
    assert runner.invoke(cli, ["list"], env=env).exit_code == 0


BEFORE_INIT = (
    ["list"],
    ["show", "1"],
    ["invite", "林晓"],
    ["export"],
    ["notices"],
    ["sweep"],
    ["sweep", "--dry-run"],
    ["chat", "--as", "林晓"],
    ["run"],
    ["import", "people", "people.csv"],
    ["import", "units", "units.csv"],
)


def test_a_command_before_init_says_so_and_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    """Every command but init and demo needs the database made by init: on a fresh folder
    it says to run init, and makes no data/ folder, no empty database file, no -wal or -shm."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROPOSALBOT_DATABASE_URL", raising=False)  # the default: data/…
    (tmp_path / "people.csv").write_text("姓名,手机号,角色\n林晓,13800000001,委员\n", "utf-8")
    (tmp_path / "units.csv").write_text("名称,简称,类型\n区教育局,教育局,承办单位\n", "utf-8")
    runner = CliRunner()
    env = {"PROPOSALBOT_TELEGRAM_TOKEN": "123456:some-token"}
    for command in BEFORE_INIT:
        result = runner.invoke(cli, command, env=env)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["people.csv", "units.csv"], command
        assert_one_line_error(
            result, "数据库尚未初始化（data/proposalbot.db 不存在），请先运行 proposalbot init。"
        )

    # An empty file, as an earlier version left behind, is a database before its first
    # migration: said so, and left as it is.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "proposalbot.db").touch()
    for command in BEFORE_INIT:
        result = runner.invoke(cli, command, env=env)
        assert [(p.name, p.stat().st_size) for p in (tmp_path / "data").iterdir()] == [
            ("proposalbot.db", 0)
        ], command
        assert_one_line_error(result, "数据库尚未初始化（data/proposalbot.db 是空的）")

    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert runner.invoke(cli, ["import", "units", "units.csv"]).exit_code == 0


def test_default_database_is_a_file_under_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROPOSALBOT_DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli, ["init"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "proposalbot.db").exists()


def test_import_units_then_people_then_invite(run, db, tmp_path):
    (tmp_path / "units.csv").write_text("名称,简称,类型\n区教育局,教育局,承办单位\n", "utf-8")
    (tmp_path / "people.csv").write_text(
        "姓名,手机号,角色,单位\n林晓,13800000001,委员,\n高远,13800000020,承办人,区教育局\n",
        "utf-8",
    )
    result = run("import", "units", str(tmp_path / "units.csv"))
    assert result.exit_code == 0 and "新增 1 条" in result.output
    result = run("import", "people", str(tmp_path / "people.csv"))
    assert result.exit_code == 0 and "新增 2 条" in result.output
    result = run("import", "people", str(tmp_path / "people.csv"))
    assert "未变 2 条" in result.output

    result = run("invite", "林晓")
    assert result.exit_code == 0 and "林晓 的邀请码：" in result.output
    assert "PROPOSALBOT_TELEGRAM_BOT_USERNAME" in result.output
    result = run(
        "invite", "13800000001", env={"PROPOSALBOT_TELEGRAM_BOT_USERNAME": "@tiantong_bot"}
    )
    assert "https://t.me/tiantong_bot?start=" in result.output


def test_a_reimport_lists_each_rename_and_other_change_with_its_row(run, tmp_path):
    (tmp_path / "units.csv").write_text("名称,简称,类型\n区教育局,教育局,承办单位\n", "utf-8")
    (tmp_path / "people.csv").write_text(
        "姓名,手机号,角色,单位\n林晓,13800000001,委员,\n高远,13800000020,承办人,区教育局\n",
        "utf-8",
    )
    assert run("import", "units", str(tmp_path / "units.csv")).exit_code == 0
    assert run("import", "people", str(tmp_path / "people.csv")).exit_code == 0
    (tmp_path / "people.csv").write_text(
        "姓名,手机号,角色,单位\n林小晓,13800000001,委员,\n高远,13800000020,承办人、委员,教育局\n",
        "utf-8",
    )
    result = run("import", "people", str(tmp_path / "people.csv"))
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "人员名册已导入：新增 0 条，更新 2 条（其中改名 1 人），未变 0 条。",
        "  第2行 林小晓（13800000001）：姓名 林晓 → 林小晓",
        "  第3行 高远（13800000020）：角色 承办人 → 承办人、委员",
    ]
    (tmp_path / "units.csv").write_text("名称,简称\n区教育局,教体局\n", "utf-8")
    result = run("import", "units", str(tmp_path / "units.csv"))
    assert result.output.splitlines() == [
        "单位名册已导入：新增 0 条，更新 1 条，未变 0 条。",
        "  第2行 区教育局：简称 教育局 → 教体局",
    ]


def test_bad_roster_lists_every_bad_row_once_and_imports_nothing(run, tmp_path):
    (tmp_path / "people.csv").write_text(
        "姓名,手机号,角色\n林晓,123,委员\n,13800000002,委员\n何平,13800000003,校长\n罗成,,\n",
        "utf-8",
    )
    result = run("import", "people", str(tmp_path / "people.csv"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    # a heading, then each bad row on a line of its own, each error said once
    assert result.output.splitlines() == [
        "错误：名册有 4 行有误，未导入任何数据，请改正后重新导入：",
        "  第2行：手机号「123」格式不正确，应为11位手机号或带区号的固定电话（如 0839-8622340）",
        "  第3行：姓名不能为空",
        "  第4行：角色「校长」无法识别，可用的角色：委员、提案委、承办人、督办人、牵头领导",
        "  第5行：手机号不能为空；角色不能为空",
    ]
    for said in ("「123」", "姓名不能为空", "「校长」", "手机号不能为空", "角色不能为空"):
        assert result.output.count(said) == 1, said
    assert "名册里没有" in run("invite", "何平").output

    (tmp_path / "units.csv").write_text(
        "名称,简称,类型\n区教育局,教育局,承办单位\n区教育局,,\n", "utf-8"
    )
    result = run("import", "units", str(tmp_path / "units.csv"))
    assert result.output.splitlines() == [
        "错误：名册有 1 行有误，未导入任何数据，请改正后重新导入：",
        "  第3行：单位「区教育局」与第2行重复",
    ]
    (tmp_path / "no-phone.csv").write_text("姓名,角色\n林晓,委员\n", "utf-8")
    result = run("import", "people", str(tmp_path / "no-phone.csv"))
    assert_one_line_error(result, "文件缺少「手机号」列")
    assert result.output.count("缺少「手机号」列") == 1


def test_a_roster_cell_that_looks_like_console_markup_is_said_as_written(run, tmp_path):
    (tmp_path / "units.csv").write_text("名称,类型\n区教育局,[b]督办[/b]\n", "utf-8")
    result = run("import", "units", str(tmp_path / "units.csv"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "  第2行：单位类型「[b]督办[/b]」无法识别" in result.output
    (tmp_path / "people.csv").write_text(
        "姓名,手机号,角色,单位\n林晓,13800000001,委员,[/b]教育局\n", "utf-8"
    )
    result = run("import", "people", str(tmp_path / "people.csv"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "  第2行：单位「[/b]教育局」不存在，请先导入单位" in result.output
    assert_one_line_error(run("invite", "[/b]林晓"), "名册里没有「[/b]林晓」")


def test_what_members_and_staff_wrote_is_printed_as_written(run, db, wf, world):
    Story(db, wf, world).submitted(title="关于[/b]规范[bold]共享单车停放的建议")
    listed = run("list")
    assert listed.exit_code == 0 and "Traceback" not in listed.output
    assert "关于[/b]规范[bold]共享单车停放的建议" in listed.output
    with db.session() as s:
        s.get(Person, world.member).name = "林[/i]晓"
    invited = run("invite", "13800000001")
    assert invited.exit_code == 0 and "林[/i]晓 的邀请码：" in invited.output


def test_user_mistakes_are_one_line_errors(run, world, tmp_path):
    assert_one_line_error(run("invite", "无名氏"), "名册里没有「无名氏」")
    assert_one_line_error(run("import", "people", str(tmp_path / "none.csv")), "none.csv")
    assert_one_line_error(run("list", "--status", "bogus"), "没有「bogus」这个状态")
    assert_one_line_error(run("list", "--unit", "不存在局"), "找不到单位「不存在局」")
    assert_one_line_error(run("show", "abc"), "不是提案编号")
    assert_one_line_error(
        run("list", env={"PROPOSALBOT_REPLY_DUE_MONTHS": "many"}),
        "PROPOSALBOT_REPLY_DUE_MONTHS",
    )


def test_list_filters_and_show_the_record(run, db, wf, world):
    story = Story(db, wf, world)
    first = story.filed()
    # Assigned in September 2026 with a due date in October: overdue by the real clock.
    story.run(
        world.staff,
        assignments.assign,
        first,
        lead_unit_id=world.education,
        due_date=date(2026, 10, 15),
    )
    story.filed(title="关于增设社区老年食堂的建议")
    story.submitted(title="关于规范共享单车停放的建议")

    listed = run("list").output
    assert "提案（3 件）" in listed
    assert "2026年度第1号" in listed and "2026年度第2号" in listed and "共享单车" in listed
    by_status = run("list", "--status", "已立案").output
    assert "老年食堂" in by_status and "放学时段" not in by_status
    by_unit = run("list", "--unit", "区教育局").output
    assert "放学时段" in by_unit and "老年食堂" not in by_unit
    assert "（0 件）" in run("list", "--year", "2019").output
    overdue = run("list", "--overdue").output
    assert "放学时段" in overdue and "老年食堂" not in overdue and "（1 件）" in overdue

    # In the order of the register: numbered first, by number; the unnumbered after.
    assert listed.index("2026年度第1号") < listed.index("2026年度第2号") < listed.index("共享单车")
    # --limit keeps the ones written last, still in the register's order.
    newest = run("list", "--limit", "2").output
    assert "提案（2 件）" in newest and "放学时段" not in newest
    assert newest.index("老年食堂") < newest.index("共享单车")

    page = run("show", "1").output
    assert "编 号:2026年度第1号 所属类别:委员提案" in page
    assert "主办单位:区教育局" in page and "提案编号:2026年度第1号" in page
    assert "答复期限:2026年10月15日" in page
    assert "办理过程:" in page and "交办 → 办理中" in page
    assert "老年食堂" in run("show", "2", "--year", "2026").output
    assert "共享单车" in run("show", f"#{3}").output
    assert_one_line_error(run("show", "9"), "2026年度没有第9号提案")


def test_numbers_of_two_years_are_listed_and_shown_with_their_year(run, db, wf, world, clock):
    story = Story(db, wf, world)
    story.filed(title="关于改善城区小学放学时段交通秩序的建议")  # 2026年度第1号
    story.filed(title="关于增设社区老年食堂的建议")  # 2026年度第2号
    clock.set_local(2027, 1, 11)
    story.filed(title="关于规范共享单车停放的建议")  # 2027年度第1号

    listed = run("list").output
    assert "2027年度第1号" in listed and "2026年度第1号" in listed and "2026年度第2号" in listed
    assert "第〔" not in listed
    assert "共享单车" in run("show", "1").output  # this year's
    for typed in ("2026-1", "2026年1号", "2026年度第1号"):
        assert "放学时段" in run("show", typed).output, typed
    assert "放学时段" in run("show", "1", "--year", "2026").output
    assert_one_line_error(
        run("show", "2"),
        "2027年度没有第2号提案；有此编号的是2026年度第2号，请连同年度发送，如 2026-2。",
    )
    assert "老年食堂" in run("show", "2026-2").output
    assert_one_line_error(run("show", "2026-x"), "不是提案编号")


def test_demo_walks_a_proposal_through_its_whole_life(run, db):
    result = run("demo")
    assert result.exit_code == 0, result.output
    said = result.output
    # Every step is an event in somebody's conversation, answered by the bot.
    for text in (
        "秦岚 › /menu",
        "秦岚 › [📝 新建提案]",
        "秦岚 › 关于加快老旧小区加装电梯的建议",
        "草稿已建立",
        "秦岚 › 魏东",
        "秦岚 › [📤 提交]",
        "魏东 › 🔔[确认联名]",
        "您已确认联名",
        "沈佳 › [🔎 审查队列]",
        "沈佳 › [立案]",
        "已立案，编号为",
        "沈佳 › [确认交办]",
        "已交办：2026年度第1号",
        "韩冰 › 🔔[签收]",
        "杜明 › [📥 交办事项]",
        "沈佳 › 住建",
        "韩冰 › [记录沟通] → [座谈面商] → [今天]",
        "协办意见已送主办单位",
        "答复已提交（B类，第1稿），正等待协办单位区市场监督管理局会签",
        "🔔 → 杜明：区住房和城乡建设局已拟好2026年度第1号提案",
        "[✅ 同意会签] [✏️ 提出修改意见]",
        "杜明 › 🔔[✅ 同意会签]",
        "已会签同意2026年度第1号提案的答复（第1稿）",
        "[退回修改]",
        "答复已提交（B类，第2稿），正等待协办单位区市场监督管理局会签",
        "已会签同意2026年度第1号提案的答复（第2稿）",
        "沈佳 › [通过（B类）]",
        "秦岚 › 🔔[满意]",
        "魏东 › 🔔[满意]",
        "各位提案人均已评价，提案已办结",
    ):
        assert text in said, text
    # Notices are shown as they are dispatched, with their buttons.
    assert "🔔 → 魏东：秦岚委员邀请您联名提案" in said and "[确认联名] [谢绝]" in said
    assert "🔔 → 韩冰：2026年度第1号提案" in said and "[签收] [申请调整]" in said
    # The record at the end, as the member sees it.
    record = said[said.index("秦岚委员所见") :]
    for text in (
        "提案人:秦岚、魏东",
        "主办单位:区住房和城乡建设局",
        "沟通情况:",
        "会签:区市场监督管理局同意（杜明，",
        "督办审核:已通过",
        "满意评价:满意",
        "反馈意见:希望补贴政策尽快出台。",
        "领衔委员:秦岚",
        "当前状态:已办结",
        "全部评价完成，办结",
    ):
        assert text in record, text
    assert len(said.splitlines()) < 270  # a story to read, not a log
    with db.read_session() as s:
        accounts = s.exec(select(ChannelAccount).where(ChannelAccount.channel == "console"))
        assert len(accounts.all()) == 7
        assert not s.exec(select(Notice).where(Notice.state == "pending")).all()

    again = run("demo")
    assert again.exit_code == 0, again.output
    assert "秦岚 › [📤 仍然提交]" in again.output  # the first run's proposal is similar
    assert "年度第2号" in again.output and "已交办：2026年度第2号" in again.output
    with db.read_session() as s:
        assert len(s.exec(select(Person)).all()) == 7  # the roster is reused
        assert len(s.exec(select(ChannelAccount)).all()) == 7


def test_demo_stops_with_one_line_when_a_step_changed(run, monkeypatch):
    from handlers import submit

    monkeypatch.setitem(submit.CATEGORY_LABELS, "member", "个人提案")
    result = run("demo")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    last = result.output.strip().splitlines()[-1]
    assert "演示在第 4 步（秦岚 › [委员提案]）中断" in last
    assert "没有「委员提案」这个按钮" in last and "个人提案" in last


def test_run_without_a_token_says_what_to_set_and_how_to_try_it_without_one(run, world):
    result = run("run", env={"PROPOSALBOT_TELEGRAM_TOKEN": ""})
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "PROPOSALBOT_TELEGRAM_TOKEN" in result.output and "@BotFather" in result.output
    assert "proposalbot chat --as" in result.output and "proposalbot demo" in result.output


def test_run_on_wechat_without_its_extra_says_how_to_install_it(run, world, monkeypatch):
    """A Telegram install (`pip install .`) has no Wechaty: asked to run on WeChat, the
    command says which extra to install."""
    for name in [m for m in sys.modules if m == "bot.wechat" or m.startswith("bot.wechat.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "wechaty", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "wechaty_puppet", None)
    env = {"PROPOSALBOT_WECHATY_PUPPET_SERVICE_TOKEN": "puppet_padlocal_abc"}
    result = run("run", "--channel", "wechat", env=env)
    assert_one_line_error(result, "微信渠道的软件包（Wechaty）没有安装")
    assert 'pip install "proposal-bot[wechat]"' in result.output


def test_run_on_wechat_says_in_one_line_what_is_missing(run, world):
    for args, env in (
        (["--channel", "wechat"], {"PROPOSALBOT_WECHATY_PUPPET_SERVICE_TOKEN": ""}),
        ([], {"PROPOSALBOT_CHANNEL": "wechat", "PROPOSALBOT_WECHATY_PUPPET_SERVICE_TOKEN": ""}),
    ):
        result = run("run", *args, env=env)
        assert_one_line_error(result, "没有设置 PROPOSALBOT_WECHATY_PUPPET_SERVICE_TOKEN")
        assert "proposalbot chat --as" in result.output
    env = {"PROPOSALBOT_WECHATY_PUPPET_SERVICE_TOKEN": "puppet_padlocal_abc"}
    result = run("run", "--channel", "wechat", "--webhook-url", "https://x.org/h", env=env)
    assert_one_line_error(result, "--webhook-url 只用于 Telegram")
    env = {**env, "PROPOSALBOT_WECHATY_PUPPET": "wechaty-puppet-padlocal"}
    result = run("run", "--channel", "wechat", env=env)
    assert_one_line_error(result, "PROPOSALBOT_WECHATY_PUPPET 只能是 wechaty-puppet-service")
    assert "puppet_padlocal_abc" not in result.output
    assert_one_line_error(run("run", "--channel", "line"), "没有 line 这个渠道")


def test_run_refuses_a_webhook_that_is_not_https_or_a_bad_secret(run, world):
    env = {"PROPOSALBOT_TELEGRAM_TOKEN": "123:abc"}
    result = run("run", "--webhook-url", "http://bot.example.org/hook", env=env)
    assert_one_line_error(result, "webhook 地址必须以 https:// 开头")
    result = run(
        "run",
        "--webhook-url",
        "https://bot.example.org/hook",
        "--secret-token",
        "有空格 的",
        env=env,
    )
    assert_one_line_error(result, "webhook 密钥只能由")


def test_export_writes_the_ledger_of_the_latest_year(run, db, wf, world, tmp_path):
    import io

    from openpyxl import load_workbook

    Story(db, wf, world).filed()
    result = run("export", "-o", str(tmp_path / "台账.xlsx"))
    assert result.exit_code == 0, result.output
    assert "已导出 2026 年度提案台账（1 件）" in result.output
    sheet = load_workbook(io.BytesIO((tmp_path / "台账.xlsx").read_bytes())).active
    assert (sheet.cell(row=2, column=1).value, sheet.cell(row=2, column=2).value) == (2026, 1)
    assert_one_line_error(run("export", "-o", str(tmp_path)), "是一个目录")
    # an Excel ledger is not written under another kind of file's name
    for name in ("台账.csv", "台账.xls", "台账"):
        result = run("export", "-o", str(tmp_path / name))
        assert_one_line_error(result, "台账是 Excel 文件，文件名须以 .xlsx 结尾")
        assert not (tmp_path / name).exists()
    assert run("export", "-o", str(tmp_path / "台账2.XLSX")).exit_code == 0


def test_notices_lists_the_outbox_with_filters(run, db, wf, world):
    Story(db, wf, world).submitted()
    result = run("notices")
    assert result.exit_code == 0, result.output
    assert "review_queue" in result.output and "submitted_receipt" in result.output
    assert "待发送" in result.output and "合计：待发送 3" in result.output
    result = run("notices", "--person", "林晓")
    assert "submitted_receipt" in result.output and "review_queue" not in result.output
    assert "通知（0 条）" in run("notices", "--state", "failed").output
    assert_one_line_error(run("notices", "--state", "lost"), "没有「lost」这种状态")
    with db.session() as session:  # nobody here has bound an account: all three are parked
        park_and_release(session)
    parked = run("notices", "--state", "parked").output
    assert "通知（3 条）" in parked and "待绑定账号" in parked
    assert "合计：待发送 0，待绑定账号 3" in parked


def test_sweep_dry_run_at_a_moment_shows_and_keeps_nothing(run, db, wf, world):
    Story(db, wf, world).submitted()
    result = run("sweep", "--dry-run", "--at", "2026-09-21T10:00")
    assert result.exit_code == 0, result.output
    assert "2026-09-21 10:00 会发出的通知" in result.output
    assert "review_backlog" in result.output and "许静" in result.output
    with db.read_session() as session:
        assert not session.exec(select(Notice).where(Notice.kind == "review_backlog")).all()
    assert_one_line_error(run("sweep", "--at", "2026-09-21T10:00"), "只能与 --dry-run 一起使用")
    assert_one_line_error(run("sweep", "--dry-run", "--at", "下周一"), "不是时间")


def test_sweep_runs_a_round_now(run, db, wf, world):
    result = run("sweep")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("已运行：") and "review_backlog 0 条" in result.output


HEAPS = """
import ctypes, ctypes.util, os, sys, tempfile, threading
from bot.run import limit_malloc_arenas
print(limit_malloc_arenas() if sys.argv[1] == "limit" else "none")
kept = []
together = threading.Barrier(8)
def allocate():
    together.wait()  # all alive at once: an exiting thread hands its heap to the next
    kept.append([bytes(4096) for _ in range(500)])  # malloc, not the small-object allocator
    together.wait()
threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.fopen.restype = ctypes.c_void_p
path = tempfile.mktemp()
out = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(out))
libc.fclose(ctypes.c_void_p(out))
print(open(path).read().count("<heap nr="))
"""


def heaps(mode: str) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", HEAPS, mode], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    said, count = done.stdout.split()
    return said, int(count)


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="malloc arenas are glibc's (this C library has none)"
)
def test_the_running_bot_keeps_its_threads_to_two_malloc_heaps():
    """`proposalbot run` sets glibc's arena limit before its worker threads start: eight
    threads that allocate share two heaps instead of taking one each."""
    said, count = heaps("none")  # glibc's own way: a heap per thread, up to 8 per core
    assert said == "none" and count > 2
    assert heaps("limit") == ("True", 2)


def test_numbers_too_big_for_the_database_are_one_line_errors(run, world):
    huge = "9" * 20
    assert_one_line_error(run("show", huge), "不是提案编号")
    assert_one_line_error(run("show", f"#{huge}"), "不是提案编号")
    assert_one_line_error(run("list", "--unit", huge), "找不到单位")
    for command in (["show", "1", "--year", huge], ["export", "--year", "0"]):
        result = run(*command)
        assert result.exit_code == 2 and "Traceback" not in result.output  # typer's usage error


def test_a_person_is_found_by_a_landline_typed_any_usual_way(run, tmp_path):
    units = tmp_path / "units.csv"
    units.write_text("名称,简称,类型\n区教育局,教育局,承办单位\n", encoding="utf-8")
    people = tmp_path / "people.csv"
    people.write_text(
        "姓名,手机,角色,单位\n李四,0839-8622340,承办人,教育局\n李四,13800000005,委员,\n",
        encoding="utf-8",
    )
    assert run("import", "units", str(units)).exit_code == 0
    assert run("import", "people", str(people)).exit_code == 0
    assert_one_line_error(run("invite", "李四"), "请用编号或手机号指定")
    for typed in ("0839-8622340", "0839 8622340", "(0839)8622340", "+86 0839-8622340"):
        result = run("invite", typed)
        assert result.exit_code == 0, (typed, result.output)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("PROPOSALBOT_LOG_LEVEL", "bogus", "PROPOSALBOT_LOG_LEVEL"),
        ("PROPOSALBOT_DATABASE_URL", "garbage", "PROPOSALBOT_DATABASE_URL"),
        ("PROPOSALBOT_DATABASE_URL", "mysql://u@h/x", "not supported"),
        ("PROPOSALBOT_RATING_WINDOW_WORKDAYS", "1", "PROPOSALBOT_RATING_REMINDER_WORKDAYS"),
    ],
)
def test_a_setting_that_cannot_work_is_a_one_line_error(run, variable, value, says):
    assert_one_line_error(run("list", env={variable: value}), says)


def test_an_env_file_not_in_utf8_is_a_one_line_error(run, tmp_path):
    (tmp_path / ".env").write_bytes("PROPOSALBOT_COMMITTEE_NAME=示范区政协\n".encode("gbk"))
    assert_one_line_error(run("list"), "UTF-8")


def test_run_with_a_token_telegram_refuses_never_prints_the_token(run, world):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Refusing(BaseHTTPRequestHandler):
        def do_POST(self):  # what the Bot API answers a revoked token
            body = json.dumps({"ok": False, "error_code": 401, "description": "Unauthorized"})
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    token = "123456:revoked-token-secret"
    try:
        result = run(
            "run",
            env={
                "PROPOSALBOT_TELEGRAM_TOKEN": token,
                "PROPOSALBOT_TELEGRAM_API_URL": f"http://127.0.0.1:{server.server_port}",
            },
        )
    finally:
        server.shutdown()
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "Telegram 拒绝了机器人令牌" in result.output
    assert "revoked-token-secret" not in result.output


def test_run_with_telegram_out_of_reach_is_a_short_error(run, world):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run(
        "run",
        env={
            "PROPOSALBOT_TELEGRAM_TOKEN": "123456:some-token",
            "PROPOSALBOT_TELEGRAM_API_URL": f"http://127.0.0.1:{port}",
        },
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "无法连接 Telegram" in result.output


# ---------------------------------------------------------------- the working-day calendar

HOLIDAYS_2031 = """\
2031-01-01 休 元旦
2031-01-22~2031-01-29 休 春节
2031-01-19 班 春节调休
2031-02-08 班 春节调休
2031-04-05~2031-04-07 休 清明节
2031-05-01~2031-05-05 休 劳动节
2031-04-27 班 劳动节调休
2031-06-24 休 端午节
2031-10-01~2031-10-08 休 国庆节、中秋节
2031-09-28 班
2031-10-11 班
2031 全年
"""


def test_calendar_lists_the_holidays_and_working_weekends_of_a_year(run):
    result = run("calendar", "2026")
    assert result.exit_code == 0, result.output
    assert "2026 年共 248 个工作日。" in result.output
    assert "10-01（周四）、10-02（周五）、10-05（周一）" in result.output
    assert "周末调休上班（6 天）：01-04（周日）、02-14（周六）" in result.output
    assert "依据：chinesecalendar。" in result.output


def test_a_year_nobody_has_yet_is_counted_monday_to_friday_and_said_so(run):
    result = run("calendar", "2031")
    assert result.exit_code == 0
    assert "2031 年共 261 个工作日。" in result.output
    assert "周一至周五放假（0 天）：无" in result.output
    assert "尚无 2031 年的节假日安排，暂按周一至周五计算工作日" in result.output
    assert "chinesecalendar has no data" not in result.output  # said once, in words


def test_the_holidays_file_brings_a_year_in_for_deadlines_too(run, tmp_path, monkeypatch):
    (tmp_path / "holidays.txt").write_text(HOLIDAYS_2031, encoding="utf-8")
    monkeypatch.setenv("PROPOSALBOT_HOLIDAYS_FILE", "holidays.txt")
    result = run("calendar", "2031")
    assert result.exit_code == 0
    assert "2031 年共 248 个工作日。" in result.output
    assert (
        "周一至周五放假（18 天）：01-01（周三）、01-22（周三）、01-23（周四）、01-24（周五）、"
        "01-27（周一）" in result.output
    )
    assert "周末调休上班（5 天）：01-19（周日）、02-08（周六）、04-27（周日）" in result.output
    assert "依据：节假日文件 holidays.txt。" in result.output
    assert "注意" not in result.output
    # the bot's own deadlines count the same days
    from bot.app import build_app

    cal = build_app().workflow.calendar
    assert cal.add_workdays(date(2031, 1, 21), 1) == date(2031, 1, 30)
    assert cal.add_workdays(date(2031, 1, 17), 1) == date(2031, 1, 19)


def test_a_local_day_off_in_a_year_the_package_has_is_named_with_its_source(
    run, tmp_path, monkeypatch
):
    (tmp_path / "holidays.txt").write_text("2026-11-20 休 本地假日\n", encoding="utf-8")
    monkeypatch.setenv("PROPOSALBOT_HOLIDAYS_FILE", "holidays.txt")
    result = run("calendar", "2026")
    assert result.exit_code == 0
    assert "2026 年共 247 个工作日。" in result.output
    assert "11-20（周五）" in result.output
    assert "依据：节假日文件 holidays.txt、chinesecalendar。" in result.output
    assert "注意" not in result.output


def test_a_holidays_file_with_some_days_of_a_year_says_its_holidays_are_unknown(
    run, tmp_path, monkeypatch
):
    """A local day off written before the State Council's notice: the year's statutory
    holidays are still unknown, and the command says so rather than count 春节 as work."""
    (tmp_path / "holidays.txt").write_text("2031-03-14 休 本地假日\n", encoding="utf-8")
    monkeypatch.setenv("PROPOSALBOT_HOLIDAYS_FILE", "holidays.txt")
    result = run("calendar", "2031")
    assert result.exit_code == 0
    assert "2031 年共 260 个工作日。" in result.output
    assert "周一至周五放假（1 天）：03-14（周五）" in result.output
    assert "依据：节假日文件 holidays.txt。" not in result.output
    assert (
        "注意：节假日文件 holidays.txt 列了 2031 年的 1 天，但未标明全年已列全：2031 年的"
        "法定节假日（春节、国庆节等）尚不知道，文件所列以外的日子暂按周一至周五计算工作日。"
        "请照国务院办公厅当年的通知写全放假和调休日，再加一行「2031 全年」（见 README）。"
    ) in result.output
    assert "chinesecalendar has no data" not in result.output  # said once, in words


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("2031-02-30 休\n", "节假日文件 holidays.txt 第1行的日期不存在。"),
        ("2031-01-01 休\n元旦\n", "节假日文件 holidays.txt 第2行看不懂"),
        ("2031-01-01 休\n2031 全年\n", "节假日文件 holidays.txt 第2行标明 2031 年已列全"),
        (None, "无法读取文件：holidays.txt"),
    ],
)
def test_a_holidays_file_that_cannot_be_used_stops_every_command(
    run, tmp_path, monkeypatch, content, says
):
    if content is not None:
        (tmp_path / "holidays.txt").write_text(content, encoding="utf-8")
    monkeypatch.setenv("PROPOSALBOT_HOLIDAYS_FILE", "holidays.txt")
    for command in (["calendar"], ["list"]):
        assert_one_line_error(run(*command), says)


def test_people_are_listed_deactivated_and_reactivated(run, db, wf, world):
    listed = run("people", "list")
    assert listed.exit_code == 0 and "在用的人员（12 人）" in listed.output
    assert "林晓" in listed.output and "未绑定" in listed.output
    with db.session() as session:
        invites.issue_invite(wf.ctx(session, None), world.member)

    result = run("people", "deactivate", "林晓", "--yes")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"已停用 #{world.member} 林晓（13800000001，委员）：取消待发通知 0 条；作废邀请码 1 个。"
    ]
    assert "林晓" not in run("people", "list").output
    inactive = run("people", "list", "--inactive")
    assert "已停用的人员（1 人）" in inactive.output and "林晓" in inactive.output

    result = run("people", "reactivate", "13800000001", "--yes")
    assert result.output.splitlines() == [
        f"已恢复启用 #{world.member} 林晓（13800000001，委员）。",
        "此人还没有绑定聊天账号：可用 proposalbot invite 为其发放邀请码。",
    ]
    assert "在用的人员（12 人）" in run("people", "list").output


def test_deactivating_asks_first_and_says_what_it_will_do(run, db, wf, world):
    Story(db, wf, world).assigned(co=False)
    run("people", "deactivate", "高远", "--yes")
    answered_no = CliRunner().invoke(cli, ["people", "deactivate", "梁雪"], input="n\n")
    assert answered_no.exit_code == 1
    assert f"将停用 #{world.handler_edu2} 梁雪（13800000021，承办人，区教育局）：" in (
        answered_no.output
    )
    assert "区教育局已没有在用的承办人，办理中的提案 1 件无人办理（已通知提案委）" in (
        answered_no.output
    )
    assert "已放弃，没有做任何更改。" in answered_no.output
    with db.read_session() as session:
        assert session.get(Person, world.handler_edu2).active
        assert not session.exec(select(Notice).where(Notice.kind == "unit_without_handler")).all()

    no_answer = CliRunner().invoke(cli, ["people", "deactivate", "梁雪"], input="")
    assert no_answer.exit_code == 1 and "已放弃" in no_answer.output

    answered_yes = CliRunner().invoke(cli, ["people", "deactivate", "梁雪"], input="y\n")
    assert answered_yes.exit_code == 0, answered_yes.output
    assert "已停用 #" in answered_yes.output
    with db.read_session() as session:
        assert not session.get(Person, world.handler_edu2).active
        told = session.exec(select(Notice).where(Notice.kind == "unit_without_handler")).all()
        assert sorted(n.person_id for n in told) == [world.staff, world.staff2]


def test_people_commands_refuse_in_one_line_and_change_nothing(run, db, world):
    with db.session() as session:
        session.add(Person(name="林晓", phone="13900000009", roles="member"))
    assert_one_line_error(run("people", "deactivate", "无名氏", "--yes"), "名册里没有「无名氏」")
    result = run("people", "deactivate", "林晓", "--yes")
    assert_one_line_error(result, "名册里有 2 位「林晓」：")
    assert "13800000001" in result.output and "13900000009" in result.output
    assert_one_line_error(run("people", "reactivate", "林晓", "--yes"), "名册里有 2 位「林晓」")
    assert run("people", "deactivate", "罗成", "--yes").exit_code == 0
    assert_one_line_error(
        run("people", "deactivate", "许静", "--yes"), "许静是名册中唯一在用的提案委工作人员"
    )
    assert_one_line_error(run("people", "reactivate", "许静", "--yes"), "许静没有停用")
    assert_one_line_error(run("people", "deactivate", "罗成", "--yes"), "罗成已经是停用状态")
    with db.read_session() as session:
        assert all(p.active for p in session.exec(select(Person)) if p.id != world.staff2)


def test_a_name_that_looks_like_console_markup_is_printed_as_written(run, db, world):
    with db.session() as session:
        session.get(Person, world.member).name = "林[/b]晓"
    result = run("people", "deactivate", "林[/b]晓", "--yes")
    assert result.exit_code == 0 and "林[/b]晓（13800000001，委员）" in result.output
    assert "林[/b]晓" in run("people", "list", "--inactive").output


def test_a_people_import_lists_who_is_missing_and_deactivates_them_when_asked(
    run, db, world, tmp_path
):
    header = "姓名,手机号,角色,单位\n"
    kept = "许静,13800000010,提案委,\n高远,13800000020,承办人,区教育局\n"
    (tmp_path / "people.csv").write_text(header + kept + "林晓,13800000001,委员,\n", "utf-8")
    result = run("import", "people", str(tmp_path / "people.csv"))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "人员名册已导入：新增 0 条，更新 0 条，未变 3 条。"
    assert lines[1] == (
        "名册中有 9 人不在这份文件里，仍为在用"
        "（加 --deactivate-missing 可在导入时一并停用，或用 proposalbot people deactivate）："
    )
    assert f"  #{world.staff2} 罗成（13800000011）" in lines
    assert "在用的人员（12 人）" in run("people", "list").output

    (tmp_path / "fewer.csv").write_text(header + kept, "utf-8")  # 林晓 is gone too
    result = run("import", "people", str(tmp_path / "fewer.csv"), "--deactivate-missing")
    assert result.exit_code == 0, result.output
    assert "已停用名册中有、但文件里没有的 10 人：" in result.output
    assert "  梁雪：取消待发通知 0 条；作废邀请码 0 个" in result.output
    assert (
        "  彭娟：取消待发通知 0 条；作废邀请码 0 个；区卫生健康委员会已没有在用的承办人（已通知提案委）"
        in (result.output)
    )
    assert "在用的人员（2 人）" in run("people", "list").output

    # Listed again, a deactivated person stays deactivated: reactivating is its own command.
    (tmp_path / "back.csv").write_text(header + kept + "林晓,13800000001,委员,\n", "utf-8")
    result = run("import", "people", str(tmp_path / "back.csv"), "--deactivate-missing")
    assert "第4行 林晓（13800000001）：已停用，导入不会恢复启用" in result.output
    assert "在用的人员（2 人）" in run("people", "list").output


def test_an_import_that_would_leave_no_staff_imports_nothing(run, db, world, tmp_path):
    (tmp_path / "people.csv").write_text(
        "姓名,手机号,角色\n林小晓,13800000001,委员\n新人,13800000099,委员\n", "utf-8"
    )
    result = run("import", "people", str(tmp_path / "people.csv"), "--deactivate-missing")
    assert_one_line_error(result, "是名册中唯一在用的提案委工作人员")
    assert "未导入任何数据。" in result.output
    with db.read_session() as session:
        assert all(p.active for p in session.exec(select(Person)))
        assert session.get(Person, world.member).name == "林晓"
        assert session.exec(select(Person).where(Person.phone == "13800000099")).first() is None
