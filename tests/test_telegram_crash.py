"""A real ``proposalbot run`` process killed with SIGKILL in the middle of an update, then
started again: the update is handled once, never half-applied, never lost."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from storage.db import Database
from storage.migrate import upgrade
from storage.models import Attachment, InboundUpdate, Proposal
from tests.crash_harness import Bot
from tests.factories import build_world
from tests.fake_telegram import FakeTelegram, RateLimits
from tests.telegram_harness import Person, write_up_to_attachments
from workflow.core import Workflow
from workflow.invites import bind_account

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
TITLE = "关于规范校园周边接送车辆停放的建议"


@pytest.fixture
def database(tmp_path):
    """A file database of its own: the bot runs in another process."""
    db = Database(f"sqlite:///{tmp_path / 'crash.db'}")
    upgrade(db.engine)
    with db.session() as session:
        world = build_world(session)
        bind_account(Workflow().ctx(session, None), world.member, "telegram", "501")
    yield db
    db.dispose()


async def test_sigkill_while_a_file_is_being_fetched_then_restart(database, tmp_path):
    async with FakeTelegram(limits=RateLimits.off()) as tg:
        bot = Bot(tg, database, tmp_path / "data")
        member = Person(tg, tg.user(id=501, first_name="林晓"))
        try:
            await bot.start()
            await write_up_to_attachments(member, TITLE)

            # The file's download hangs: the update is kept, Telegram is told, nothing applied.
            tg.inject("getFile", "timeout", times=None)
            await member.user.upload("调研报告.pdf", PDF, "application/pdf")
            await tg.wait_request("getFile", timeout=15)
            await asyncio.sleep(0.3)
            with database.read_session() as session:
                states = [u.state for u in session.exec(select(InboundUpdate))]
            assert states[-1] == "pending" and tg.updates_pending() == 0
            bot.kill()
            tg.clear_faults()

            await bot.start()
            await member.user.wait_for("已收到附件「调研报告.pdf」", timeout=20)
            await tg.idle(quiet=0.3)

            # A reply whose answer never comes: the update was applied and is not again.
            tg.inject("sendMessage", "timeout", times=None, chat_id=501)
            await member.user.tap("完成")
            await tg.wait_request("sendMessage", timeout=15, predicate=lambda r: r.chat_id == 501)
            await asyncio.sleep(0.3)
            bot.kill()
            tg.clear_faults()
            await bot.start()
            await member.send("/menu", expect="林晓，您好！")
        finally:
            bot.stop()

    with database.read_session() as session:
        [proposal] = session.exec(select(Proposal)).all()
        [attachment] = session.exec(select(Attachment)).all()
        updates = session.exec(select(InboundUpdate).order_by(InboundUpdate.id)).all()
    assert (proposal.title, attachment.filename) == (TITLE, "调研报告.pdf")
    assert [u.state for u in updates] == ["done"] * len(updates)
    upload = next(u for u in updates if "document" in u.payload.get("message", {}))
    assert upload.attempts == 1  # handled on the second start, once
    tapped = next(u for u in updates if "callback_query" in u.payload)
    assert tapped.attempts == 0  # applied before the kill; never handled again
    said = [m.text or "" for m in member.user.messages]
    assert sum("已收到附件「调研报告.pdf」" in t for t in said) == 1
