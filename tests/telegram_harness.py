"""Running the real bot (python-telegram-bot Application, notice dispatcher) against the fake
Bot API server, and people who chat with it like transcript lines."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

from pydantic import SecretStr

from bot.app import App
from bot.run import Webhook, serve
from bot.settings import Settings
from storage.files import AttachmentStore
from tests.fake_telegram import FakeTelegram, FakeUser

TIMEOUT = 10.0


def make_app(db, wf, tmp_path, tg: FakeTelegram, **settings) -> App:
    config = Settings(
        _env_file=None,
        telegram_token=SecretStr(tg.token),
        telegram_api_url=tg.url,
        data_dir=tmp_path,
        **settings,
    )
    return App(
        settings=config, db=db, workflow=wf, store=AttachmentStore(tmp_path / "attachments")
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def running(app: App, *, webhook: bool = False, **options) -> AsyncIterator[Webhook | None]:
    """The bot runs (polling, or webhook on a free port) until the block ends. The scheduled
    sweeps run only with ``schedule=True``, so a channel test sees only what it caused."""
    options.setdefault("schedule", False)
    stop, started = asyncio.Event(), asyncio.Event()
    hook = None
    if webhook:
        port = free_port()
        hook = Webhook(url=f"http://127.0.0.1:{port}/telegram", port=port, url_path="telegram")
    task = asyncio.create_task(serve(app, stop, webhook=hook, started=started, **options))
    waiter = asyncio.create_task(started.wait())
    done, _ = await asyncio.wait({task, waiter}, timeout=TIMEOUT, return_when="FIRST_COMPLETED")
    if task in done:
        task.result()  # raises what stopped it
    assert started.is_set(), "the bot did not start"
    try:
        yield hook
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)


@dataclass
class Person:
    """One roster person in their private chat with the bot."""

    tg: FakeTelegram
    user: FakeUser

    @property
    def said(self) -> str:
        return "\n".join(m.text or m.caption or "" for m in self.user.messages)

    @property
    def buttons(self) -> list[str]:
        return self.user.buttons

    async def settle(self, expect: str | None) -> None:
        if expect is not None:
            await self.user.wait_for(expect, timeout=TIMEOUT)
        await self.tg.idle(quiet=0.1, timeout=TIMEOUT)

    async def send(self, text: str, expect: str | None = None) -> None:
        await self.user.send(text)
        await self.settle(expect)

    async def tap(self, label: str, expect: str | None = None) -> None:
        await self.tg.wait_until(lambda: self._offers(label), TIMEOUT)
        await self.user.tap(label)
        await self.settle(expect)

    async def upload(self, name: str, data: bytes, mime: str, expect: str | None = None) -> None:
        await self.user.upload(name, data, mime)
        await self.settle(expect)

    async def share_contact(self, phone: str, expect: str | None = None, **kw) -> None:
        await self.user.share_contact(phone, **kw)
        await self.settle(expect)

    def _offers(self, label: str) -> bool:
        return any(label in button for m in self.user.messages for button in m.buttons)


def text_message(uid: int, name: str, text: str, message_id: int = 1, **fields) -> dict:
    """A private text message as the Bot API sends it in an update (``{"message": …}``)."""
    return {
        "message": {
            "message_id": message_id,
            "date": 1789000000,
            "chat": {"id": uid, "type": "private", "first_name": name},
            "from": {"id": uid, "is_bot": False, "first_name": name},
            "text": text,
            **fields,
        }
    }


def bind(db, wf, tg: FakeTelegram, person_id: int, uid: int, name: str) -> Person:
    """A roster person whose Telegram account is already bound (they wrote to the bot)."""
    from workflow.invites import bind_account

    with db.session() as session:
        bind_account(wf.ctx(session, None), person_id, "telegram", str(uid))
    return Person(tg, tg.user(id=uid, first_name=name, started=True))


async def write_up_to_attachments(member: Person, title: str, field: str = "城乡建设") -> None:
    """A member writes a proposal through the wizard as far as the attachments step."""
    from tests.factories import SAMPLE_ANALYSIS, SAMPLE_SUGGESTIONS

    await member.send("/new", expect="标题")
    await member.send(title, expect="草稿已建立")
    await member.tap("委员提案", expect="领域")
    await member.tap(field, expect="存在问题")
    await member.send(SAMPLE_ANALYSIS, expect="已记录")
    await member.tap("完成", expect="请写「建议」")
    await member.send(SAMPLE_SUGGESTIONS, expect="已记录")
    await member.tap("完成", expect="跳过")
    await member.send("区教育局", expect="附件")


async def disclose_and_invite_up_to_preview(member: Person, cosigner: str) -> None:
    """From the attachments step: 完成, agree to disclosure, invite one co-signer by name,
    and reach the preview."""
    await member.tap("完成", expect="是否同意公开")
    await member.tap("是", expect="联名")
    await member.send(cosigner, expect="找到 1 位委员")
    await member.tap(f"{cosigner}（", expect=f"已把{cosigner}委员加入联名名单")
    await member.tap("完成", expect="请核对提案内容")
