"""A test chat: a person talks to the engine the way a channel would, and the test reads
the transcript (errbot's test backend is the model)."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from bot.outbox import claim_for_person, render_notice
from handlers.engine import Engine
from handlers.messages import Choice, Event, FileIn, Out, Sender
from storage.models import ChannelAccount, Person


class Chat:
    def __init__(self, engine: Engine, external_id: str, channel: str = "test") -> None:
        self.engine = engine
        self.sender = Sender(channel=channel, external_id=external_id)
        self.last: list[Out] = []
        self.transcript: list[tuple[str, str]] = []

    async def _event(self, event: Event, shown: str) -> list[Out]:
        self.transcript.append(("me", shown))
        self.last = await asyncio.to_thread(self.engine.handle, self.sender, event)
        assert_within_telegram_limits(self.last)
        for out in self.last:
            self.transcript.append(("bot", out.text))
        return self.last

    async def send(self, text: str, *, numbered: bool = False) -> list[Out]:
        """Type a message (or a /command); ``numbered``: on a channel that shows choices as
        numbered lines (WeChat, the console), where a typed text may name a choice."""
        return await self._event(Event.of_text(text, numbered=numbered), text)

    async def tap(self, label: str) -> list[Out]:
        """Tap the button with this label (or a label that starts with it) in the last replies."""
        for out in reversed(self.last):
            for choice in out.choices:
                if choice.label == label or choice.label.startswith(label):
                    return await self._event(
                        Event(kind="choice", payload=choice.payload), f"[{label}]"
                    )
        raise AssertionError(f"no button {label!r}; buttons: {self.buttons}")

    async def tap_year(self, year: int) -> list[Out]:
        """Tap a year-by-year list's button to that year, not a proposal of that year's
        (whose label starts the same)."""
        return await self.press(self.payload_of(f"{year}年度", exactly=True))

    async def press(self, payload: str) -> list[Out]:
        """Send a raw button payload (a stale or forged one, or a notice's action)."""
        return await self._event(Event(kind="choice", payload=payload), f"<{payload}>")

    async def upload(self, name: str, data: bytes, mime: str | None = None) -> list[Out]:
        return await self._event(Event(kind="file", file=FileIn(name, data, mime)), f"📎{name}")

    async def share_contact(self, phone: str, is_self: bool = True) -> list[Out]:
        return await self._event(
            Event(kind="contact", phone=phone, contact_is_self=is_self), f"☎{phone}"
        )

    def payload_of(self, label: str, *, exactly: bool = False) -> str:
        """The payload of the button with this label (or, unless ``exactly``, a label that
        starts with it) in the last replies."""
        for out in reversed(self.last):
            for choice in out.choices:
                if choice.label == label or (not exactly and choice.label.startswith(label)):
                    return choice.payload
        raise AssertionError(f"no button {label!r}; buttons: {self.buttons}")

    @property
    def said(self) -> str:
        """Everything the bot said in answer to the last event."""
        return "\n".join(out.text for out in self.last)

    @property
    def files(self) -> list:
        """The files (FileOut) the bot sent in answer to the last event."""
        return [out.file for out in self.last if out.file is not None]

    @property
    def buttons(self) -> list[str]:
        return [c.label for out in self.last for c in out.choices]

    def notices(self) -> list[tuple[str, list[dict]]]:
        """Take this person's due notices (marked sent) and show them as a channel would: in
        the person's language, each with its buttons ({"label", "payload"})."""
        engine = self.engine
        with engine.db.session() as session:
            account = session.exec(
                select(ChannelAccount).where(
                    ChannelAccount.channel == self.sender.channel,
                    ChannelAccount.external_id == self.sender.external_id,
                )
            ).one()
            person = session.get(Person, account.person_id)
            notices = claim_for_person(session, person.id, engine.workflow.clock())
            shown = [render_notice(notice, person.locale) for notice in notices]
        for text, actions in shown:
            assert_within_telegram_limits(
                [Out(text, [Choice(a["label"], a["payload"]) for a in actions])]
            )
            self.transcript.append(("notice", text))
        return shown

    def dump(self) -> str:
        return "\n".join(f"{who}: {text}" for who, text in self.transcript)


def assert_within_telegram_limits(outs: list[Out]) -> None:
    """Whatever the bot says fits Telegram, the strictest channel: every transcript test
    checks every message it sees. Text 1..4096 characters (not blank), button data
    1..64 bytes, a label on every button."""
    from bot.telegram import render

    for out in outs:
        assert out.text.strip(), f"an empty message: {out!r}"
        assert len(out.text) <= 4096, f"a message of {len(out.text)} characters"
        if out.file is not None:
            assert len(out.text) <= 1024, f"a caption of {len(out.text)} characters"
            assert 0 < len(out.file.data) <= 50 * 1024 * 1024, "a file Telegram would refuse"
        for choice in out.choices:
            assert choice.label.strip(), f"a button without a label: {choice!r}"
            assert render.fits_payload(choice.payload), f"button data too long: {choice!r}"
