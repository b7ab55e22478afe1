"""Search of disclosed proposals as transcripts: only disclosed ones the committee took up
(filed or merged) are ever found; the record hides contact details from people who are not
a party."""

from __future__ import annotations

import pytest
from sqlmodel import select

from storage.models import Conversation, Proposal
from tests.chat import Chat
from tests.factories import Story
from tests.snapshot import snapshot
from workflow import proposals, sweeps
from workflow.permissions import can_view

APOLOGY = "出了问题"


def rows(db) -> dict:
    return {name: r for name, r in snapshot(db).items() if name != "conversation"}


def state(db, chat: Chat) -> tuple[str | None, str | None, int]:
    with db.read_session() as s:
        conv = s.exec(
            select(Conversation).where(Conversation.external_id == chat.sender.external_id)
        ).one()
        return conv.flow, conv.step, conv.version


def make(db, wf, world, title, analysis, *, disclose=True, until="filed") -> int:
    """A proposal of 曹磊's, walked to ``until`` (draft, submitted or filed)."""
    story = Story(db, wf, world)
    pid = story.run(
        world.outsider,
        proposals.create_draft,
        title=title,
        analysis=analysis,
        suggestions="1、摸清底数，制定年度计划。\n2、明确牵头部门和资金来源。",
        field="城乡建设",
        disclose=disclose,
    ).id
    if until != "draft":
        story.run(world.outsider, proposals.submit, pid)
    if until == "filed":
        story.run(world.staff, proposals.file_proposal, pid)
    return pid


@pytest.fixture
def library(db, wf, world) -> dict[str, int]:
    """Proposals in every state of disclosure, all about old neighbourhoods."""
    return {
        "lift": make(db, wf, world, "关于加快老旧小区加装电梯的建议", "老旧小区多为六层住宅。"),
        "parking": make(
            db,
            wf,
            world,
            "关于缓解老旧小区停车难的建议",
            "老旧小区夜间停车位缺口大。",
            disclose=False,
        ),
        "waste": make(
            db, wf, world, "关于老旧小区垃圾分类的建议", "老旧小区分类投放点少。", until="draft"
        ),
        "green": make(
            db, wf, world, "关于老旧小区绿化提升的建议", "老旧小区绿地被侵占。", until="submitted"
        ),
    }


async def start_search(chat: Chat) -> None:
    await chat.send("/menu")
    await chat.tap("🔍")


async def test_search_finds_disclosed_filed_proposals_only(db, wf, world, chat_as, library):
    chat = chat_as(world.member)
    await start_search(chat)
    assert "搜索的关键词" in chat.said
    await chat.send("老旧小区")
    assert "找到 1 件" in chat.said
    assert chat.buttons == ["2026年度第1号 关于加快老旧小区加装电梯的建议 · 已立案", "换个关键词"]
    for hidden in ("停车", "垃圾分类", "绿化"):
        await chat.send(hidden)  # a new search straight from the results
        assert f"没有找到与「{hidden}」相关的公开提案" in chat.said, hidden
    await chat.send("电梯")
    await chat.tap("2026年度第1号")
    assert "关于加快老旧小区加装电梯的建议" in chat.said and "当前状态:已立案" in chat.said
    assert chat.buttons == ["返回搜索结果", "换个关键词"]
    await chat.tap("换个关键词")
    assert state(db, chat)[:2] == ("search", "query")


async def test_a_disclosed_merged_proposal_is_public_from_the_merge_on(
    db, wf, world, chat_as, library
):
    """并案 takes a proposal up as filing does (handled with the main, its proposer answered
    too): disclosed, it is found and read from the merge on, not only once its reply comes;
    one not disclosed stays hidden."""
    story = Story(db, wf, world)
    shown = make(
        db, wf, world, "关于老旧小区电梯维保的建议", "老旧小区电梯维保缺位。", until="submitted"
    )
    hidden = make(
        db,
        wf,
        world,
        "关于老旧小区电梯更新的建议",
        "老旧小区电梯老化。",
        disclose=False,
        until="submitted",
    )
    for pid in (shown, hidden):
        story.run(world.staff, proposals.merge, pid, library["lift"])
    chat = chat_as(world.member)
    await start_search(chat)
    await chat.send("电梯")
    assert "找到 2 件" in chat.said
    assert "关于老旧小区电梯维保的建议 · 已并案" in " ".join(chat.buttons)
    assert "电梯更新" not in " ".join(chat.buttons)
    await chat.tap("未编号 关于老旧小区电梯维保")
    assert "关于老旧小区电梯维保的建议" in chat.said and "当前状态:已并案" in chat.said
    with db.read_session() as session:  # whatever path asks: the workflow's one rule
        ctx = wf.ctx(session, world.member)
        assert can_view(ctx, session.get(Proposal, shown))
        assert not can_view(ctx, session.get(Proposal, hidden))


async def test_a_number_with_its_year_finds_that_years_proposal(
    db, wf, world, chat_as, library, clock
):
    clock.set_local(2027, 1, 11)
    make(db, wf, world, "关于规范共享单车停放的建议", "共享单车乱停乱放。")  # 2027年度第1号
    chat = chat_as(world.member)
    await start_search(chat)
    await chat.send("2026-1")
    assert chat.buttons[0] == "2026年度第1号 关于加快老旧小区加装电梯的建议 · 已立案"
    assert "2027年度第1号 关于规范共享单车停放的建议 · 已立案" not in chat.buttons
    await chat.send("2027年度第1号")
    assert chat.buttons[0] == "2027年度第1号 关于规范共享单车停放的建议 · 已立案"


async def test_search_by_jieba_tokens_and_no_contact_details_for_the_public(
    db, wf, world, chat_as, clock
):
    Story(db, wf, world).delivered()
    outsider = chat_as(world.outsider)
    await start_search(outsider)
    await outsider.send("小学交通")  # no such phrase; its words are in the title
    assert "找到 1 件" in outsider.said
    await outsider.tap("2026年度第1号")
    # delivered to its signers, not yet published: the public learns only that it is answered
    assert "答复:已答复，公开后可在此查看" in outsider.said
    assert "答复类别" not in outsider.said and "收悉" not in outsider.said
    clock.advance(days=40)  # past 20 working days (the National Day week between)
    with db.session() as session:
        assert sweeps.SWEEPS["publication"](wf.ctx(session, None)) > 0
    await start_search(outsider)
    await outsider.send("小学交通")
    await outsider.tap("2026年度第1号")
    assert "答复类别:(B)类" in outsider.said and "收悉" in outsider.said
    assert "0839-8620101" not in outsider.said and "联系人" not in outsider.said

    handler = chat_as(world.handler_health)  # anyone bound may search
    await start_search(handler)
    await handler.send("护学岗 排班")
    assert "找到 1 件" in handler.said


async def test_search_results_come_eight_at_a_time(db, wf, world, chat_as):
    for i in range(10):
        make(db, wf, world, f"关于第{i + 1}片区菜市场改造的建议", "菜市场设施陈旧。")
    chat = chat_as(world.member)
    await start_search(chat)
    await chat.send("菜市场")
    assert "找到 10 件" in chat.said and "第 1–8 件，共 10 件" in chat.said
    assert chat.buttons[-2:] == ["更多", "换个关键词"] and len(chat.buttons) == 10
    await chat.tap("更多")
    assert "第 9–10 件" in chat.said
    assert chat.buttons[-2:] == ["回到第一页", "换个关键词"]
    await chat.tap(chat.buttons[0])
    assert "菜市场改造的建议" in chat.said
    await chat.tap("返回搜索结果")
    assert "第 9–10 件" in chat.said
    await chat.tap("回到第一页")
    assert "第 1–8 件" in chat.said


async def _to_query(chat):
    await start_search(chat)


async def _to_results(chat):
    await start_search(chat)
    await chat.send("电梯")


async def _to_show(chat):
    await _to_results(chat)
    await chat.tap("2026年度第1号")


STEPS = {"query": (_to_query, True), "results": (_to_results, True), "show": (_to_show, False)}


@pytest.mark.parametrize("step", list(STEPS))
async def test_bad_input_at_every_search_step_changes_nothing(
    db, wf, world, chat_as, library, step
):
    reach, takes_text = STEPS[step]
    chat = chat_as(world.member)
    await reach(chat)
    assert state(db, chat)[:2] == ("search", step)
    stale = f"{state(db, chat)[2] - 1}|new"  # a button of the message before
    before = rows(db)

    async def check(expected: str) -> None:
        assert expected in chat.said, (expected, chat.said)
        assert APOLOGY not in chat.said
        assert state(db, chat)[:2] == ("search", step)
        assert rows(db) == before

    wrong_kind = "内容不能为空" if takes_text else "这一步需要"
    await chat.send("")
    await check(wrong_kind)
    await chat.send("  \n ")
    await check(wrong_kind)
    await chat.send("搜" * 10_000)
    await check("关键词太长了" if takes_text else "这一步需要")
    await chat.send("😀🔍")
    await check("请用文字或数字发送关键词" if takes_text else "这一步需要")
    await chat.upload("清单.xlsx", b"PK\x03\x04 sample")
    await check("这一步需要")
    if not takes_text:
        await chat.send("电梯")
        await check("这一步需要")
    await chat.press(stale)
    await check("按钮已过期")
    version = state(db, chat)[2]
    for name in ("parking", "waste", "green"):  # never offered: not disclosed, or not filed
        await chat.press(f"{version}|p:{library[name]}")
        await check("选项无效")
        version = state(db, chat)[2]
    await chat.press("rate:abc:x")
    await check("无法识别这个操作")
    await chat.send("/review")
    await check("没有这个命令")
