"""Binding, the menu and the commands that work anywhere, as transcripts."""

from __future__ import annotations

from sqlmodel import select

from storage.models import BindAttempt, ChannelAccount, Conversation
from tests.chat import Chat
from tests.factories import Story
from workflow.invites import issue_invite


def invite(db, wf, person_id) -> str:
    with db.session() as session:
        return issue_invite(wf.ctx(session, None), person_id)


async def test_binding_with_a_deep_link_code_then_the_menu(db, wf, world, engine):
    chat = Chat(engine, "tg-1001")
    await chat.send("你好")
    assert "邀请码" in chat.said and chat.last[-1].expects == "contact"
    code = invite(db, wf, world.member)
    await chat.send(f"/start {code}")
    assert "绑定成功，林晓" in chat.said
    assert "林晓，您好" in chat.said and "🔎 审查队列" not in chat.buttons


async def test_binding_by_a_typed_code_and_wrong_codes_are_limited(db, wf, world, engine):
    chat = Chat(engine, "tg-1002")
    for _ in range(wf.rules.invite_max_failures):
        await chat.send("WRQNGC2DE3")  # the form of a code, not one issued
        assert "邀请码不正确" in chat.said
    code = invite(db, wf, world.staff)
    await chat.send(code)
    assert "尝试次数过多" in chat.said
    with db.read_session() as s:
        assert s.exec(select(ChannelAccount)).all() == []
        assert len(s.exec(select(BindAttempt)).all()) == wf.rules.invite_max_failures


async def test_binding_by_shared_phone_only_ones_own(db, wf, world, engine):
    chat = Chat(engine, "tg-1003")
    await chat.share_contact("+86 138 0000 0010", is_self=False)
    assert "本人" in chat.said
    await chat.share_contact("+86 138 0000 0099")
    assert "名册中没有这个手机号" in chat.said
    await chat.share_contact("+86 138 0000 0010")
    assert "绑定成功，许静" in chat.said and "许静，您好" in chat.said


def bound_to(db, external_id: str) -> int | None:
    with db.read_session() as s:
        account = s.exec(
            select(ChannelAccount).where(ChannelAccount.external_id == external_id)
        ).first()
        return account.person_id if account else None


def attempts(db) -> int:
    with db.read_session() as s:
        return len(s.exec(select(BindAttempt)).all())


async def test_a_shared_number_binds_only_as_the_mainland_mobile_it_is(db, wf, world, engine):
    # A contact's number is international, "+" or not: 13800000010 is +1 380-000-0010.
    stranger = Chat(engine, "tg-nanp")
    await stranger.share_contact("13800000010")
    assert "名册中没有这个手机号" in stranger.said
    assert bound_to(db, "tg-nanp") is None
    owner = Chat(engine, "tg-owner")
    await owner.share_contact("8613800000010")  # 许静's, as Telegram sends it
    assert "绑定成功，许静" in owner.said


async def test_a_typed_phone_number_or_a_greeting_is_not_taken_for_a_code(db, wf, world, engine):
    chat = Chat(engine, "tg-typed")
    await chat.send("13800000010")
    assert "请点下方按钮分享您的手机号码" in chat.said and chat.last[-1].expects == "contact"
    await chat.send("Good morning")
    assert "这不是邀请码的格式" in chat.said
    assert attempts(db) == 0  # neither counts against the limit
    assert bound_to(db, "tg-typed") is None


async def test_a_code_typed_in_full_width_binds(db, wf, world, engine):
    code = invite(db, wf, world.member)
    chat = Chat(engine, "tg-fullwidth")
    await chat.send("".join(chr(ord(c) + 0xFEE0) for c in code))  # ＫＶ３ＨＢ…
    assert "绑定成功，林晓" in chat.said


async def test_a_deactivated_person_is_told_so_when_sharing_their_phone(db, wf, world, engine):
    from storage.models import Person

    with db.session() as s:
        person = s.get(Person, world.staff)
        assert person is not None
        person.active = False
        s.add(person)
    chat = Chat(engine, "tg-gone")
    await chat.share_contact("+86 138 0000 0010")
    assert "账号已停用" in chat.said
    assert bound_to(db, "tg-gone") is None


async def test_unbound_people_can_do_nothing_else(db, wf, world, engine):
    chat = Chat(engine, "tg-1004")
    for attempt in ("/menu", "/status 1", "/help", "？"):
        await chat.send(attempt)
        assert "邀请码" in chat.said, attempt
    await chat.press("rate:1:satisfied")
    assert "邀请码" in chat.said


async def test_menu_cancel_help_and_stale_buttons(db, wf, world, chat_as):
    chat = chat_as(world.member)
    await chat.send("/menu")
    assert "林晓，您好" in chat.said
    old = chat.payload_of("🌐")
    await chat.tap("🌐")
    assert "请选择语言" in chat.said
    await chat.press(old)
    assert "按钮已过期" in chat.said and "请选择语言" in chat.said
    await chat.send("/help")
    assert "请点选一种语言" in chat.said
    await chat.send("随便说点什么")
    assert "这一步需要" in chat.said
    await chat.send("/cancel")
    assert "已取消" in chat.said and "林晓，您好" in chat.said
    await chat.send("/cancel")  # at the menu: nothing was going on to cancel
    assert chat.said.startswith("当前没有进行中的操作。") and "林晓，您好" in chat.said


async def test_forged_payloads_change_nothing(db, wf, world, chat_as):
    chat = chat_as(world.member)
    await chat.send("/menu")
    payload = chat.payload_of("🌐")
    version = payload.split("|")[0]
    await chat.press(f"{version}|review")  # the staff menu item, not offered to a member
    assert "选项无效" in chat.said
    await chat.press("garbage")
    assert "无法识别" in chat.said
    with db.read_session() as s:
        conv = s.exec(select(Conversation)).one()
    assert conv.flow == "menu"


async def test_status_shows_the_record_to_those_who_may_see_it(db, wf, world, chat_as):
    story = Story(db, wf, world)
    story.filed()
    chat = chat_as(world.member)
    await chat.send("/status 1")
    assert "编 号:2026年度第1号" in chat.said and "提案编号:2026年度第1号" in chat.said
    await chat.send("/status 99")
    assert "2026年度没有第99号提案" in chat.said
    await chat.send("/status abc")
    assert "请发送提案编号" in chat.said


async def test_a_number_is_this_years_and_a_year_typed_with_it_reaches_another(
    db, wf, world, chat_as, clock
):
    """Numbers restart every year: in January 2027 there are a 第1号 of 2026 and of 2027."""
    story = Story(db, wf, world)
    story.filed(title="关于改善城区小学放学时段交通秩序的建议")  # 2026年度第1号
    story.filed(title="关于增设社区老年食堂的建议")  # 2026年度第2号
    clock.set_local(2027, 1, 11)
    story.filed(title="关于规范共享单车停放的建议")  # 2027年度第1号
    chat = chat_as(world.member)
    await chat.send("/status 1")  # without a year: this year's
    assert "编 号:2027年度第1号" in chat.said and "共享单车" in chat.said
    for typed in (
        "2026-1",
        "2026/1",
        "2026年1号",
        "2026年第〔1〕号",
        "2026年度第1号",
        "２０２６－１",
    ):
        await chat.send(f"/status {typed}")
        assert "编 号:2026年度第1号" in chat.said and "放学时段" in chat.said, typed
        assert "立案，编号2026年度第1号" in chat.said, typed
    await chat.send("/status 2")  # this year has no 第2号 yet: the refusal names last year's
    assert (
        "2027年度没有第2号提案；有此编号的是2026年度第2号，请连同年度发送，如 2026-2。"
    ) in chat.said
    await chat.send("/status 2026-2")
    assert "编 号:2026年度第2号" in chat.said and "老年食堂" in chat.said
    await chat.send("/status 2027-2")
    assert "2027年度没有第2号提案。" in chat.said
    await chat.send("/status 9")
    assert "2027年度没有第9号提案。" in chat.said and "有此编号" not in chat.said


async def test_a_number_before_this_years_first_filing_is_last_years(
    db, wf, world, chat_as, clock
):
    story = Story(db, wf, world)
    story.filed()  # 2026年度第1号
    clock.set_local(2027, 1, 11)
    story.submitted(title="关于规范共享单车停放的建议")  # 2027's, not numbered yet
    chat = chat_as(world.member)
    await chat.send("/status 1")
    assert "编 号:2026年度第1号" in chat.said


async def test_language_switch_is_per_person(db, wf, world, chat_as):
    chat = chat_as(world.member)
    await chat.send("/lang")
    await chat.tap("English")
    assert chat.said  # answered in the new language
    other = chat_as(world.staff)
    await other.send("/menu")
    assert "您好" in other.said


def test_two_first_events_at_once_make_one_conversation(db, wf, world, engine):
    """Two updates from a new account handled at the same moment (two bot processes)."""
    import threading

    from handlers.messages import Event, Sender

    sender = Sender("test", "tg-race")
    barrier = threading.Barrier(2)
    answers: list = []

    def first_event(text):
        barrier.wait()
        answers.append(engine.handle(sender, Event.of_text(text)))

    threads = [threading.Thread(target=first_event, args=(t,)) for t in ("你好", "在吗")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == 2 and all("邀请码" in a[-1].text for a in answers)
    with db.read_session() as s:
        [conv] = s.exec(select(Conversation)).all()
    assert conv.version == 2


async def test_after_a_refused_step_its_buttons_work_and_older_ones_are_stale(
    db, wf, world, chat_as
):
    """A refusal undoes the step's changes but not the conversation's move to a new version:
    the buttons shown with the refusal work, the ones before it have expired."""
    from workflow import proposals

    story = Story(db, wf, world)
    pid = story.submitted()
    chat = chat_as(world.member)
    await chat.send("/menu")
    await chat.tap("📋 我的提案")
    await chat.tap("未编号")
    await chat.tap("↩️ 撤回提案")
    await chat.tap("跳过")
    before = chat.payload_of("确认撤回")
    with db.read_session() as s:
        version = s.exec(select(Conversation)).one().version
    story.run(world.staff, proposals.file_proposal, pid)  # staff were faster

    await chat.tap("确认撤回")
    assert "无法再撤回" in chat.said and chat.buttons == ["返回列表"]
    with db.read_session() as s:
        assert s.exec(select(Conversation)).one().version == version + 1
    await chat.press(before)
    assert "按钮已过期" in chat.said
    await chat.tap("返回列表")  # shown with the refusal: it works
    assert "点选一件查看记录" in chat.said and "按钮已过期" not in chat.said
    assert chat.buttons == ["2026年度第1号 关于改善城区小学放学时段交通秩… · 已立案"]


async def test_on_a_numbered_channel_a_label_is_named_without_its_emoji(db, wf, world, chat_as):
    """On WeChat and the console the choices are numbered lines; people answer with the
    number or the label, and type the label's words, not the emoji before them."""
    import asyncio

    from handlers.messages import Event

    chat = chat_as(world.member, channel="console")

    async def typed(text: str) -> str:
        out = await asyncio.to_thread(
            chat.engine.handle, chat.sender, Event.of_text(text, numbered=True)
        )
        chat.last = out
        return "\n".join(o.text for o in out)

    assert "林晓，您好" in await typed("/menu")
    assert "您还没有保存的草稿" in await typed("我的草稿")  # 🗂 我的草稿
    assert "请发送提案标题" in await typed("新建提案")  # 📝 新建提案
    await typed("关于加快老旧小区加装电梯的建议")
    await typed("委员提案")
    await typed("城乡建设")
    said = await typed("老旧小区没有电梯，老年人上下楼困难。")
    assert "已记录" in said
    assert "请写「建议」" in await typed("完成")  # ✅ 完成
    # a text that only resembles a label stays text
    assert "已记录" in await typed("完成加装电梯的小区很少。")
