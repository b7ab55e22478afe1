"""The Telegram channel's own behaviour, over HTTP against the fake Bot API server: buttons
that expire, markup that cannot be injected, contacts, groups, files and long records."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest
from sqlmodel import select
from telegram import Update

from bot.telegram import inbox
from bot.telegram.channel import TelegramChannel
from storage.models import Attachment, ChannelAccount, Conversation, InboundUpdate, Proposal
from tests.fake_telegram import FakeTelegram
from tests.telegram_harness import (
    Person,
    bind,
    disclose_and_invite_up_to_preview,
    make_app,
    running,
    text_message,
    write_up_to_attachments,
)

WAIT_S = 10.0
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 64


@pytest.fixture
async def bot(db, wf, world, tmp_path):
    async with FakeTelegram(time_scale=20) as tg:
        app = make_app(db, wf, tmp_path, tg)
        async with running(app):
            yield tg, app


async def test_what_the_start_made_is_out_of_the_collectors_reach_while_the_bot_runs(
    db, wf, world, tmp_path
):
    """Once started (the word index built), the objects the start made are frozen: Python's
    full collections no longer walk them, which stopped every thread for ~100 ms each. When
    the bot stops they are given back."""
    assert gc.get_freeze_count() == 0
    async with FakeTelegram(time_scale=20) as tg:
        app = make_app(db, wf, tmp_path, tg)
        async with running(app):
            for _ in range(200):
                if gc.get_freeze_count():
                    break
                await asyncio.sleep(0.05)
            assert gc.get_freeze_count() > 10_000  # modules, mappers, the bot's objects
            member = bind(db, wf, tg, world.member, 501, "林晓")
            await member.send("/menu", expect="林晓，您好！")  # and it answers as before
    assert gc.get_freeze_count() == 0


async def test_a_polled_update_is_stored_as_telegram_sent_it(bot, db, wf, world, monkeypatch):
    """The durable queue keeps the JSON the getUpdates answer carried, field for field, and
    never turns the parsed update back into a dict (python-telegram-bot's costliest step of
    an update outside the engine); an update pushed with a field the library does not know
    keeps it."""
    tg, _app = bot
    member = bind(db, wf, tg, world.member, 501, "林晓")
    pushed: list[dict] = []
    push = tg.push_update
    monkeypatch.setattr(
        tg, "push_update", lambda update: pushed.append(push(update)) or pushed[-1]
    )

    def refused(self, *args, **kwargs):
        raise AssertionError("a polled update was turned back into a dict")

    monkeypatch.setattr(Update, "to_dict", refused)
    await member.send("/menu", expect="林晓，您好！")
    tg.push_update(
        text_message(501, "林晓", "/help", 9001, a_field_of_a_later_bot_api={"kept": True})
    )
    await member.send("/menu", expect="林晓，您好！")  # one chat's updates go in order
    with db.read_session() as session:
        stored = {
            int(u.external_key.split(":")[1]): u.payload
            for u in session.exec(select(InboundUpdate).where(InboundUpdate.state == "done"))
        }
    assert len(pushed) == 3
    for update in pushed:
        assert stored[update["update_id"]] == update


def held_engine(app, monkeypatch) -> tuple[threading.Event, list[str]]:
    """The engine waits, before each update, until the event is set; (the event, the texts
    of the updates that reached it)."""
    release, reached = threading.Event(), []
    handle = app.engine.handle

    def held(sender, event, **kwargs):
        reached.append(event.text)
        assert release.wait(WAIT_S)
        return handle(sender, event, **kwargs)

    monkeypatch.setattr(app.engine, "handle", held)
    return release, reached


async def test_an_update_handled_before_the_next_fetch_is_kept_by_its_own_transaction(
    bot, db, wf, world, monkeypatch
):
    """One update, one transaction: the transaction that applies a polled update inserts it,
    done; nothing stores it beforehand. Telegram is told it arrived only after that. (The
    hold is raised so that a slow machine handling an update in more than the usual 20 ms
    still handles it within the hold.)"""
    monkeypatch.setattr(inbox.DurableUpdateQueue, "HOLD_SECONDS", 5.0)
    tg, _app = bot
    member = bind(db, wf, tg, world.member, 501, "林晓")
    stores: list[list[str]] = []
    store_many = inbox.store_many

    def counted(db_, updates, now=None):
        stores.append([key for key, _payload in updates])
        return store_many(db_, updates, now)

    monkeypatch.setattr(inbox, "store_many", counted)
    await member.send("/menu", expect="林晓，您好！")
    await member.send("/help", expect="/menu")
    await member.send("/menu", expect="林晓，您好！")
    assert stores == []
    assert tg.updates_pending() == 0
    with db.read_session() as session:
        kept = session.exec(select(InboundUpdate)).all()
    assert [u.state for u in kept] == ["done"] * 3
    assert all(u.done_at is not None and u.payload["message"]["text"] for u in kept)


async def test_an_update_is_confirmed_once_its_transaction_commits_not_after_its_replies(
    bot, db, wf, world, monkeypatch
):
    """An update is kept when the transaction that applied it commits: the getUpdates that
    confirms it, and fetches everyone else's updates, does not wait for its replies to be
    sent (on a slow network, seconds), nor stores it again. (The hold is raised: were the
    fetch waiting for the replies, it would wait for them, not store the update.)"""
    monkeypatch.setattr(inbox.DurableUpdateQueue, "HOLD_SECONDS", 5.0)
    tg, _app = bot
    member = bind(db, wf, tg, world.member, 501, "林晓")
    other = bind(db, wf, tg, world.outsider, 502, "曹磊")
    await member.send("/menu", expect="林晓，您好！")
    await other.send("/menu", expect="曹磊，您好！")
    stores: list[list[str]] = []
    store_many = inbox.store_many

    def counted(db_, updates, now=None):
        stores.append([key for key, _payload in updates])
        return store_many(db_, updates, now)

    monkeypatch.setattr(inbox, "store_many", counted)
    replies_go, replying = asyncio.Event(), asyncio.Event()
    send_outs = TelegramChannel.send_outs

    async def slow_network(self, chat_id, outs, locale, **kwargs):
        if chat_id == 501:
            replying.set()
            await replies_go.wait()
        await send_outs(self, chat_id, outs, locale, **kwargs)

    monkeypatch.setattr(TelegramChannel, "send_outs", slow_network)
    tg.push_update(text_message(501, "林晓", "/help"))
    await asyncio.wait_for(replying.wait(), WAIT_S)  # applied and committed; replies held
    for _ in range(200):
        if not tg.updates_pending():
            break
        await asyncio.sleep(0.01)
    assert tg.updates_pending() == 0  # confirmed while its replies are still on their way
    await other.send("/help", expect="/menu")  # someone else is answered meanwhile
    assert stores == []  # kept by its own transaction, never stored again
    replies_go.set()
    await member.user.wait_for("/menu", timeout=WAIT_S)
    with db.read_session() as session:
        states = [u.state for u in session.exec(select(InboundUpdate))]
    assert states == ["done"] * 4


async def test_updates_still_being_handled_are_stored_together_before_telegram_is_told(
    bot, db, wf, world, monkeypatch
):
    """Updates whose handling takes longer than the queue's hold are kept in one
    transaction, pending, and the getUpdates whose offset confirms them to Telegram waits
    until they are; their handling then marks them done."""
    tg, app = bot
    member = bind(db, wf, tg, world.member, 501, "林晓")
    await member.send("/menu", expect="林晓，您好！")
    engine_go, reached = held_engine(app, monkeypatch)
    batches: list[list[str]] = []
    store_go = threading.Event()
    store_many = inbox.store_many

    def held(db_, updates, now=None):
        batches.append([key for key, _payload in updates])
        assert store_go.wait(WAIT_S)
        return store_many(db_, updates, now)

    monkeypatch.setattr(inbox, "store_many", held)
    for _ in range(5):
        tg.push_update(text_message(501, "林晓", "/help"))
    for _ in range(200):
        if batches:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # long enough for the next getUpdates, were it not held
    assert reached == ["/help"]  # the first is being handled, the rest wait their turn
    assert len(batches) == 1 and len(batches[0]) == 5
    assert tg.updates_pending() == 5  # none confirmed while they are not kept
    store_go.set()
    for _ in range(200):
        if not tg.updates_pending():
            break
        await asyncio.sleep(0.01)
    assert tg.updates_pending() == 0  # kept, though not handled yet
    with db.read_session() as session:
        states = [u.state for u in session.exec(select(InboundUpdate))]
    assert states == ["done", "pending", "pending", "pending", "pending", "pending"]
    engine_go.set()
    await member.send("/menu", expect="林晓，您好！")
    assert reached == ["/help"] * 5 + ["/menu"]
    with db.read_session() as session:
        states = [u.state for u in session.exec(select(InboundUpdate))]
    assert states == ["done"] * 7


async def test_updates_that_could_not_be_stored_are_stored_later_and_only_then_confirmed(
    bot, db, wf, world, monkeypatch, caplog
):
    tg, app = bot
    member = bind(db, wf, tg, world.member, 501, "林晓")
    await member.send("/menu", expect="林晓，您好！")
    monkeypatch.setattr(inbox.DurableUpdateQueue, "RETRY_SECONDS", 0.3)
    engine_go, _reached = held_engine(app, monkeypatch)  # so that storing is needed
    failures = [OSError("disk I/O error")]
    store_many = inbox.store_many

    def failing_once(db_, updates, now=None):
        if failures:
            raise failures.pop()
        return store_many(db_, updates, now)

    monkeypatch.setattr(inbox, "store_many", failing_once)
    tg.push_update(text_message(501, "林晓", "/help"))
    for _ in range(200):
        if not failures:
            break
        await asyncio.sleep(0.01)
    assert not failures and tg.updates_pending() == 1  # failed once; not confirmed
    for _ in range(200):
        if not tg.updates_pending():
            break
        await asyncio.sleep(0.01)
    assert tg.updates_pending() == 0  # stored on the second try, then confirmed
    engine_go.set()
    await member.send("/menu", expect="林晓，您好！")
    with db.read_session() as session:
        assert [u.state for u in session.exec(select(InboundUpdate))] == ["done"] * 3
    assert "could not be stored; trying again" in caplog.text


async def test_an_update_whose_handling_breaks_off_is_stored_and_handled_at_the_next_start(
    db, wf, world, tmp_path, monkeypatch
):
    """An unexpected failure before the update's outcome is committed leaves nothing
    applied; the update is not lost: stored, pending, before Telegram is told it arrived,
    and handled when the bot starts again."""
    from bot.telegram.channel import TelegramChannel

    event = TelegramChannel._event
    broken = [RuntimeError("the channel broke off")]

    async def breaks_once(self, update, *args):
        if broken and update.message is not None and update.message.text == "/help":
            raise broken.pop()
        return await event(self, update, *args)

    monkeypatch.setattr(TelegramChannel, "_event", breaks_once)
    async with FakeTelegram(time_scale=20) as tg:
        app = make_app(db, wf, tmp_path, tg)
        async with running(app):
            member = bind(db, wf, tg, world.member, 501, "林晓")
            await member.send("/menu", expect="林晓，您好！")
            menu = member.user.messages[-1]
            tg.push_update(text_message(501, "林晓", "/help"))
            for _ in range(200):
                if not broken and not tg.updates_pending():
                    break
                await asyncio.sleep(0.01)
            assert not broken and tg.updates_pending() == 0
            with db.read_session() as session:
                states = [u.state for u in session.exec(select(InboundUpdate))]
            assert states == ["done", "pending"]
            assert member.user.messages[-1] is menu  # /help was not answered
        app = make_app(db, wf, tmp_path, tg)
        async with running(app):
            await member.user.wait_for("/menu", timeout=WAIT_S, since=menu)  # at the start
    with db.read_session() as session:
        kept = session.exec(select(InboundUpdate)).all()
    assert [(u.state, u.attempts) for u in kept] == [("done", 0), ("done", 1)]


async def test_an_update_that_fails_and_cannot_be_set_aside_is_stored_for_the_next_start(
    db, wf, world, tmp_path, monkeypatch
):
    """The engine fails on an update, and recording it as failed fails too (the database
    went away for a moment): the person is asked to try again, and the update is stored,
    pending, before Telegram is told it arrived, to be handled at the next start."""
    async with FakeTelegram(time_scale=20) as tg:
        app = make_app(db, wf, tmp_path, tg)
        async with running(app):
            member = bind(db, wf, tg, world.member, 501, "林晓")
            await member.send("/menu", expect="林晓，您好！")
            handle, mark_failed = app.engine.handle, inbox.mark_failed
            unrecorded = [OSError("database is locked")]

            def failing(sender, event, **kwargs):
                if event.text == "/help":
                    raise RuntimeError("the step broke")
                return handle(sender, event, **kwargs)

            def not_recorded(*args):
                if unrecorded:
                    raise unrecorded.pop()
                return mark_failed(*args)

            monkeypatch.setattr(app.engine, "handle", failing)
            monkeypatch.setattr(inbox, "mark_failed", not_recorded)
            await member.send("/help", expect="暂时无法处理这条消息")
            for _ in range(200):
                if not tg.updates_pending():
                    break
                await asyncio.sleep(0.01)
            assert not unrecorded and tg.updates_pending() == 0
            with db.read_session() as session:
                states = [u.state for u in session.exec(select(InboundUpdate))]
            assert states == ["done", "pending"]
            menu = member.user.messages[-1]
        monkeypatch.undo()
        app = make_app(db, wf, tmp_path, tg)
        async with running(app):
            await member.user.wait_for("/menu", timeout=WAIT_S, since=menu)  # at the start
    with db.read_session() as session:
        kept = session.exec(select(InboundUpdate)).all()
    assert [(u.state, u.attempts) for u in kept] == [("done", 0), ("done", 1)]


def test_an_update_is_kept_once_whichever_keeps_it_first(db):
    """The update's own transaction and the store of updates still being handled may reach
    the same update in either order; it ends kept once, with the handling's outcome, and is
    never applied twice."""

    def state(key):
        with db.read_session() as session:
            rows = session.exec(select(InboundUpdate).where(InboundUpdate.external_key == key))
            return [(u.state, u.payload) for u in rows]

    first, second, third = ({"update_id": n, "message": {"text": "/help"}} for n in (1, 2, 3))
    # Handled before the store reached it: the store leaves it alone and queues nothing.
    with db.session() as session:
        inbox.mark_done(session, "b:1", first)
    assert inbox.store_many(db, [("b:1", first)]) == set()
    assert state("b:1") == [("done", first)]
    # Stored first (pending), then handled.
    assert inbox.store_many(db, [("b:2", second)]) == {"b:2"}
    with db.session() as session:
        inbox.mark_done(session, "b:2", second)
    assert state("b:2") == [("done", second)]
    # Either way, handling it again is refused.
    for key, payload in (("b:1", first), ("b:2", second), ("b:2", None)):
        with pytest.raises(inbox.AlreadyHandled), db.session() as session:
            inbox.mark_done(session, key, payload)
    # Set aside before it was ever stored: kept as failed, never handled after.
    inbox.mark_failed(db, "b:3", third)
    assert state("b:3") == [("failed", third)]
    with pytest.raises(inbox.AlreadyHandled), db.session() as session:
        inbox.mark_done(session, "b:3", third)
    assert state("b:3") == [("failed", third)]


def conversation(db, uid: int) -> Conversation:
    with db.read_session() as session:
        return session.exec(select(Conversation).where(Conversation.external_id == str(uid))).one()


# ---------------------------------------------------------------- buttons


async def test_a_tapped_prompt_keeps_its_text_and_says_what_was_chosen(bot, db, wf, world):
    tg, _ = bot
    member = bind(db, wf, tg, world.member, 501, "林晓")
    await member.send("/menu", expect="林晓，您好！")
    menu = member.user.last
    await member.tap("新建提案", expect="标题")
    edited = next(m for m in member.user.messages if m.message_id == menu.message_id)
    assert edited.text.startswith("林晓，您好！请选择要办理的事项：")
    assert edited.text.endswith("✔ 已选择：📝 新建提案")
    assert edited.buttons == []  # the old keyboard is gone
    assert [a.query_id for a in tg.callback_answers]  # the tap was answered


async def test_a_tapped_prompt_keeps_its_entities_where_they_were(bot, db, wf, world):
    """The choice is added after the tapped message's text as Telegram holds it, and the
    entities Telegram found in it (a link the member typed in the title) stay where they
    were: the edit is sent as text and entities, never as markup made again."""
    tg, _ = bot
    member = bind(db, wf, tg, world.member, 501, "林晓")
    await member.send("/menu", expect="林晓，您好！")
    await write_up_to_attachments(member, "关于完善 https://gov.example.cn 政务公开栏目的建议")
    await disclose_and_invite_up_to_preview(member, "何平")
    asked = member.user.last  # the preview, the title in it, 提交 under it
    links = [e for e in asked.entities if e["type"] == "url"]
    assert links and "提交" in " ".join(asked.buttons), (asked.text, asked.entities)
    text, entities = asked.text, list(asked.entities)

    await member.tap("📤 提交", expect="正在等待提案委审查")
    edited = next(m for m in member.user.messages if m.message_id == asked.message_id)
    assert edited.text == text + "\n\n✔ 已选择：📤 提交"
    assert edited.entities == entities and edited.buttons == []
    edit = [r for r in tg.requests if r.method == "editMessageText"][-1]
    assert str(edit.params["message_id"]) == str(asked.message_id)
    assert "parse_mode" not in edit.params


def test_a_callback_querys_message_reaches_python_telegram_bot_cut_to_its_id():
    """python-telegram-bot makes objects of the message a button was under from its id,
    chat and date only; the update is kept whole, as Telegram sent it."""
    message = {
        "message_id": 7,
        "date": 1765000000,
        "chat": {"id": 501, "type": "private"},
        "text": "请选择提案类别：",
        "entities": [{"type": "bold", "offset": 0, "length": 2}],
        "reply_markup": {"inline_keyboard": [[{"text": "委员提案", "callback_data": "3|member"}]]},
    }
    update = {
        "update_id": 9,
        "callback_query": {"id": "1", "data": "3|member", "message": message},
    }
    cut = inbox.lean(update)
    assert cut["callback_query"]["message"] == {
        "message_id": 7,
        "date": 1765000000,
        "chat": {"id": 501, "type": "private"},
    }
    assert cut["callback_query"]["data"] == "3|member" and cut["update_id"] == 9
    assert update["callback_query"]["message"] is message and "text" in message  # untouched
    text = {"update_id": 10, "message": message}
    assert inbox.lean(text) is text  # a message of the person's own is given whole


async def test_the_tapped_prompt_loses_its_buttons_before_the_next_question_arrives(
    bot, db, wf, world
):
    """Even when the edit has to wait (Telegram asked for a second's pause), the next
    question comes after it: no quick second tap can find the old buttons."""
    tg, _ = bot
    member = bind(db, wf, tg, world.member, 501, "林晓")
    await member.send("/menu", expect="林晓，您好！")
    menu = member.user.last
    tg.inject("editMessageText", "429", times=1, retry_after=1)
    await member.tap("新建提案", expect="标题")
    calls = [r for r in tg.requests if r.method in ("editMessageText", "sendMessage")]
    edited = next(
        i
        for i, r in enumerate(calls)
        if r.method == "editMessageText"
        and r.ok
        and str(r.params["message_id"]) == str(menu.message_id)
    )
    asked = next(i for i, r in enumerate(calls) if "标题" in str(r.params.get("text", "")))
    assert edited < asked
    old = next(m for m in member.user.messages if m.message_id == menu.message_id)
    assert old.buttons == [] and old.text.endswith("✔ 已选择：📝 新建提案")


async def test_a_stale_button_says_it_expired_and_shows_the_current_step(bot, db, wf, world):
    tg, _ = bot
    member = bind(db, wf, tg, world.member, 501, "林晓")
    await member.send("/menu", expect="您好")
    menu = member.user.last
    payload = menu.callback_data[0]
    await member.tap("新建提案", expect="标题")
    before = conversation(db, 501)
    await member.user.press(payload, menu.message_id)  # the old menu's first button
    await member.settle("这个按钮已过期，没有做任何更改。当前这一步是：")
    assert "请发送提案标题" in member.user.last.text or "标题" in member.user.last.text
    after = conversation(db, 501)
    assert (after.flow, after.step) == (before.flow, before.step)
    assert len(tg.callback_answers) == 2


async def test_a_forged_button_naming_another_members_proposal_changes_nothing(bot, db, wf, world):
    tg, _ = bot
    from tests.factories import Story

    pid, _lead, _reply = Story(db, wf, world).delivered()  # 林晓's proposal, reply delivered
    outsider = bind(db, wf, tg, world.outsider, 504, "曹磊")
    await outsider.send("/menu", expect="您好")
    await outsider.user.press(f"rate:{pid}:satisfied", outsider.user.last.message_id)
    await outsider.settle("只有这件提案的提案人和联名委员可以评价答复")
    with db.read_session() as session:
        assert session.get(Proposal, pid).status == "delivered"
    with db.read_session() as session:
        assert session.exec(select(InboundUpdate).where(InboundUpdate.state != "done")).all() == []


async def test_text_a_person_types_is_shown_as_typed_never_as_markup(bot, db, wf, world):
    tg, _ = bot
    member = bind(db, wf, tg, world.member, 501, "林晓")
    title = '关于<b>加粗</b>和<a href="https://evil.example">链接</a>的建议 *星号* _下划线_'
    await member.send("/new", expect="标题")
    await member.send(title, expect="草稿已建立")
    said = [m for m in member.user.messages if title in (m.text or "")]
    assert said, member.said
    for message in said:
        kinds = {e["type"] for e in message.entities}
        assert not kinds & {"bold", "italic", "text_link", "underline", "code", "pre"}
    with db.read_session() as session:
        assert session.exec(select(Proposal)).one().title == title


# ---------------------------------------------------------------- binding


async def test_only_ones_own_phone_number_binds(bot, db, world):
    tg, _ = bot
    stranger = Person(tg, tg.user(id=777, first_name="某人"))
    await stranger.send("/start", expect="请先绑定身份")
    assert stranger.user.keyboard == [["📱 发送我的手机号"]]
    await stranger.share_contact("13800000001", user_id=778, expect="不能分享别人的名片")
    await stranger.share_contact("13800000001", user_id=0, expect="不能分享别人的名片")
    with db.read_session() as session:
        assert session.exec(select(ChannelAccount)).all() == []
    member = Person(tg, tg.user(id=501, first_name="林晓"))
    await member.send("/start", expect="请先绑定身份")
    await member.share_contact("+86 138-0000-0001", expect="绑定成功，林晓！")
    assert member.user.keyboard is None  # the phone keyboard is taken away


async def test_unbound_people_get_the_binding_menu_only(bot, db):
    tg, _ = bot
    stranger = Person(tg, tg.user(id=777, first_name="某人"))
    await stranger.send("/new", expect="请先绑定身份")
    assert [c["command"] for c in tg.commands_for("chat", chat_id=777)] == ["start", "help"]


# ---------------------------------------------------------------- groups


async def test_the_bot_declines_politely_in_a_group_and_leaves(bot, db, world):
    tg, _ = bot
    user = tg.user(id=501, first_name="林晓")
    await user.add_bot_to_group(chat_id=-1001, title="提案委工作群")
    await tg.wait_request("leaveChat", timeout=10)
    group = tg.chat_messages(-1001)
    assert len(group) == 1 and "只在私聊中办理" in group[0].text
    await user.send_in_group("/start", chat_id=-1002, title="另一个群")
    await tg.wait_request("leaveChat", count=2, timeout=10)
    with db.read_session() as session:
        assert session.exec(select(Conversation)).all() == []  # nothing of a group is kept


# ---------------------------------------------------------------- files


async def test_photos_and_documents_become_attachments(bot, db, wf, world):
    tg, _ = bot
    member = bind(db, wf, tg, world.member, 501, "林晓")
    await write_up_to_attachments(member, "关于规范校园周边接送车辆停放的建议")
    await member.upload(
        "调研报告.pdf", PDF, "application/pdf", expect="已收到附件「调研报告.pdf」"
    )
    await member.user.upload("现场.png", PNG, "image/png", as_photo=True)
    await member.settle("已收到附件")
    with db.read_session() as session:
        files = session.exec(select(Attachment).order_by(Attachment.id)).all()
    assert [(f.filename, f.size) for f in files][0] == ("调研报告.pdf", len(PDF))
    assert files[1].filename.startswith("photo-") and files[1].mime_type.startswith("image/")


async def test_a_file_over_the_download_limit_is_refused_before_it_is_fetched(bot, db, wf, world):
    tg, _ = bot
    member = bind(db, wf, tg, world.member, 501, "林晓")
    await write_up_to_attachments(member, "关于规范校园周边接送车辆停放的建议")
    big = b"%PDF-1.4\n" + b"0" * (20 * 1024 * 1024 + 1)
    await member.upload("大文件.pdf", big, "application/pdf", expect="文件太大了")
    assert "最大只能接收 20.0 MB" in member.said
    assert tg.calls("getFile") == []
    with db.read_session() as session:
        assert session.exec(select(Attachment)).all() == []
    assert conversation(db, 501).step == "attachments"


async def test_a_file_of_a_refused_type_is_refused_and_not_stored(bot, db, wf, world, tmp_path):
    tg, _ = bot
    member = bind(db, wf, tg, world.member, 501, "林晓")
    await write_up_to_attachments(member, "关于规范校园周边接送车辆停放的建议")
    await member.upload("工具.exe", b"MZ\x90\x00" + b"\0" * 200, "application/pdf")
    await member.settle("不接受这种文件（exe）")
    with db.read_session() as session:
        assert session.exec(select(Attachment)).all() == []
    stored = [p for p in (tmp_path / "attachments").rglob("*") if p.is_file()]
    assert stored == []


async def test_a_long_record_goes_out_as_a_document(bot, db, wf, world):
    import dataclasses

    from tests.factories import Story
    from workflow import proposals

    tg, _ = bot
    paragraph = "城区道路交通组织需要系统优化，学校周边尤其突出。" * 30
    long_text = "\n".join([paragraph] * 6)
    wf.rules = dataclasses.replace(wf.rules, body_max_chars=20000)
    story = Story(db, wf, world)
    draft = story.run(
        world.member,
        proposals.create_draft,
        title="关于系统优化城区道路交通组织的建议",
        field="城乡建设",
        analysis=long_text,
        suggestions=long_text,
    )
    story.run(world.member, proposals.submit, draft.id)
    story.run(world.staff, proposals.file_proposal, draft.id)
    member = bind(db, wf, tg, world.member, 501, "林晓")
    await member.send("/status 1", expect="内容较长，已作为文件发送")
    document = next(m for m in member.user.messages if m.document is not None)
    text = document.document.data.decode()
    assert "关于系统优化城区道路交通组织的建议" in text and text.count(paragraph) == 12
    assert document.document.file_name.endswith(".txt")
    assert all(len(m.text or m.caption or "") <= 4096 for m in member.user.messages)


async def test_the_webhook_refuses_a_post_without_the_secret(db, wf, world, tmp_path):
    import aiohttp

    async with FakeTelegram(time_scale=20) as tg:
        app = make_app(db, wf, tmp_path, tg)
        member = bind(db, wf, tg, world.member, 501, "林晓")
        async with running(app, webhook=True) as hook:
            forged = {
                "update_id": 99,
                "message": {
                    "message_id": 1,
                    "date": 1789000000,
                    "chat": {"id": 501, "type": "private"},
                    "from": {"id": 501, "is_bot": False, "first_name": "林晓"},
                    "text": "/new",
                },
            }
            async with aiohttp.ClientSession() as http:
                for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}):
                    async with http.post(hook.url, json=forged, headers=headers) as response:
                        assert response.status == 403
            await member.send("/menu", expect="林晓，您好！")  # the real ones get through
    with db.read_session() as session:
        keys = [u.external_key for u in session.exec(select(InboundUpdate))]
    assert len(keys) == 1 and not keys[0].endswith(":99")


async def test_an_export_arrives_as_an_excel_document(bot, db, wf, world):
    import io

    from openpyxl import load_workbook

    from tests.factories import Story

    tg, _ = bot
    Story(db, wf, world).filed()
    staff = bind(db, wf, tg, world.staff, 510, "许静")
    await staff.send("/menu", expect="许静，您好！")
    await staff.tap("导出台账", expect="导出哪一年度")
    await staff.tap("2026年度", expect="2026年度提案台账，共 1 件")
    document = next(m for m in staff.user.messages if m.document is not None)
    assert document.document.file_name == "提案台账-2026.xlsx"
    sheet = load_workbook(io.BytesIO(document.document.data)).active
    assert [sheet.cell(row=2, column=n).value for n in (1, 2, 3)] == [
        2026,
        1,
        "关于改善城区小学放学时段交通秩序的建议",
    ]


# ---------------------------------------------------------------- notices


async def test_the_dispatcher_is_woken_by_updates_that_wrote_notices_only(
    db, wf, world, tmp_path, monkeypatch
):
    """A handled update that wrote notices wakes the dispatcher at once (the co-signer's
    invitation arrives without waiting for its once-a-second look); one that wrote none does
    not make it look."""
    from bot.dispatcher import Dispatcher

    wakes = []
    wake = Dispatcher.wake
    monkeypatch.setattr(Dispatcher, "wake", lambda self: wakes.append(1) or wake(self))
    async with FakeTelegram(time_scale=20) as tg:
        app = make_app(db, wf, tmp_path, tg)
        async with running(app):
            member = bind(db, wf, tg, world.member, 501, "林晓")
            cosigner = bind(db, wf, tg, world.cosigner, 502, "何平")
            await member.send("/menu", expect="林晓，您好！")
            await write_up_to_attachments(member, "关于增设社区夜间便民药房的建议")
            await disclose_and_invite_up_to_preview(member, "何平")
            assert wakes == []  # twelve updates, no notice among them
            await member.tap("提交", expect="正在等待提案委审查")
            assert len(wakes) == 1
            await cosigner.user.wait_for("邀请您联名", timeout=10)
