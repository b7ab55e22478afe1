"""A fake WeChat behind the real Python Wechaty: a ``wechaty_puppet.Puppet`` that holds
contacts, groups and messages in memory, emits ``message`` events as the puppet service
does (only the id: Wechaty loads the message through ``message_payload``, its sender
through ``contact_payload``), and records everything the bot says.

People chat with the bot like transcript lines (``FakeWeChat.person(...).send("1")``); the
bot under test is the real channel, its real Wechaty and the real engine.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from pyee import AsyncIOEventEmitter
from wechaty_puppet import FileBox, MessageType, Puppet
from wechaty_puppet.exceptions import WechatyPuppetGrpcError
from wechaty_puppet.schemas.event import (
    EventFriendshipPayload,
    EventLoginPayload,
    EventMessagePayload,
)
from wechaty_puppet.schemas.types import (
    ContactPayload,
    ContactType,
    FriendshipPayload,
    FriendshipType,
    MessagePayload,
    RoomPayload,
)

import bot.wechat  # noqa: F401  (the compatibility shims, before wechaty_puppet)

BOT_ID = "wxid_proposalbot"
TIMEOUT = 10.0


@dataclass
class Said:
    """One message the bot sent: a text, or a file."""

    to: str
    text: str | None = None
    file_name: str | None = None
    file_data: bytes | None = None
    at: float = 0.0


class FakePuppet(Puppet):
    """The puppet Wechaty drives; the bot's account is ``BOT_ID``."""

    def __init__(self, *, echo_own: bool = True) -> None:
        super().__init__(name="fake-puppet")
        self.events = AsyncIOEventEmitter()
        self.contacts: dict[str, ContactPayload] = {}
        self.rooms: dict[str, RoomPayload] = {}
        self.messages: dict[str, MessagePayload] = {}
        self.files: dict[str, FileBox] = {}
        self.friendships: dict[str, FriendshipPayload] = {}
        self.accepted: list[str] = []  # friend requests accepted, in order
        self.said: list[Said] = []
        self.echo_own = echo_own  # WeChat shows the bot its own messages too
        self.started = asyncio.Event()
        self._stopped = asyncio.Event()
        self.starts = 0
        self.fail_starts = 0  # the next starts that fail (the service cannot be reached)
        self.fail_sends = 0  # the next sends that fail (a network fault)
        self.hang_sends = 0  # the next sends the service never answers
        self.fail_after = 0  # with fail_sends: this many sends go through first
        self.add_contact(BOT_ID, "提案通")

    # ------------------------------------------------------------- the world
    def add_contact(
        self, contact_id: str, name: str, *, official: bool = False, friend: bool = True
    ) -> None:
        kind = ContactType.CONTACT_TYPE_OFFICIAL if official else ContactType.CONTACT_TYPE_PERSONAL
        self.contacts[contact_id] = ContactPayload(
            id=contact_id, name=name, type=kind, friend=friend
        )

    def request_friendship(
        self,
        contact_id: str,
        name: str,
        *,
        hello: str = "",
        kind: FriendshipType = FriendshipType.FRIENDSHIP_TYPE_RECEIVE,
        friendship_id: str | None = None,
    ) -> str:
        """Someone not yet a friend asks to be one (a stranger cannot be written to)."""
        friendship_id = friendship_id or f"friendship-{uuid.uuid4().hex}"
        if contact_id not in self.contacts:
            self.add_contact(contact_id, name, friend=False)
        self.friendships[friendship_id] = FriendshipPayload(
            id=friendship_id, contact_id=contact_id, hello=hello, type=kind
        )
        self.events.emit("friendship", EventFriendshipPayload(friendship_id=friendship_id))
        return friendship_id

    def add_room(self, room_id: str, topic: str, members: list[str]) -> None:
        self.rooms[room_id] = RoomPayload(id=room_id, topic=topic, member_ids=members)

    def emit_message(
        self,
        from_id: str,
        *,
        text: str = "",
        kind: MessageType = MessageType.MESSAGE_TYPE_TEXT,
        room_id: str = "",
        file: FileBox | None = None,
        message_id: str | None = None,
    ) -> str:
        """A message arrives: stored, then announced by its id, as the service does."""
        message_id = message_id or f"msg-{uuid.uuid4().hex}"
        self.messages[message_id] = MessagePayload(
            id=message_id,
            text=text,
            timestamp=int(time.time()),
            type=kind,
            from_id=from_id,
            room_id=room_id,
            to_id="" if room_id else BOT_ID,
            filename=file.name if file is not None else "",
        )
        if file is not None:
            self.files[message_id] = file
        self.events.emit("message", EventMessagePayload(message_id=message_id))
        return message_id

    def texts_to(self, contact_id: str) -> list[str]:
        return [s.text for s in self.said if s.to == contact_id and s.text is not None]

    # ------------------------------------------------------------- the Puppet interface
    def on(self, event_name: str, caller) -> None:
        self.events.on(event_name, caller)

    def listener_count(self, event_name: str) -> int:
        return len(self.events.listeners(event_name))

    async def start(self) -> None:
        """Like the puppet service: listens for events until stopped."""
        self.starts += 1
        if self.fail_starts:
            self.fail_starts -= 1
            raise WechatyPuppetGrpcError("can't fetch endpoint from chatie server")
        self._stopped = asyncio.Event()
        self.started.set()
        # The service says who is logged in at every connection.
        self.events.emit("login", EventLoginPayload(contact_id=BOT_ID))
        await self._stopped.wait()

    async def stop(self) -> None:
        self.events.remove_all_listeners()
        self.started.clear()
        self._stopped.set()

    def drop_connection(self) -> None:
        """The event stream ends, as when the connection to the service is lost."""
        self.events.remove_all_listeners()
        self.started.clear()
        self._stopped.set()

    def self_id(self) -> str:
        return BOT_ID

    async def message_payload(self, message_id: str) -> MessagePayload:
        return self.messages[message_id]

    async def contact_payload(self, contact_id: str) -> ContactPayload:
        if contact_id not in self.contacts:
            raise OSError(f"no contact {contact_id}")
        return self.contacts[contact_id]

    async def room_payload(self, room_id: str) -> RoomPayload:
        return self.rooms[room_id]

    async def room_members(self, room_id: str) -> list[str]:
        return list(self.rooms[room_id].member_ids)

    async def friendship_payload(
        self, friendship_id: str, payload: FriendshipPayload | None = None
    ) -> FriendshipPayload:
        return self.friendships[friendship_id]

    async def friendship_accept(self, friendship_id: str) -> None:
        request = self.friendships[friendship_id]
        contact = self.contacts[request.contact_id]
        if contact.friend:
            raise WechatyPuppetGrpcError("the friend request was accepted already")
        contact.friend = True
        self.accepted.append(friendship_id)

    async def message_file(self, message_id: str) -> FileBox:
        return self.files[message_id]

    async def message_image(self, message_id: str, image_type=3) -> FileBox:
        return self.files[message_id]

    async def message_send_text(
        self, conversation_id: str, message: str, mention_ids: list[str] | None = None
    ) -> str:
        await self._maybe_fail(conversation_id)
        self.said.append(Said(conversation_id, text=message, at=time.monotonic()))
        return self._echo(conversation_id, message, MessageType.MESSAGE_TYPE_TEXT)

    async def message_send_file(self, conversation_id: str, file: FileBox) -> str:
        await self._maybe_fail(conversation_id)
        data = base64.b64decode(file.base64)
        self.said.append(
            Said(conversation_id, file_name=file.name, file_data=data, at=time.monotonic())
        )
        return self._echo(conversation_id, "", MessageType.MESSAGE_TYPE_ATTACHMENT)

    async def _maybe_fail(self, to: str) -> None:
        contact = self.contacts.get(to)
        if contact is not None and not contact.friend:
            raise WechatyPuppetGrpcError(f"{to} is not a friend")
        if self.hang_sends:
            self.hang_sends -= 1
            await asyncio.Event().wait()
        if self.fail_sends and self.fail_after:
            self.fail_after -= 1
        elif self.fail_sends:
            self.fail_sends -= 1
            raise ConnectionError("the puppet service did not answer")

    def _echo(self, to: str, text: str, kind: MessageType) -> str:
        message_id = f"own-{uuid.uuid4().hex}"
        self.messages[message_id] = MessagePayload(
            id=message_id, text=text, type=kind, from_id=BOT_ID, to_id=to, room_id=""
        )
        if self.echo_own:
            self.events.emit("message", EventMessagePayload(message_id=message_id))
        return message_id


@dataclass
class WeChatPerson:
    """One roster person in their private chat with the bot on the fake WeChat."""

    wechat: FakeWeChat
    contact_id: str
    name: str
    seen: int = field(default=0)  # texts of the bot read so far (``new``)

    @property
    def said(self) -> str:
        """Everything the bot said to this person."""
        return "\n".join(self.wechat.puppet.texts_to(self.contact_id))

    @property
    def last(self) -> str:
        texts = self.wechat.puppet.texts_to(self.contact_id)
        return texts[-1] if texts else ""

    def new(self) -> str:
        """What the bot said since the last call."""
        texts = self.wechat.puppet.texts_to(self.contact_id)
        text, self.seen = "\n".join(texts[self.seen :]), len(texts)
        return text

    async def expect(self, text: str) -> None:
        """Wait until the bot says ``text`` (a notice the dispatcher sends on its own)."""
        try:
            await self.wechat.wait_until(lambda: text in self.said)
        except AssertionError:
            raise AssertionError(f"the bot did not say {text!r}; it said:\n{self.said}") from None
        await self.wechat.idle()
        self.new()

    def files(self) -> list[Said]:
        return [s for s in self.wechat.puppet.said if s.to == self.contact_id and s.file_name]

    async def send(self, text: str, expect: str | None = None, **kw) -> str:
        message_id = self.wechat.puppet.emit_message(self.contact_id, text=text, **kw)
        await self.wechat.settle(expect, self)
        return message_id

    async def ask(self, text: str) -> str:
        """Send a text; what the bot answered to it."""
        before = len(self.wechat.puppet.texts_to(self.contact_id))
        await self.send(text)
        return "\n".join(self.wechat.puppet.texts_to(self.contact_id)[before:])

    async def send_file(
        self, name: str, data: bytes, *, image: bool = False, expect: str | None = None
    ) -> str:
        kind = MessageType.MESSAGE_TYPE_IMAGE if image else MessageType.MESSAGE_TYPE_ATTACHMENT
        box = FileBox.from_base64(base64.b64encode(data), name=name)
        message_id = self.wechat.puppet.emit_message(self.contact_id, kind=kind, file=box)
        await self.wechat.settle(expect, self)
        return message_id

    async def send_kind(self, kind: MessageType, expect: str | None = None) -> str:
        message_id = self.wechat.puppet.emit_message(self.contact_id, kind=kind, text="<msg/>")
        await self.wechat.settle(expect, self)
        return message_id

    def choose(self, label: str) -> str:
        """The number of the choice ``label`` (its whole label, else the first that holds
        it) in the bot's last question that listed numbered choices."""
        for text in reversed(self.wechat.puppet.texts_to(self.contact_id)):
            numbered = []
            for line in text.splitlines():
                head, dot, rest = line.partition(". ")
                if dot and head.isdigit():
                    numbered.append((head, rest))
            if not numbered:
                continue
            for head, rest in numbered:
                if rest == label:
                    return head
            for head, rest in numbered:
                if label in rest:
                    return head
        raise AssertionError(f"no numbered choice {label!r} in:\n{self.said[-1500:]}")

    async def pick(self, label: str, expect: str | None = None) -> None:
        """Answer the last question by the number of the choice ``label``."""
        await self.send(self.choose(label), expect)

    def code(self, label: str) -> str:
        """The code of a notice's action ``label`` (``a1. 满意``), newest first."""
        for text in reversed(self.wechat.puppet.texts_to(self.contact_id)):
            for line in text.splitlines():
                head, dot, rest = line.partition(". ")
                if dot and head.startswith("a") and head[1:].isdigit() and rest == label:
                    return head
        raise AssertionError(f"no code for {label!r} in:\n{self.said[-1500:]}")

    async def answer(self, label: str, expect: str | None = None) -> None:
        """Take a notice's action by typing its code."""
        await self.send(self.code(label), expect)


def forget_emitted_ids() -> None:
    """What a new process starts with: Wechaty remembers, in memory only, the ids of the
    messages it emitted, and drops one emitted again."""
    from wechaty.utils.async_helper import SingleIdContainer

    SingleIdContainer._instance = None


class FakeWeChat:
    """The fake WeChat and the people on it; ``channel`` is the bot under test once it runs."""

    def __init__(self) -> None:
        self.puppet = FakePuppet()
        self.channel = None  # set by the harness: the running WechatChannel
        self.handled_before = 0  # by the bots that ran before it

    def person(self, contact_id: str, name: str) -> WeChatPerson:
        self.puppet.add_contact(contact_id, name)
        return WeChatPerson(self, contact_id, name)

    async def wait_until(self, condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("timed out waiting for the bot")
            await asyncio.sleep(0.01)

    async def idle(self, quiet: float = 0.05, timeout: float = TIMEOUT) -> None:
        """Wait until every message emitted has been handled and nothing more is sent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        emitted = lambda: sum(  # noqa: E731
            1 for m in self.puppet.messages.values() if m.from_id != BOT_ID or self.puppet.echo_own
        )
        while True:
            count, sent = self.handled(), len(self.puppet.said)
            if count >= emitted():
                await asyncio.sleep(quiet)
                if self.handled() == count and len(self.puppet.said) == sent:
                    return
            if loop.time() > deadline:
                raise AssertionError("timed out waiting for the bot to be idle")
            await asyncio.sleep(0.01)

    def handled(self) -> int:
        """Messages the bots that ran on this fake WeChat have handled (ignored included)."""
        return self.handled_before + (self.channel.finished if self.channel is not None else 0)

    async def settle(self, expect: str | None, who: WeChatPerson | None = None) -> None:
        if expect is not None and who is not None:
            before = who.seen
            try:
                await self.wait_until(
                    lambda: expect in "\n".join(self.puppet.texts_to(who.contact_id)[before:])
                )
            except AssertionError:
                raise AssertionError(
                    f"the bot did not say {expect!r}; it said:\n{who.said[-2000:]}"
                ) from None
        await self.idle()
        if who is not None:
            who.new()


@contextlib.asynccontextmanager
async def running(app, wechat: FakeWeChat, **options) -> AsyncIterator[FakeWeChat]:
    """The WeChat bot (real Wechaty on the fake puppet, the dispatcher) runs until the block
    ends; no pacing unless asked (``send_interval``), no sweeps unless ``schedule=True``."""
    from bot.wechat.serve import serve

    options.setdefault("schedule", False)
    options.setdefault("send_interval", 0.0)
    stop, started = asyncio.Event(), asyncio.Event()

    def attach(channel) -> None:
        wechat.channel = channel

    task = asyncio.create_task(
        serve(app, stop, puppet=wechat.puppet, started=started, on_channel=attach, **options)
    )
    waiter = asyncio.create_task(started.wait())
    done, _ = await asyncio.wait({task, waiter}, timeout=TIMEOUT, return_when="FIRST_COMPLETED")
    if task in done:
        task.result()  # raises what stopped it
    await asyncio.wait_for(wechat.puppet.started.wait(), TIMEOUT)
    try:
        yield wechat
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)
        wechat.handled_before = wechat.handled()
        wechat.channel = None
