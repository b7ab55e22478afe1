"""A Telegram user talking to the bot: sends messages and taps buttons, reads what the bot said."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.fake_telegram.markup import detect_entities
from tests.fake_telegram.records import CallbackQuery, ChatMessage, image_size, keyboard_texts

if TYPE_CHECKING:
    from tests.fake_telegram.server import FakeTelegram

Matcher = str | re.Pattern[str] | Callable[[ChatMessage], bool]


def _matches(what: Matcher, message: ChatMessage) -> bool:
    if isinstance(what, str):
        return what in message.content
    if isinstance(what, re.Pattern):
        return what.search(message.content) is not None
    return bool(what(message))


class FakeUser:
    """A user with a private chat with the bot (chat id = user id).

    Every action enqueues an update (or hands it to the webhook) and returns at once; read the
    bot's answers with `messages` / `last` / `wait_for`.
    """

    def __init__(
        self,
        tg: FakeTelegram,
        id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        started: bool = False,
    ) -> None:
        self.tg = tg
        self.id = id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        self.started = started  # the user has written to the bot (it may message them)
        self.blocked = False  # the user has blocked the bot
        self._mark = 0  # server change counter at this user's latest action

    def __repr__(self) -> str:
        return f"<FakeUser {self.id} {self.first_name!r}>"

    # --- identity ------------------------------------------------------------------------------

    @property
    def chat_id(self) -> int:
        return self.id

    def as_dict(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def chat_dict(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat

    # --- acting --------------------------------------------------------------------------------

    def _act(self, *, private: bool = True) -> None:
        if private:
            if self.blocked:
                raise RuntimeError(f"{self!r} has blocked the bot; call unblock() first")
            self.started = True
        self._mark = self.tg.seq

    def _hide_one_time_keyboard(self, pressed: str | None = None) -> None:
        chat = self.tg.chat(self.id)
        markup = chat.keyboard
        if not markup or not markup.get("one_time_keyboard"):
            return
        texts = {text for row in keyboard_texts(markup) for text in row}
        if pressed is None or pressed in texts:
            chat.keyboard = None

    async def send(self, text: str, *, reply_to: ChatMessage | int | None = None) -> ChatMessage:
        """A text message in the private chat; "/cmd args" carries a bot_command entity."""
        self._act()
        self._hide_one_time_keyboard(text)
        message = self.tg.add_user_message(
            self, self.id, text=text, entities=detect_entities(text), reply_to=reply_to
        )
        self.tg.push_update({"message": message.to_api()})
        return message

    async def send_in_group(
        self, text: str, *, chat_id: int = -1001, title: str = "Test group"
    ) -> ChatMessage:
        """A text message from this user in a group chat (created on first use, with the bot
        in it); after the bot left the group the message reaches nobody."""
        self._act(private=False)
        group = self.tg.group(chat_id, title)
        message = self.tg.add_user_message(
            self, chat_id, text=text, entities=detect_entities(text)
        )
        if group.bot_member:
            self.tg.push_update({"message": message.to_api()})
        return message

    async def add_bot_to_group(self, *, chat_id: int = -1001, title: str = "Test group") -> None:
        """This user adds the bot to a group: the bot gets a my_chat_member update."""
        self._act(private=False)
        known = chat_id in self.tg.chats
        group = self.tg.group(chat_id, title)
        if known and group.bot_member:
            return
        group.bot_member = True
        self.tg.member_update(group, self.as_dict(), "left", "member")

    async def share_contact(
        self,
        phone: str,
        user_id: int | None = None,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> ChatMessage:
        """Share a contact card: user_id None = the sender's own card (what a request_contact
        button sends); another id = someone else's card; 0 = a card with no Telegram account."""
        self._act()
        contact: dict[str, Any] = {
            "phone_number": phone,
            "first_name": first_name or self.first_name,
        }
        if last_name or (user_id is None and self.last_name):
            contact["last_name"] = last_name or self.last_name
        owner = self.id if user_id is None else user_id
        if owner:
            contact["user_id"] = owner
        chat = self.tg.chat(self.id)
        if chat.keyboard and chat.keyboard.get("one_time_keyboard"):
            chat.keyboard = None
        message = self.tg.add_user_message(self, self.id, contact=contact)
        self.tg.push_update({"message": message.to_api()})
        return message

    async def upload(
        self,
        filename: str,
        data: bytes,
        mime: str | None = None,
        *,
        as_photo: bool = False,
        caption: str | None = None,
    ) -> ChatMessage:
        """Send a file: a document (file name and MIME type kept) or a compressed photo."""
        self._act()
        mime = mime or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        if as_photo:
            width, height = image_size(data) or (1280, 960)
            stored = self.tg.store_file(data, "photo", width=width, height=height)
        else:
            stored = self.tg.store_file(data, "document", file_name=filename, mime_type=mime)
        message = self.tg.add_user_message(
            self,
            self.id,
            caption=caption,
            caption_entities=detect_entities(caption) if caption else [],
            document=None if as_photo else stored,
            photo=stored if as_photo else None,
        )
        self.tg.push_update({"message": message.to_api()})
        return message

    async def tap(self, text: str, *, message: ChatMessage | int | None = None) -> CallbackQuery:
        """Press the inline button with this text on the newest bot message showing it.

        An exact text match wins; otherwise a unique button containing the text. `message`
        limits the search to one message. Raises LookupError when no button matches.
        """
        if message is not None:
            message_id = message if isinstance(message, int) else message.message_id
            found = self.tg.chat(self.id).find(message_id)
            candidates = [found] if found is not None and not found.deleted else []
        else:
            candidates = [m for m in reversed(self.messages) if m.inline_keyboard]
        for exact in (True, False):
            for candidate in candidates:
                button = candidate.button(text, exact=exact)
                if button is None:
                    continue
                if "callback_data" not in button:
                    raise ValueError(f"button {button['text']!r} is not a callback button")
                return await self.press(button["callback_data"], candidate.message_id)
        shown = [m.buttons for m in candidates]
        raise LookupError(f"no inline button {text!r} for {self!r}; buttons shown: {shown}")

    async def press(self, callback_data: str, message_id: int | ChatMessage) -> CallbackQuery:
        """A callback query with any data on any message id (forged or stale presses)."""
        self._act()
        if isinstance(message_id, ChatMessage):
            message_id = message_id.message_id
        query = self.tg.add_callback_query(self, message_id, callback_data)
        return query

    def block(self, *, notify: bool = True) -> None:
        self.tg.block(self.id, notify=notify)

    def unblock(self, *, notify: bool = True) -> None:
        self.tg.unblock(self.id, notify=notify)

    # --- reading -------------------------------------------------------------------------------

    @property
    def messages(self) -> list[ChatMessage]:
        """What the bot sent to this chat and did not delete, oldest first, as now shown."""
        return [m for m in self.tg.chat(self.id).messages if m.from_bot and not m.deleted]

    @property
    def deleted_messages(self) -> list[ChatMessage]:
        return [m for m in self.tg.chat(self.id).messages if m.from_bot and m.deleted]

    @property
    def history(self) -> list[ChatMessage]:
        """Both sides of the private chat, oldest first (deleted messages included)."""
        return list(self.tg.chat(self.id).messages)

    @property
    def last(self) -> ChatMessage | None:
        messages = self.messages
        return messages[-1] if messages else None

    @property
    def texts(self) -> list[str]:
        return [m.content for m in self.messages]

    @property
    def buttons(self) -> list[str]:
        """Inline button texts of the newest bot message that has an inline keyboard."""
        for message in reversed(self.messages):
            if message.inline_keyboard:
                return message.buttons
        return []

    @property
    def keyboard(self) -> list[list[str]] | None:
        """The reply keyboard the chat shows now (button texts by row), None when hidden."""
        markup = self.tg.chat(self.id).keyboard
        return keyboard_texts(markup) if markup else None

    @property
    def keyboard_markup(self) -> dict[str, Any] | None:
        return self.tg.chat(self.id).keyboard

    @property
    def actions(self) -> list[str]:
        """sendChatAction actions for this chat, in order."""
        return list(self.tg.chat(self.id).actions)

    @property
    def commands(self) -> list[dict[str, str]]:
        """The command menu this user's client shows (scope and language resolution)."""
        return self.tg.visible_commands(self.id, self.language_code)

    async def wait_for(
        self,
        what: Matcher,
        timeout: float = 5.0,
        *,
        since: int | ChatMessage | None = None,
    ) -> ChatMessage:
        """Wait until the bot sends or edits a message matching `what` (substring of the text or
        caption, compiled regex, or predicate) after this user's latest action; returns it.

        `since=0` also accepts messages from before that action. AssertionError on timeout,
        listing what the bot did say.
        """
        if since is None:
            mark = self._mark
        elif isinstance(since, ChatMessage):
            mark = since.seq
        else:
            mark = since

        def find() -> ChatMessage | None:
            for message in self.messages:
                if message.seq > mark and _matches(what, message):
                    return message
            return None

        found = await self.tg.wait_until(find, timeout)
        if found is None:
            said = [m for m in self.messages if m.seq > mark] or self.messages[-3:]
            raise AssertionError(
                f"the bot did not say {what!r} to {self!r} within {timeout}s; it said: {said}"
            )
        return found
