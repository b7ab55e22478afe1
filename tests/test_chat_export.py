"""Staff export the year's proposal ledger as an Excel file, in the chat and on the command
line; nobody else can."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from openpyxl import load_workbook
from sqlalchemy.exc import OperationalError
from sqlmodel import select

import storage.db
from handlers.messages import Event
from storage.models import Proposal
from tests.factories import SAMPLE_REPLY, Story
from workflow import export
from workflow.errors import PermissionDenied


def rows_of(data: bytes) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(data)).active
    return [tuple(cell.value for cell in row) for row in sheet.iter_rows()]


async def test_staff_export_the_ledger_of_the_year(db, wf, world, chat_as):
    story = Story(db, wf, world)
    story.delivered()  # 2026年度第1号, answered
    story.submitted()  # waiting for review, no number yet
    story.draft(title="关于一份还没提交的草稿的建议")  # drafts are left out
    chat = chat_as(world.staff)
    await chat.send("/menu")
    await chat.tap("📊 导出台账")
    assert "导出哪一年度的提案台账" in chat.said and chat.buttons == ["2026年度", "↩️ 返回"]
    await chat.tap("2026年度")
    assert "2026年度提案台账，共 2 件（不含草稿）。" in chat.said
    [file] = chat.files
    assert file.name == "提案台账-2026.xlsx" and file.mime.endswith("spreadsheetml.sheet")
    rows = rows_of(file.data)
    # numbers restart every year: each row names its proposal by year and number
    assert rows[0][:8] == ("年度", "编号", "标题", "类别", "领域", "提案人", "联名人", "状态")
    assert len(rows) == 3
    first, second = rows[1], rows[2]
    assert (first[0], first[1], first[5], first[7], first[9], first[13]) == (
        2026,
        1,
        "林晓",
        "已答复",
        "区教育局",
        "B",
    )
    assert (second[0], second[1], second[7], second[9]) == (2026, None, "待审查", None)
    assert "林晓，" not in chat.said or "许静，您好" in chat.said  # back at the menu


async def test_a_merged_proposal_is_listed_with_the_units_and_reply_of_its_main(
    db, wf, world, chat_as
):
    from workflow import countersigns, replies

    story = Story(db, wf, world)
    main, lead, _co = story.accepted()  # 区教育局 leads, 区交通运输局 co-handles
    other = story.merged_into(
        main, analysis="学校周边接送车辆无处停放。", suggestions="1、划设临时停车位。"
    )

    def answer() -> int:
        """The lead unit's letter, countersigned (会签) by 区交通运输局 when it is asked."""
        reply = story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
        if reply.status == "countersigning":
            story.run(world.handler_tr, countersigns.agree, reply.id)
        return reply.id

    story.run(world.staff, replies.approve_reply, answer())
    story.run(world.outsider, replies.rate, other, work="unsatisfied")
    story.run(world.staff, replies.order_rehandle, main)
    story.run(world.staff, replies.approve_reply, answer(), "A")
    story.run(world.outsider, replies.rate, other, work="satisfied")

    chat = chat_as(world.staff)
    await chat.send("/menu")
    await chat.tap("📊 导出台账")
    await chat.tap("2026年度")
    [file] = chat.files
    rows = {row[2]: row for row in rows_of(file.data)[1:]}
    merged = rows["关于在学校周边增设接送车辆临时停车位的建议"]
    assert (merged[1], merged[5], merged[7]) == (None, "曹磊", "已办结")
    assert (merged[9], merged[10], merged[13]) == ("区教育局", "区交通运输局", "A")
    assert merged[11] == rows["关于改善城区小学放学时段交通秩序的建议"][11]  # the main's due date
    assert merged[14] and merged[15] == "曹磊：满意"  # the reply it received, rated once


async def test_the_export_is_in_the_readers_language(db, wf, world, chat_as):
    Story(db, wf, world).filed()
    chat = chat_as(world.staff)
    await chat.send("/lang")
    await chat.tap("English")
    await chat.send("/menu")
    await chat.tap("📊 Export ledger")
    await chat.tap("2026")
    [file] = chat.files
    rows = rows_of(file.data)
    assert rows[0][:4] == ("Year", "No.", "Title", "Category")
    assert rows[1][:2] == (2026, 1)
    assert rows[1][3] == "Member proposal" and rows[1][7] == "Filed"


async def test_nobody_but_staff_may_export(db, wf, world, chat_as):
    Story(db, wf, world).filed()
    for person in (world.member, world.handler_edu, world.supervisor, world.leader):
        refusal = pytest.raises(PermissionDenied, match="只有提案委工作人员可以导出提案台账")
        with db.read_session() as session, refusal:
            export.ledger(wf.ctx(session, person), 2026)
        chat = chat_as(person)
        await chat.send("/menu")
        assert not any("导出" in label for label in chat.buttons)


async def test_an_empty_year_says_so(db, wf, world, chat_as):
    chat = chat_as(world.staff)
    await chat.send("/menu")
    await chat.tap("📊 导出台账")
    assert "还没有可以导出的提案" in chat.said and chat.buttons == ["↩️ 返回"]
    await chat.tap("↩️ 返回")
    assert "许静，您好" in chat.said


def test_the_running_bot_loads_openpyxl_only_for_an_export(tmp_path):
    """openpyxl is about 6 MB of a process's memory: the bot and all its flows start without
    it, and the first export loads it."""
    check = (
        "import sys\n"
        "import bot.run, bot.cli\n"
        "from bot.app import build_app\n"
        "app = build_app()\n"
        "app.engine\n"
        "print('openpyxl' in sys.modules)\n"
    )
    env = {
        **os.environ,
        "PROPOSALBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "PROPOSALBOT_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", check], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


async def test_others_are_answered_while_the_ledger_is_read(
    db, wf, world, engine, chat_as, monkeypatch
):
    """The ledger of a national year is thousands of rows made into a workbook: read after
    staff's tap commits, not inside it, so on SQLite a member's update meanwhile does not
    wait for the writer's lock the tap would otherwise hold (see the year's statistics)."""
    Story(db, wf, world).delivered()
    member = chat_as(world.member)
    meanwhile: list = []
    ledger = export.ledger

    def read_while_others_write(ctx, *args):
        ctx.session.execute(select(Proposal.id)).first()  # the ledger's snapshot is open
        try:
            meanwhile.append(engine.handle(member.sender, Event.of_text("/menu")))
        except OperationalError as exc:  # what waiting for the writer ends in
            meanwhile.append(exc)
        return ledger(ctx, *args)

    monkeypatch.setattr(storage.db, "WRITER_WAIT_S", 0.5)  # not the 30 s a writer may wait
    monkeypatch.setattr(export, "ledger", read_while_others_write)
    chat = chat_as(world.staff)
    await chat.send("/menu")
    await chat.tap("📊 导出台账")
    await chat.tap("2026年度")
    [answered] = meanwhile
    assert not isinstance(answered, Exception), answered
    assert "林晓，您好" in "\n".join(out.text for out in answered)
    assert "2026年度提案台账，共 1 件（不含草稿）。" in chat.said
    [file] = chat.files
    assert len(rows_of(file.data)) == 2
    assert chat.said.index("提案台账") < chat.said.index("许静，您好")  # then the menu
