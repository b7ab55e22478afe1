"""Nothing a person sends on WeChat is lost: the real Python Wechaty on the fake puppet
(tests/fake_wechaty.py), the real engine. A message is kept, pending, before it is
handled; a bot killed in the middle of a message's transaction applies none of it, and
the next start handles it, once; a message delivered twice is applied once; one that
fails start after start is set aside, and the person is told."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest
from sqlmodel import select

from storage.models import Attachment, InboundUpdate, Proposal
from tests.fake_wechaty import FakeWeChat, forget_emitted_ids, running
from tests.test_wechat_channel import PDF, TITLE, bound, step_of, write_up_to_attachments

WAIT_S = 10.0


class Killed(Exception):
    """The process dies here: what follows never runs."""


class Kill:
    """The bot process killed in the middle of a message's transaction: the engine's
    transaction has applied the message (and marked it done) when it stops dead; the bot is
    stopped meanwhile (the message's handling abandoned, as a killed process abandons it),
    and only then does the transaction end, rolled back, as the database rolls back a
    killed process's transaction."""

    def __init__(self, app, monkeypatch, when: Callable[[object], bool]) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        self.ended = threading.Event()
        self.times = 0
        handle = app.engine.handle

        def killed_midway(sender, event, *, within=None):
            if not when(event):
                return handle(sender, event, within=within)

            def dies(session, person) -> None:
                if within is not None:
                    within(session, person)  # applied, and marked done: not yet committed
                self.times += 1
                self.reached.set()
                self.release.wait(WAIT_S)
                raise Killed

            try:
                return handle(sender, event, within=dies)
            finally:
                self.ended.set()

        monkeypatch.setattr(app.engine, "handle", killed_midway)

    async def wait(self) -> None:
        assert await asyncio.to_thread(self.reached.wait, WAIT_S), "never reached"

    async def finish(self) -> None:
        """After the bot has stopped: the transaction ends, rolled back."""
        self.release.set()
        assert await asyncio.to_thread(self.ended.wait, WAIT_S)
        self.reached.clear(), self.release.clear(), self.ended.clear()


def kept(db) -> list[InboundUpdate]:
    with db.read_session() as session:
        return list(session.exec(select(InboundUpdate).order_by(InboundUpdate.id)).all())


def kept_as(db, key: str) -> tuple[str, int]:
    [row] = [k for k in kept(db) if k.external_key == key]
    return row.state, row.attempts


def proposals(db) -> list[Proposal]:
    with db.read_session() as session:
        return list(session.exec(select(Proposal)).all())


async def test_a_message_killed_mid_transaction_is_handled_at_the_next_start_and_answered_once(
    app, db, wf, world, monkeypatch
):
    wechat = FakeWeChat()
    async with running(app, wechat, stop_grace=0.1):
        member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
        await member.send("/new", expect="标题")
        title_step = step_of(db, member.contact_id)
        kill = Kill(app, monkeypatch, lambda event: event.text == TITLE)
        title_id = wechat.puppet.emit_message(member.contact_id, text=TITLE)
        await kill.wait()
        # Kept before it was handled, with what handling it again needs.
        [row] = [k for k in kept(db) if k.external_key == title_id]
        assert row.state == "pending"
        assert (row.payload["from"], row.payload["type"], row.payload["text"]) == (
            member.contact_id,
            "MESSAGE_TYPE_TEXT",
            TITLE,
        )
    await kill.finish()
    monkeypatch.undo()
    # Nothing of it was applied: no draft, the conversation where it was, the message
    # pending; the person had no answer.
    assert proposals(db) == [] and step_of(db, member.contact_id) == title_step
    assert kept_as(db, title_id) == ("pending", 0)
    assert "草稿已建立" not in member.said

    forget_emitted_ids()  # a new process
    async with running(app, wechat):
        await member.expect("草稿已建立")
    assert member.said.count("草稿已建立") == 1
    assert [p.title for p in proposals(db)] == [TITLE]
    assert kept_as(db, title_id) == ("done", 1)  # handled at the start after the kill, once


async def test_a_message_delivered_again_while_it_is_handled_or_after_is_applied_once(
    wechat, app, db, wf, world, monkeypatch
):
    member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
    await member.send("/new", expect="标题")
    go, reached = threading.Event(), threading.Event()
    handle = app.engine.handle

    def held(sender, event, **kwargs):
        if event.text == TITLE:
            reached.set()
            assert go.wait(WAIT_S)
        return handle(sender, event, **kwargs)

    monkeypatch.setattr(app.engine, "handle", held)
    title_id = wechat.puppet.emit_message(member.contact_id, text=TITLE)
    assert await asyncio.to_thread(reached.wait, WAIT_S)
    assert kept_as(db, title_id) == ("pending", 0)  # kept before it is handled
    # The puppet service sends it again (after a reconnection, say) while it is handled…
    forget_emitted_ids()
    wechat.puppet.events.emit("message", _event(title_id))
    await asyncio.sleep(0.2)
    go.set()
    await wechat.settle("草稿已建立", member)
    # …and once more after it was.
    forget_emitted_ids()
    wechat.puppet.events.emit("message", _event(title_id))
    await wechat.idle()
    assert member.said.count("草稿已建立") == 1
    assert [p.title for p in proposals(db)] == [TITLE]
    assert kept_as(db, title_id) == ("done", 0)
    assert len([k for k in kept(db) if k.external_key == title_id]) == 1


async def test_a_message_that_fails_start_after_start_is_set_aside_and_the_person_told(
    app, db, wf, world, monkeypatch
):
    wechat = FakeWeChat()
    async with running(app, wechat, stop_grace=0.1):
        member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
        await member.send("/new", expect="标题")
        kill = Kill(app, monkeypatch, lambda event: event.text == TITLE)
        title_id = wechat.puppet.emit_message(member.contact_id, text=TITLE)
        await kill.wait()
    await kill.finish()
    # It kills the bot at each start, as it did the first time (MAX_ATTEMPTS = 3).
    for attempt in (1, 2, 3):
        forget_emitted_ids()
        async with running(app, wechat, stop_grace=0.1):
            await kill.wait()
        await kill.finish()
        assert kept_as(db, title_id) == ("pending", attempt)
    assert kill.times == 4
    monkeypatch.undo()
    forget_emitted_ids()
    async with running(app, wechat):
        await member.expect("暂时无法处理这条消息，没有做任何更改，请稍后重试。")
        # Set aside, not handled: the person goes on.
        await member.send("/menu", expect="请选择要办理的事项")
    assert kept_as(db, title_id) == ("failed", 4)
    assert proposals(db) == [] and "草稿已建立" not in member.said


async def test_files_left_pending_are_fetched_again_or_asked_for_again(
    app, db, wf, world, monkeypatch
):
    """Two files; the bot is killed in the first one's transaction, the second on its way
    to be kept. At the next start the puppet service still has the first (it is attached,
    once) but no longer the second: the person is asked to send it again."""
    from bot.wechat import intake

    wechat = FakeWeChat()
    keeping: list[str] = []
    keep = intake.keep

    def watched(db_, key, payload):
        keeping.append(key)
        return keep(db_, key, payload)

    monkeypatch.setattr(intake, "keep", watched)
    async with running(app, wechat, stop_grace=0.1):
        member = bound(db, wf, wechat, world.member, "wxid_linxiao", "林晓")
        await write_up_to_attachments(member)
        kill = Kill(app, monkeypatch, lambda event: event.kind == "file")
        first = _send_file(wechat, member.contact_id, "调研报告.pdf")
        await kill.wait()
        second = _send_file(wechat, member.contact_id, "现场照片说明.pdf")
        await wechat.wait_until(lambda: second in keeping)
    await kill.finish()
    monkeypatch.undo()
    # On SQLite the second waited for the first's transaction to end: kept once it did.
    await wechat.wait_until(lambda: second in [k.external_key for k in kept(db)])
    assert kept_as(db, first) == ("pending", 0) and kept_as(db, second) == ("pending", 0)
    with db.read_session() as session:
        assert session.exec(select(Attachment)).all() == []
    del wechat.puppet.files[second]  # gone from the puppet service meanwhile

    forget_emitted_ids()
    async with running(app, wechat):
        await member.expect("已收到附件「调研报告.pdf」")
        await member.expect("您之前发送的文件「现场照片说明.pdf」没能处理")
    assert "请重新发送这个文件" in member.said
    assert member.said.count("已收到附件「调研报告.pdf」") == 1
    with db.read_session() as session:
        files = session.exec(select(Attachment)).all()
    assert [f.filename for f in files] == ["调研报告.pdf"]
    assert kept_as(db, first) == ("done", 1) and kept_as(db, second) == ("failed", 1)


def _send_file(wechat: FakeWeChat, contact_id: str, name: str) -> str:
    import base64

    from wechaty_puppet import FileBox, MessageType

    box = FileBox.from_base64(base64.b64encode(PDF), name=name)
    return wechat.puppet.emit_message(
        contact_id, kind=MessageType.MESSAGE_TYPE_ATTACHMENT, file=box
    )


def _event(message_id: str):
    from wechaty_puppet.schemas.event import EventMessagePayload

    return EventMessagePayload(message_id=message_id)


@pytest.fixture
async def wechat(app, world):
    fake = FakeWeChat()
    async with running(app, fake):
        yield fake
