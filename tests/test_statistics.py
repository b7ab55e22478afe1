"""The year's statistics: what came in and how it was decided, how the units answered and
how the answers were rated, for staff only; in the CLI and in the ledger's second sheet."""

from __future__ import annotations

import io

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select

import handlers.export
import storage.db
from handlers.messages import Event
from storage.models import Proposal
from tests.factories import SAMPLE_REPLY, Story
from tests.test_cli import assert_one_line_error, run  # noqa: F401 - run is a fixture
from workflow import countersigns, proposals, replies
from workflow.errors import PermissionDenied
from workflow.statistics import render_statistics, year_statistics


@pytest.fixture
def year_of_work(db, wf, world, clock) -> Story:
    """Six proposals of 2026 at every stage, and a draft never submitted."""
    story = Story(db, wf, world)
    story.rated("satisfied")  # answered on time and rated: closed
    _late, late_lead, _ = story.accepted()
    story.accepted()  # never answered: overdue once its due date passes
    story.run(world.staff, proposals.reject, story.submitted(), "不属于提案受理范围。")
    story.run(world.member, proposals.withdraw, story.submitted())
    story.submitted()  # still in review
    story.draft()
    clock.advance(days=120)  # past the due dates (three months after 交办)
    reply = story.run(world.handler_edu, replies.submit_reply, late_lead, **SAMPLE_REPLY)
    story.run(world.handler_tr, countersigns.agree, reply.id)  # 会签 by the co-handling unit
    story.run(world.staff, replies.approve_reply, reply.id)
    return story


def figures(db, wf, actor):
    with db.read_session() as session:
        return year_statistics(wf.ctx(session, actor), 2026)


def test_the_year_counts_every_stage_of_every_proposal(db, wf, world, year_of_work):
    stats = figures(db, wf, world.staff)
    assert (stats.received, stats.filed, stats.not_filed, stats.withdrawn, stats.in_review) == (
        6,
        3,
        1,
        1,
        1,
    )
    assert (stats.assigned, stats.answered, stats.on_time, stats.late, stats.overdue) == (
        3,
        2,
        1,
        1,
        1,
    )
    assert stats.closed == 1 and stats.classes["B"] == 2
    assert (stats.result.given["satisfied"], stats.result.rated) == (1, 1)
    lead, co = stats.units
    assert (lead.name, lead.lead, lead.answered, lead.on_time, lead.late, lead.overdue) == (
        "区教育局",
        3,
        2,
        1,
        1,
        1,
    )
    assert (co.name, co.lead, co.co) == ("区交通运输局", 0, 3)

    text = render_statistics(stats)
    assert text.splitlines()[0] == "2026 年度提案工作统计（截至 2027年1月12日）"
    assert (
        "收到提案 6 件：立案 3 件，不予立案 1 件，并案 0 件，转为意见建议 0 件，撤回 1 件，"
        "待审查 1 件。"
    ) in text
    assert "立案率（已审查的提案中）：75.0%" in text
    assert "按领域：社会事业 6 件（立案 3）" in text
    assert "已答复 2 件，其中按期 1 件、逾期 1 件；尚未答复且已超期 1 件" in text
    assert "按期答复率：50.0%；答复类别：A 类 0 件，B 类 2 件，C 类 0 件。" in text
    assert "办理结果评价：满意 1，基本满意 0，不满意 0，未评价 0；满意率 100.0%。" in text
    assert (
        "· 区教育局：主办 3，协办 0；已答复 2（按期 1），超期未答复 1；A/B/C 0/2/0；满意率 100.0%"
    ) in text
    assert (
        "· 区交通运输局：主办 0，协办 3；已答复 0（按期 0），超期未答复 0；A/B/C 0/0/0；满意率 —"
        in (text)
    )


def test_a_rating_of_a_reply_that_was_handled_again_no_longer_counts(db, wf, world, clock):
    """不满意 → 重新办理: the new reply is the one counted, and until it is rated, so is
    the year's satisfaction; the first reply's class is not counted twice."""
    story = Story(db, wf, world)
    pid, _lead, _reply = story.rated("unsatisfied")
    before = figures(db, wf, world.staff)
    assert before.result.given["unsatisfied"] == 1
    story.run(world.staff, replies.order_rehandle, pid, note="请重新研究。")
    after = figures(db, wf, world.staff)
    assert after.rehandled == 1 and after.answered == 0 and after.result.rated == 0
    assert sum(after.classes.values()) == 0


def test_only_staff_see_the_statistics(db, wf, world, year_of_work):
    for someone in (world.member, world.handler_edu, world.supervisor, world.leader):
        with pytest.raises(PermissionDenied, match="只有提案委工作人员可以查看提案工作统计"):
            figures(db, wf, someone)


def test_the_cli_says_the_year_and_the_ledger_has_the_units_sheet(run, db, wf, world, tmp_path):  # noqa: F811
    from openpyxl import load_workbook

    assert_one_line_error(run("stats"), "还没有任何提案")
    Story(db, wf, world).rated("satisfied")
    result = run("stats")
    assert result.exit_code == 0, result.output
    assert "2026 年度提案工作统计" in result.output
    assert "收到提案 1 件：立案 1 件" in result.output
    assert "· 区教育局：主办 1，协办 0；已答复 1（按期 1）" in result.output

    assert run("export", "-o", str(tmp_path / "台账.xlsx")).exit_code == 0
    book = load_workbook(io.BytesIO((tmp_path / "台账.xlsx").read_bytes()))
    assert book.sheetnames == ["2026", "各承办单位统计"]
    rows = [[cell.value for cell in row] for row in book["各承办单位统计"].iter_rows()]
    assert rows[0][:4] == ["承办单位", "主办", "协办", "已答复"]
    assert rows[1] == ["区教育局", 1, 0, 1, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1]
    assert rows[2][:2] == ["区交通运输局", 0] and rows[2][2] == 1
    assert rows[-1][0] == "合计" and rows[-1][1] == 1 and rows[-1][-1] == 1


async def test_staff_read_the_years_statistics_in_the_chat(db, wf, world, chat_as, year_of_work):
    chat = chat_as(world.staff)
    await chat.send("/menu")
    await chat.tap("📈 年度统计")
    assert "查看哪一年度的提案工作统计？" in chat.said
    assert chat.buttons == ["2026年度", "↩️ 返回"]
    await chat.tap("2026年度")
    assert "2026 年度提案工作统计（截至 2027年1月12日）" in chat.said
    assert "收到提案 6 件：立案 3 件" in chat.said
    assert "· 区教育局：主办 3，协办 0；已答复 2（按期 1），超期未答复 1" in chat.said
    assert "许静，您好" in chat.said  # back at the menu
    await chat.tap("📈 年度统计")
    await chat.tap("↩️ 返回")
    assert "许静，您好" in chat.said


async def test_a_merged_proposal_counts_as_merged_once_answered_and_closed(db, wf, world, chat_as):
    story = Story(db, wf, world)
    main, lead, _co = story.accepted(co=False)
    other = story.merged_into(
        main, analysis="学校周边接送车辆无处停放。", suggestions="1、划设临时停车位。"
    )
    reply = story.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    story.run(world.staff, replies.approve_reply, reply.id)
    story.run(world.member, replies.rate, main, work="satisfied")
    story.run(world.outsider, replies.rate, other, work="satisfied")  # both closed now

    chat = chat_as(world.staff)
    await chat.send("/menu")
    await chat.tap("📈 年度统计")
    await chat.tap("2026年度")
    assert "收到提案 2 件：立案 1 件，不予立案 0 件，并案 1 件" in chat.said
    assert "立案率（已审查的提案中）：50.0%" in chat.said
    assert "交办 1 件（重点提案 0 件）：已答复 1 件" in chat.said and "已办结 1 件" in chat.said
    stats = figures(db, wf, world.staff)
    assert (stats.received, stats.filed, stats.merged, stats.closed) == (2, 1, 1, 1)


async def test_no_one_but_staff_finds_the_statistics_in_the_chat(db, wf, world, chat_as):
    Story(db, wf, world).filed()
    for person in (world.member, world.handler_edu, world.supervisor, world.leader):
        chat = chat_as(person)
        await chat.send("/menu")
        assert "📈 年度统计" not in chat.buttons
    staff = chat_as(world.staff)
    await staff.send("/menu")
    await staff.tap("📈 年度统计")
    payload = staff.payload_of("2026年度")
    member = chat_as(world.member)
    await member.send("/menu")
    await member.press(payload)  # a button copied from staff's chat
    assert "收到提案" not in member.said
    assert "这个按钮已过期" in member.said or "这个选项无效" in member.said


async def test_statistics_of_a_year_without_proposals_say_so(db, wf, world, chat_as):
    chat = chat_as(world.staff)
    await chat.send("/menu")
    await chat.tap("📈 年度统计")
    assert "还没有提交的提案，暂无统计。" in chat.said and chat.buttons == ["↩️ 返回"]


async def test_the_statistics_are_said_in_the_readers_language(
    db, wf, world, chat_as, year_of_work
):
    chat = chat_as(world.staff)
    await chat.send("/lang")
    await chat.tap("English")
    await chat.send("/menu")
    await chat.tap("📈 Year statistics")
    assert "Statistics of which year?" in chat.said
    await chat.tap("2026")
    said = chat.said
    assert "Proposal work statistics of 2026 (as of 12 Jan 2027)" in said
    assert "Proposals received: 6. Filed 3, not filed 1" in said
    assert "Filing rate (of those reviewed): 75.0%" in said
    assert "By field: Social affairs 6 (filed 3)" in said
    assert "Answered on time: 50.0%. Reply classes: A 0, B 2, C 0." in said
    assert "Result ratings: satisfied 1, basically satisfied 0, unsatisfied 0" in said
    assert "· 区教育局: leads 3, co-handles 0; answered 2 (on time 1), overdue 1" in said


async def test_others_are_answered_while_the_statistics_are_read(
    db, wf, world, engine, chat_as, year_of_work, monkeypatch
):
    """A national committee's year takes a while to count. Staff's tap is one update (the
    conversation leaves the year question with it), but the counting is a read of its own,
    after that update commits: on SQLite it does not hold the one writer's lock, so a
    member's update meanwhile is answered rather than left waiting for the figures."""
    member = chat_as(world.member)
    meanwhile: list = []

    def counted_while_others_write(ctx, year):
        ctx.session.execute(select(Proposal.id)).first()  # the figures' snapshot is open
        try:
            meanwhile.append(engine.handle(member.sender, Event.of_text("/menu")))
        except OperationalError as exc:  # what waiting for the writer ends in
            meanwhile.append(exc)
        return year_statistics(ctx, year)

    monkeypatch.setattr(storage.db, "WRITER_WAIT_S", 0.5)  # not the 30 s a writer may wait
    monkeypatch.setattr(handlers.export, "year_statistics", counted_while_others_write)
    chat = chat_as(world.staff)
    await chat.send("/menu")
    await chat.tap("📈 年度统计")
    await chat.tap("2026年度")
    [answered] = meanwhile
    assert not isinstance(answered, Exception), answered
    assert "林晓，您好" in "\n".join(out.text for out in answered)
    assert "收到提案 6 件：立案 3 件" in chat.said
    assert "许静，您好" in chat.said  # the figures, then the menu
    assert chat.said.index("收到提案 6 件") < chat.said.index("许静，您好")
    await chat.tap("📈 年度统计")  # the conversation was kept: back at the menu
    assert "查看哪一年度的提案工作统计？" in chat.said


async def test_statistics_that_fail_to_be_read_say_so_and_the_menu_still_comes(
    db, wf, world, chat_as, year_of_work, monkeypatch, caplog
):
    def broken(ctx, year):
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(handlers.export, "year_statistics", broken)
    chat = chat_as(world.staff)
    await chat.send("/menu")
    await chat.tap("📈 年度统计")
    await chat.tap("2026年度")
    assert "抱歉，读取时出了问题，请稍后重试。" in chat.said
    assert "Traceback" not in chat.said and "disk" not in chat.said
    assert "许静，您好" in chat.said
    assert "a report failed to be read" in caplog.text
