"""A Bot-API-compatible fake Telegram server for tests, on real HTTP (aiohttp, 127.0.0.1).

The bot under test runs the real python-telegram-bot against it::

    async with FakeTelegram(token=TOKEN) as tg:
        app = Application.builder().token(TOKEN).base_url(tg.base_url)
              .base_file_url(tg.base_file_url).build()
        ...
        alice = tg.user(id=1001, first_name="Alice", username="alice")
        await alice.send("/start")
        reply = await alice.wait_for("欢迎")
        await alice.tap("提交提案")
        assert "提交" in alice.last.text

Bot API (path ``/bot<token>/<method>``, GET or POST, query / JSON / form / multipart, method
names case-insensitive; answers ``{"ok": true, "result": ...}`` or ``{"ok": false,
"error_code": N, "description": "...", "parameters": {"retry_after": N}}``): getMe, logOut,
close, getUpdates (long polling with offset / limit / timeout / allowed_updates; a newer
getUpdates ends an older one with 409), sendMessage, editMessageText, editMessageCaption,
editMessageReplyMarkup, deleteMessage, answerCallbackQuery, sendDocument, sendPhoto, getFile
(+ download at ``/file/bot<token>/<file_path>``), setMyCommands / getMyCommands /
deleteMyCommands (scopes default, all_private_chats, all_group_chats, all_chat_administrators,
chat, chat_administrators, chat_member; language_code), setWebhook / deleteWebhook /
getWebhookInfo (updates POSTed to the url with ``X-Telegram-Bot-Api-Secret-Token``, retried
on failure; getUpdates answers 409 meanwhile; plain http:// urls are accepted), sendChatAction,
getChat, leaveChat. Unknown method → 404 "Not Found" (PTB raises InvalidToken for that);
wrong token → 401 "Unauthorized".

Telegram's limits with Telegram's texts: text 1..4096 characters after entity parsing and
trimming ("message is too long" / "message text is empty"); parse_mode HTML / MarkdownV2 /
Markdown parsed like Telegram ("can't parse entities: ..."); callback_data 1..64 bytes
("BUTTON_DATA_INVALID"); caption ≤ 1024; identical edit → "message is not modified: ...";
answering a query twice / unknown / after ``callback_timeout`` → "query is too old ...";
getFile over 20 MB → "file is too big"; uploads over 50 MB → 413; photos must be images;
flood control (`RateLimits`: ~30/s overall, 1/s per private chat with a burst of 10, 20/min per
group; token buckets; sends and edits count) → 429 "Too Many Requests: retry after N" with
parameters.retry_after; blocked user → 403 "Forbidden: bot was blocked by the user"; a user
who never wrote to the bot → 403 "Forbidden: bot can't initiate conversation with a user";
a group the bot left → 403 "Forbidden: bot is not a member of the group chat"; unknown chat
→ 400 "chat not found".

Control API (all in-process, on the test's event loop):

``FakeTelegram(token=DEFAULT_TOKEN, *, limits=RateLimits(), time_scale=None,
bot_first_name="提案通", bot_username="proposal_test_bot", callback_timeout=15.0,
webhook_retry_delay=0.05, stall_seconds=120.0)``
    ``async with`` starts / stops the server on a free port. ``time_scale`` multiplies every
    flood-limit refill rate; ``limits=RateLimits.off()`` switches flood control off.
- ``tg.base_url`` / ``tg.base_file_url`` / ``tg.url`` / ``tg.port`` / ``tg.token`` /
  ``tg.bot_user`` (the bot's User dict) / ``tg.bot_id``.
- ``tg.user(id=None, first_name=None, username=None, *, last_name=None,
  language_code="zh-hans", started=False)`` → `FakeUser` (same object for the same id);
  until the user writes, the bot gets 403 sending to them — pass ``started=True`` for users
  a test binds without chatting.
- ``tg.group(chat_id=-1001, title=...)`` → the group `Chat`; ``tg.chat(chat_id)``;
  ``tg.chat_messages(chat_id)`` → the bot's messages in any chat.
- ``tg.requests`` (`RequestRecord` per call: method, params, time, chat_id, status,
  description, retry_after, fault, result; ``record.param("reply_markup")`` decodes a form
  value as JSON), ``tg.calls("sendMessage")``,
  ``await tg.wait_request(method, count=1, timeout=5, predicate=None, answered=False)``.
- ``tg.callback_answers`` (`CallbackAnswer`), ``tg.callback_queries`` (id → `CallbackQuery`).
- ``tg.commands`` ({scope key: [{"command", "description"}]} for no language code; keys
  "default", "all_private_chats", ..., ("chat", chat_id), ...),
  ``tg.commands_for(scope, chat_id=None, user_id=None, language_code="")``,
  ``tg.visible_commands(chat_id, language_code)`` (the menu a client shows).
- ``tg.files`` (file_id → `StoredFile` with ``.data``), ``tg.downloads`` (paths fetched),
  ``tg.webhook_deliveries`` (`WebhookDelivery` per POST attempt).
- ``tg.updates_pending()``; ``await tg.idle(quiet=0.15, timeout=10)`` (no pending update, no
  call in flight apart from long polls, nothing happening for ``quiet`` seconds);
  ``await tg.wait_until(predicate, timeout)``; ``tg.push_update({"message": {...}})`` for raw
  updates (also ``POST /_fake/updates``; ``GET /_fake/chats/<id>/messages`` lists a chat).
- Faults: ``tg.inject(method="sendMessage", fault="429"|"500"|"502"|"400"|"403"|"timeout"|
  "drop", *, times=1, retry_after=1, chat_id=None, description=None, perform=False,
  after=0)`` → `Fault` (``.hits``), failing once ``after`` matching calls went through;
  "timeout" never answers (the client's read timeout fires), "drop" closes
  the connection without an answer, ``perform=True`` carries the call out before failing its
  answer (a refusal's answer too), ``times=None`` keeps failing, ``method=None`` hits every
  method but getUpdates.
  ``tg.clear_faults()`` (ends chaos too); ``tg.block(user_id)`` / ``tg.unblock(user_id)`` (with
  the my_chat_member update unless ``notify=False``); ``tg.limits = RateLimits(...)`` at any time.
- Chaos: ``tg.chaos(rate=0.15, faults=("429", "500", "502", "timeout", "drop"), *, seed=0,
  methods=None, retry_after=1, lost_answers=0.0, max_streak=2, redeliver=0.0)`` → `Chaos`:
  from now on each call of `methods` (names, a {name: faults} mapping, or None = every
  method but getUpdates) fails at random with probability `rate`, reproducibly from the seed
  (a call's draw depends on seed, method, chat and that chat's count of earlier calls of the
  method). One request (a call and its retries: same method, chat and identifying
  parameters) fails at most `max_streak` times in a row; `lost_answers` is the share of
  faults struck *after* the call was carried out (never a 429, never getUpdates);
  `redeliver` is the share of webhook deliveries whose answer is lost, so the update is
  POSTed again (``delivery.lost``). ``chaos.struck`` (the `RequestRecord`s hit, ``.chaos``
  set), ``chaos.summary()`` ({(method, fault or "fault+lost"): count}),
  ``chaos.outstanding`` (requests struck and not yet tried again); ``tg.idle()`` also waits
  for those; ``tg.calm()`` ends chaos. ``record.carried_out`` (the call took effect,
  answered or not), ``record.answer_lost`` (took effect, but the bot got a fault or had hung
  up: ``record.unheard``), ``record.acknowledged`` (answered ok and the bot got the answer).

`FakeUser` (private chat id = user id; every action enqueues an update and returns at once):
- ``await user.send(text, reply_to=None)`` → `ChatMessage` ("/start payload" carries a
  bot_command entity); ``await user.send_in_group(text, chat_id=-1001, title=...)`` (no
  update once the bot left that group); ``await user.add_bot_to_group(chat_id=..., title=...)``
  (my_chat_member update).
- ``await user.tap(button_text, message=None)`` → `CallbackQuery` from the inline button with
  that text (exact, else contained) on the newest bot message showing it;
  ``await user.press(callback_data, message_id)`` for forged or stale data.
- ``await user.share_contact(phone, user_id=None, first_name=None, last_name=None)`` (user_id
  None = own card, another id = someone else's card, 0 = no Telegram account).
- ``await user.upload(filename, data, mime=None, as_photo=False, caption=None)``.
- ``user.block()`` / ``user.unblock()``; ``user.blocked``; ``user.started``.
- Reading: ``user.messages`` (the bot's messages in the chat, not deleted, current text after
  edits), ``user.last``, ``user.texts``, ``user.buttons`` (inline button texts of the newest
  message with a keyboard), ``user.keyboard`` (reply keyboard now shown, texts by row, or
  None), ``user.actions`` (chat actions), ``user.commands`` (visible command menu),
  ``user.deleted_messages``, ``user.history`` (both sides),
  ``await user.wait_for(substring | regex | predicate, timeout=5, since=None)`` → the first bot
  message sent or edited after the user's latest action that matches (AssertionError listing
  what the bot said on timeout; ``since=0`` looks at everything).

`ChatMessage`: message_id, chat_id, date, from_bot, text, entities, caption, parse_mode,
reply_markup (as sent), link_preview_options, document / photo / file (`StoredFile`: data,
file_name, mime_type, file_id), contact, reply_to, edit_date, edits, history (earlier texts),
deleted, content (text or caption), buttons, button_rows, callback_data, button(text),
keyboard, inline_keyboard, to_api().

`CallbackQuery`: id, data, message_id, answer (`CallbackAnswer`: text, show_alert, url,
cache_time) and ``await query.wait_answer(timeout=5)``.
"""

from tests.fake_telegram.limits import FloodControl, RateLimits, TokenBucket
from tests.fake_telegram.markup import (
    EntityParseError,
    parse_html,
    parse_markdown,
    parse_markdown_v2,
)
from tests.fake_telegram.records import (
    CallbackAnswer,
    CallbackQuery,
    Chaos,
    Chat,
    ChatMessage,
    Fault,
    RequestRecord,
    StoredFile,
    WebhookDelivery,
)
from tests.fake_telegram.server import DEFAULT_TOKEN, ApiError, FakeTelegram
from tests.fake_telegram.users import FakeUser

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "CallbackAnswer",
    "CallbackQuery",
    "Chaos",
    "Chat",
    "ChatMessage",
    "EntityParseError",
    "FakeTelegram",
    "FakeUser",
    "Fault",
    "FloodControl",
    "RateLimits",
    "RequestRecord",
    "StoredFile",
    "TokenBucket",
    "WebhookDelivery",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
]
