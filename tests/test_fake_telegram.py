"""The fake Telegram server, driven over HTTP by python-telegram-bot's real Bot and Application."""

from __future__ import annotations

import asyncio
import struct
import zlib

import httpx
import pytest
from aiohttp import web
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fake_telegram import (
    EntityParseError,
    FakeTelegram,
    RateLimits,
    parse_html,
    parse_markdown,
    parse_markdown_v2,
)

# RetryAfter's own constructor reads its deprecated int `retry_after` (PTB 22.2+)
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


def png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
async def tg():
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(tg):
    async with Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url) as client:
        yield client


async def started_user(tg, user_id=1001, **kwargs):
    user = tg.user(id=user_id, first_name="Alice", username="alice", **kwargs)
    await user.send("/start")
    return user


# --- the HTTP surface ----------------------------------------------------------------------------


async def test_get_me_tokens_and_method_names(tg, bot):
    me = await bot.get_me()
    assert me.id == tg.bot_id and me.is_bot and me.username == "proposal_test_bot"

    with pytest.raises(InvalidToken, match="rejected"):
        async with Bot("42:wrong", base_url=tg.base_url):
            pass
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy")

    async with httpx.AsyncClient() as client:
        shouted = await client.get(f"{tg.base_url}{tg.token}/GETME")
        posted = await client.post(f"{tg.base_url}{tg.token}/getme", json={})
        unknown = await client.post(f"{tg.base_url}{tg.token}/noSuchMethod")
        wrong = await client.get(f"{tg.base_url}1:bad/getMe")
    assert shouted.json()["result"]["username"] == posted.json()["result"]["username"]
    assert unknown.status_code == 404
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert [r.method for r in tg.calls("getMe")][-2:] == ["getMe", "getMe"]


async def test_json_form_and_query_bodies_send_the_same_message(tg):
    alice = await started_user(tg)
    url = f"{tg.base_url}{tg.token}/sendMessage"
    async with httpx.AsyncClient() as client:
        as_json = await client.post(url, json={"chat_id": alice.id, "text": "json"})
        as_form = await client.post(url, data={"chat_id": str(alice.id), "text": "form"})
        as_query = await client.get(url, params={"chat_id": alice.id, "text": "query"})
    ids = [r.json()["result"]["message_id"] for r in (as_json, as_form, as_query)]
    assert [r.param("chat_id") for r in tg.calls("sendMessage")] == [alice.id] * 3
    assert [r.chat_id for r in tg.calls("sendMessage")] == [alice.id] * 3
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert alice.texts == ["json", "form", "query"]
    assert as_json.json()["result"]["from"]["id"] == tg.bot_id


async def test_send_edit_and_delete_messages(tg, bot):
    alice = await started_user(tg)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("同意", callback_data="ok:1"),
                InlineKeyboardButton("驳回", callback_data="no:1"),
            ]
        ]
    )
    sent = await bot.send_message(
        alice.id, "<b>提案</b> 第1号", parse_mode=ParseMode.HTML, reply_markup=keyboard
    )
    assert sent.text == "提案 第1号"
    assert sent.entities[0].type == "bold" and sent.entities[0].length == 2
    assert sent.reply_markup == keyboard
    assert sent.chat.id == alice.id and sent.from_user.id == tg.bot_id
    assert alice.last.text == "提案 第1号" and alice.buttons == ["同意", "驳回"]
    assert alice.last.parse_mode == "HTML"

    edited = await bot.edit_message_text("已同意", alice.id, sent.message_id)
    assert edited.edit_date is not None and edited.reply_markup is None
    assert alice.last.text == "已同意" and alice.last.history == ["提案 第1号"]
    assert alice.buttons == []
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("已同意", alice.id, sent.message_id)
    await bot.edit_message_reply_markup(alice.id, sent.message_id, reply_markup=keyboard)
    assert alice.buttons == ["同意", "驳回"]
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_reply_markup(alice.id, sent.message_id, reply_markup=keyboard)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", alice.id, 999)

    second = await bot.send_message(alice.id, "再见", reply_to_message_id=sent.message_id)
    assert second.message_id > sent.message_id
    assert second.reply_to_message.message_id == sent.message_id
    assert await bot.delete_message(alice.id, second.message_id)
    assert [m.text for m in alice.messages] == ["已同意"]
    assert [m.text for m in alice.deleted_messages] == ["再见"]
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(alice.id, second.message_id)
    assert await bot.send_chat_action(alice.id, "typing")
    assert alice.actions == ["typing"]


async def test_reply_keyboard_contact_sharing(tg, bot):
    alice = await started_user(tg)
    markup = ReplyKeyboardMarkup(
        [[KeyboardButton("分享手机号", request_contact=True)]], one_time_keyboard=True
    )
    await bot.send_message(alice.id, "请分享手机号", reply_markup=markup)
    assert alice.keyboard == [["分享手机号"]]
    await alice.share_contact("+8613800000000")
    await alice.share_contact("+8613900000000", user_id=2002, first_name="Bob")
    assert alice.keyboard is None
    updates = await bot.get_updates()
    own, other = updates[-2].message.contact, updates[-1].message.contact
    assert own.user_id == alice.id and own.phone_number == "+8613800000000"
    assert other.user_id == 2002 and other.first_name == "Bob"

    await bot.send_message(alice.id, "键盘", reply_markup=ReplyKeyboardMarkup([["甲", "乙"]]))
    assert alice.keyboard == [["甲", "乙"]]
    await bot.send_message(alice.id, "收起", reply_markup=ReplyKeyboardRemove())
    assert alice.keyboard is None


async def test_long_polling_with_offset(tg, bot):
    alice = tg.user(id=1001, first_name="Alice")
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await tg.wait_request("getUpdates", predicate=lambda r: r.params.get("timeout") == "5")
    assert not poll.done()  # the long poll waits for an update
    await alice.send("/start invite-42")
    updates = await poll
    assert len(updates) == 1
    message = updates[0].message
    assert message.text == "/start invite-42" and message.from_user.id == alice.id
    assert message.entities[0].type == "bot_command" and message.entities[0].length == 6
    assert message.chat.type == "private"

    await alice.send("第二条")
    await alice.send("第三条")
    again = await bot.get_updates(timeout=1)
    assert [u.message.text for u in again] == ["/start invite-42", "第二条", "第三条"]
    confirmed = await bot.get_updates(offset=again[1].update_id + 1, timeout=1)
    assert [u.message.text for u in confirmed] == ["第三条"]
    assert tg.updates_pending() == 1
    empty = await bot.get_updates(offset=confirmed[-1].update_id + 1, timeout=0)
    assert empty == () and tg.updates_pending() == 0
    limited = [alice.send(str(i)) for i in range(3)]
    await asyncio.gather(*limited)
    assert len(await bot.get_updates(limit=2)) == 2


async def test_a_newer_get_updates_ends_the_older_one(tg, bot):
    older = asyncio.create_task(bot.get_updates(timeout=5))
    await tg.wait_request("getUpdates")
    async with Bot(tg.token, base_url=tg.base_url) as second:
        newer = asyncio.create_task(second.get_updates(timeout=5))
        with pytest.raises(Conflict, match="(?i)terminated by other getUpdates"):
            await older
        await tg.user(id=5, first_name="Eve").send("hi")
        assert [u.message.text for u in await newer] == ["hi"]


# --- Telegram's limits ---------------------------------------------------------------------------


async def test_text_caption_and_button_limits(tg, bot):
    alice = await started_user(tg)
    await bot.send_message(alice.id, "长" * 4096)
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(alice.id, "长" * 4097)
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await bot.send_message(alice.id, " \n ")
    # the limit counts text after entity parsing
    await bot.send_message(alice.id, "<b>" + "字" * 4096 + "</b>", parse_mode="HTML")
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(alice.id, "按钮", reply_markup=too_long)
    fits = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="数" * 21)]])
    await bot.send_message(alice.id, "按钮", reply_markup=fits)  # 63 bytes
    with pytest.raises(BadRequest, match="(?i)caption is too long"):
        await bot.send_document(alice.id, InputFile(b"pdf", filename="a.pdf"), caption="c" * 1025)
    with pytest.raises(Forbidden, match="(?i)can't initiate conversation"):
        await bot.send_message(tg.user(id=3003, first_name="Carol").id, "hello")
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(424242, "hello")
    assert len(alice.messages) == 3


async def test_parse_modes_are_checked(tg, bot):
    alice = await started_user(tg)
    with pytest.raises(BadRequest, match='(?i)can\'t parse entities: unsupported start tag "x"'):
        await bot.send_message(alice.id, "a <x> b", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)can't find end tag corresponding to start tag"):
        await bot.send_message(alice.id, "<b>open", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)character '.' is reserved"):
        await bot.send_message(alice.id, "版本 1.2", parse_mode="MarkdownV2")
    ok = await bot.send_message(
        alice.id, r"*粗* 版本 1\.2 [链接](https://example.com/a\)b)", parse_mode="MarkdownV2"
    )
    assert ok.text == "粗 版本 1.2 链接"
    assert [(e.type, e.url) for e in ok.entities] == [
        ("bold", None),
        ("text_link", "https://example.com/a)b"),
    ]
    with pytest.raises(BadRequest, match="(?i)unsupported parse_mode"):
        await bot.send_message(alice.id, "x", parse_mode="BBCode")


def test_html_parser_follows_telegram():
    text, entities = parse_html(
        '<b>粗 <i>斜</i></b> 😀 <a href="https://x.org/?a=1&amp;b=2">链</a> &lt;&#33;&gt; AT&T '
        '<pre><code class="language-python">x = 1</code></pre> <span class="tg-spoiler">s</span> '
        "<blockquote expandable>q</blockquote>"
    )
    assert text == "粗 斜 😀 链 <!> AT&T x = 1 s q"
    by_type = {e["type"]: e for e in entities}
    assert by_type["bold"] == {"type": "bold", "offset": 0, "length": 3}
    assert by_type["italic"] == {"type": "italic", "offset": 2, "length": 1}
    # the emoji counts two UTF-16 code units
    assert by_type["text_link"] == {
        "type": "text_link",
        "offset": 7,
        "length": 1,
        "url": "https://x.org/?a=1&b=2",
    }
    assert by_type["pre"]["language"] == "python" and "code" not in by_type
    assert by_type["spoiler"]["length"] == 1
    assert by_type["expandable_blockquote"]["length"] == 1
    for bad, error in [
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("中<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 3'),
        ("<b", "Unclosed start tag at byte offset 0"),
    ]:
        with pytest.raises(EntityParseError) as info:
            parse_html(bad)
        assert str(info.value) == error


def test_markdown_v2_parser_follows_telegram():
    text, entities = parse_markdown_v2("*b _i_* __u__ ~s~ ||sp|| `c\\`` ```py\nx\n```")
    assert text == "b i u s sp c` x\n"
    types = [e["type"] for e in entities]
    assert types == ["bold", "italic", "underline", "strikethrough", "spoiler", "code", "pre"]
    assert entities[-1]["language"] == "py"
    quote, quote_entities = parse_markdown_v2(">引用一\n>引用二\n正文")
    assert quote == "引用一\n引用二\n正文"
    assert quote_entities == [{"type": "blockquote", "offset": 0, "length": 7}]
    folded, folded_entities = parse_markdown_v2("**>隐藏\n>更多||\n正文")
    assert folded == "隐藏\n更多\n正文"
    assert folded_entities == [{"type": "expandable_blockquote", "offset": 0, "length": 5}]
    for bad, error in [
        ("1.5", "Character '.' is reserved and must be escaped with the preceding '\\'"),
        ("a *b", "Can't find end of Bold entity at byte offset 2"),
        ("中_x", "Can't find end of Italic entity at byte offset 3"),
        ("[a](http://x", "Can't find end of a URL at byte offset 4"),
    ]:
        with pytest.raises(EntityParseError) as info:
            parse_markdown_v2(bad)
        assert str(info.value) == error


def test_legacy_markdown_parser():
    text, entities = parse_markdown("*粗* _斜_ `c` [链](http://x.org) a\\_b")
    assert text == "粗 斜 c 链 a_b"
    assert [e["type"] for e in entities] == ["bold", "italic", "code", "text_link"]
    assert entities[-1]["url"] == "http://x.org"
    with pytest.raises(EntityParseError) as info:
        parse_markdown("中 *open")
    assert str(info.value) == "Can't find end of the entity starting at byte offset 4"


async def test_flood_control_per_chat_and_overall(tg, bot):
    alice = await started_user(tg)
    sent, retry = 0, None
    for i in range(31):
        try:
            await bot.send_message(alice.id, f"消息 {i}")
            sent += 1
        except RetryAfter as error:
            retry = error
            break
    assert retry is not None and sent < 31
    assert "Flood control exceeded" in str(retry)
    refused = tg.calls("sendMessage")[-1]
    assert refused.status == 429 and refused.retry_after >= 1
    assert refused.description == f"Too Many Requests: retry after {refused.retry_after}"
    assert len(alice.messages) == sent

    # 31 messages to 31 different chats run into the overall limit (refill slowed a thousandfold
    # so that the outcome does not depend on how fast this machine sends)
    tg.limits = RateLimits(time_scale=0.001)
    users = [await started_user(tg, 5000 + i) for i in range(31)]
    results = []
    for user in users:
        try:
            await bot.send_message(user.id, "通知")
            results.append("ok")
        except RetryAfter:
            results.append("429")
    assert results == ["ok"] * 30 + ["429"]


async def test_time_scale_and_switching_limits_off():
    async with FakeTelegram(limits=RateLimits.off()) as tg:
        alice = await started_user(tg)
        async with Bot(tg.token, base_url=tg.base_url) as bot:
            for i in range(40):
                await bot.send_message(alice.id, str(i))
        assert len(alice.messages) == 40
    async with FakeTelegram(time_scale=1000) as tg:
        assert tg.limits.time_scale == 1000 and tg.flood.limits.chat_rate == 1.0


# --- files -----------------------------------------------------------------------------------------


async def test_upload_get_file_and_download_round_trip(tg, bot):
    alice = await started_user(tg)
    body = "提案附件".encode() * 1000
    await alice.upload("提案.pdf", body, "application/pdf", caption="附件")
    await alice.upload("photo.png", png(4, 3), as_photo=True)
    updates = await bot.get_updates()
    document = updates[-2].message.document
    assert document.file_name == "提案.pdf" and document.mime_type == "application/pdf"
    assert updates[-2].message.caption == "附件"
    photo = updates[-1].message.photo[-1]
    assert (photo.width, photo.height) == (4, 3)

    file = await bot.get_file(document.file_id)
    assert file.file_size == len(body) and file.file_path.startswith(tg.base_file_url)
    assert bytes(await file.download_as_bytearray()) == body
    assert tg.downloads == [file.file_path.rsplit(tg.token + "/", 1)[1]]

    sent = await bot.send_document(
        alice.id, InputFile(b"%PDF-1.4 report", filename="答复.pdf"), caption="办理答复"
    )
    assert sent.document.file_name == "答复.pdf" and sent.document.mime_type == "application/pdf"
    assert alice.last.document.data == b"%PDF-1.4 report" and alice.last.caption == "办理答复"
    again = await bot.send_document(alice.id, sent.document.file_id)
    assert again.document.file_id == sent.document.file_id
    downloaded = await (await bot.get_file(sent.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == b"%PDF-1.4 report"

    picture = await bot.send_photo(alice.id, InputFile(png(), filename="p.png"))
    assert (picture.photo[-1].width, picture.photo[-1].height) == (3, 2)
    with pytest.raises(BadRequest, match="(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(alice.id, InputFile(b"not an image", filename="p.png"))
    with pytest.raises(BadRequest, match="(?i)can't use file of type document as photo"):
        await bot.send_photo(alice.id, sent.document.file_id)
    with pytest.raises(BadRequest, match="(?i)wrong file identifier"):
        await bot.send_document(alice.id, "BQACunknown")


async def test_files_over_twenty_megabytes_cannot_be_downloaded(tg, bot):
    alice = await started_user(tg)
    await alice.upload("big.zip", b"\0" * (20 * 1024 * 1024 + 1))
    update = (await bot.get_updates())[-1]
    with pytest.raises(BadRequest, match="(?i)file is too big"):
        await bot.get_file(update.message.document.file_id)


# --- webhook ---------------------------------------------------------------------------------------


async def test_webhook_delivery_with_secret_and_retries(tg, bot):
    received: list[tuple[dict, str | None]] = []
    answers = [500]  # the first delivery fails, the retry succeeds

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        )
        return web.Response(status=answers.pop(0) if answers else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        alice = tg.user(id=1001, first_name="Alice")
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret_-X")
        with pytest.raises(Conflict, match="(?i)webhook is active"):
            await bot.get_updates()
        await alice.send("你好")
        await tg.wait_until(lambda: tg.updates_pending() == 0 and len(received) == 2, 5)
        assert [payload["message"]["text"] for payload, _ in received] == ["你好", "你好"]
        assert {secret for _, secret in received} == {"s3cret_-X"}
        assert [d.status for d in tg.webhook_deliveries] == [500, 200]
        info = await bot.get_webhook_info()
        assert info.url.endswith("/hook") and info.pending_update_count == 0
        assert "500" in info.last_error_message
        assert Update.de_json(received[-1][0], bot).message.from_user.id == alice.id

        assert await bot.delete_webhook()
        await alice.send("轮询")
        assert [u.message.text for u in await bot.get_updates()] == ["轮询"]
        with pytest.raises(BadRequest, match="(?i)secret token"):
            await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="bad secret")
    finally:
        await runner.cleanup()


async def test_webhook_to_a_dead_url_keeps_updates_pending(tg, bot):
    with socket_port() as port:
        pass  # the port is free again: nothing listens there
    await bot.set_webhook(f"http://127.0.0.1:{port}/hook")
    await tg.user(id=7, first_name="G").send("x")
    await tg.wait_until(lambda: len(tg.webhook_deliveries) >= 2, 5)
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 1 and info.last_error_message == "Connection refused"
    await bot.delete_webhook(drop_pending_updates=True)
    assert tg.updates_pending() == 0


class socket_port:
    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


# --- faults ----------------------------------------------------------------------------------------


async def test_injected_faults_as_ptb_sees_them(tg, bot):
    alice = await started_user(tg)
    tg.inject("sendMessage", "429", retry_after=7)
    with pytest.raises(RetryAfter, match="Retry in (7 seconds|0:00:07)"):
        await bot.send_message(alice.id, "a")

    tg.inject("sendMessage", "500")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(alice.id, "b")

    tg.inject("sendMessage", "403")
    with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
        await bot.send_message(alice.id, "c")

    tg.inject("sendMessage", "timeout")
    with pytest.raises(TimedOut):
        await bot.send_message(alice.id, "d", read_timeout=0.3)

    tg.inject("sendMessage", "drop")
    with pytest.raises(NetworkError) as dropped:
        await bot.send_message(alice.id, "e")
    assert not isinstance(dropped.value, TimedOut)

    assert alice.messages == []  # none of the failed calls sent anything
    await bot.send_message(alice.id, "f")
    assert alice.texts == ["f"]
    assert [r.fault for r in tg.calls("sendMessage")] == [
        "429",
        "500",
        "403",
        "timeout",
        "drop",
        None,
    ]

    # a lost answer: the message went out, the bot never heard back
    tg.inject("sendMessage", "drop", perform=True)
    with pytest.raises(NetworkError):
        await bot.send_message(alice.id, "g")
    assert alice.texts == ["f", "g"]

    # faults aimed at one chat and repeated
    bob = await started_user(tg, 2002)
    fault = tg.inject("sendMessage", "500", times=2, chat_id=bob.id)
    await bot.send_message(alice.id, "h")
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(bob.id, "i")
    await bot.send_message(bob.id, "j")
    assert fault.hits == 2 and bob.texts == ["j"] and tg.faults == []

    # a fault that lets the first calls through (the second message of a long text fails)
    fault = tg.inject("sendMessage", "500", after=1, chat_id=bob.id)
    await bot.send_message(bob.id, "k")
    with pytest.raises(NetworkError):
        await bot.send_message(bob.id, "l")
    await bot.send_message(bob.id, "m")
    assert fault.hits == 1 and bob.texts == ["j", "k", "m"] and tg.faults == []


async def send_until_through(bot, chat_id: int, text: str) -> int:
    """What a careful client does: try again after any transient fault; returns the tries."""
    for tries in range(1, 10):
        try:
            await bot.send_message(chat_id, text, read_timeout=0.3)
            return tries
        except (RetryAfter, NetworkError):
            continue
    raise AssertionError(f"{text!r} never got through")


async def test_chaos_strikes_at_random_reproducibly_and_never_forever(tg, bot):
    alice, bob = await started_user(tg), await started_user(tg, 2002)
    tg.limits = RateLimits.off()  # only chaos refuses calls here
    chaos = tg.chaos(
        0.5, seed=7, methods={"sendMessage": ("429", "500", "timeout", "drop")}, lost_answers=0.5
    )
    for n in range(12):
        for user in (alice, bob):
            assert await send_until_through(bot, user.id, f"{user.id}-{n}") <= 3  # max_streak 2
    updates = await bot.get_updates()  # chaos leaves getUpdates alone unless it is named
    await bot.get_updates(offset=updates[-1].update_id + 1)
    await tg.idle(quiet=0.05)
    assert chaos.settled() and {r.fault for r in chaos.struck} == {"429", "500", "timeout", "drop"}
    for user in (alice, bob):
        calls = [r for r in tg.calls("sendMessage") if r.chat_id == user.id]
        for n in range(12):
            text = f"{user.id}-{n}"
            tries = [r for r in calls if r.params["text"] == text]
            # each text arrived once, plus once more for every answer the bot lost
            assert user.texts.count(text) == 1 + sum(r.answer_lost for r in tries)
            assert sum(r.ok for r in tries) == 1 and [r.ok for r in tries][-1]
        # the draws depend on the seed and the chat's own calls, not on the other chat
        assert [r.fault for r in calls] == pattern(7, user.id, len(calls))
    assert not any(r.answer_lost for r in chaos.struck if r.fault == "429")
    assert tg.calls("getUpdates") and not any(r.chaos for r in tg.calls("getUpdates"))

    # a struck request nobody tries again keeps the server from being idle
    tg.chaos(1.0, seed=1, methods=["sendMessage"], faults=("500",))
    with pytest.raises(NetworkError):
        await bot.send_message(alice.id, "once only")
    with pytest.raises(TimeoutError, match="not tried again: sendMessage to 1001"):
        await tg.idle(quiet=0.05, timeout=0.3)
    tg.calm()
    await bot.send_message(alice.id, "once only")
    await tg.idle(quiet=0.05)
    assert alice.texts[-1] == "once only"


def pattern(seed: int, chat_id: int, calls: int) -> list[str | None]:
    """The faults the same chaos gives one chat's calls on a fresh server, trying each request
    again until it gets through."""
    from tests.fake_telegram import Chaos, RequestRecord

    chaos = Chaos(0.5, {"sendmessage": ("429", "500", "timeout", "drop")}, seed, lost_answers=0.5)
    faults: list[str | None] = []
    n = 0
    while len(faults) < calls:
        record = RequestRecord("sendMessage", {"text": f"{chat_id}-{n}"}, 0, 0, chat_id)
        fault = chaos.strike(record)
        faults.append(fault.fault if fault else None)
        n += fault is None
    return faults


async def test_an_answer_the_client_gave_up_on_is_carried_out_but_unheard(tg):
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(
                f"{tg.base_url}{tg.token}/getUpdates", json={"timeout": 0.5}, timeout=0.1
            )
        [poll] = await tg.wait_request("getUpdates", answered=True, timeout=3)
        await client.post(f"{tg.base_url}{tg.token}/getUpdates", json={"timeout": 0})
    heard = tg.calls("getUpdates")[-1]
    # the server answered the first poll after the client had hung up
    assert poll.ok and poll.unheard and poll.answer_lost and not poll.acknowledged
    assert heard.ok and not heard.unheard and not heard.answer_lost and heard.acknowledged


async def test_a_lost_answer_hides_a_refusal_too(tg, bot):
    alice = await started_user(tg)
    tg.inject("sendMessage", "500", perform=True)
    with pytest.raises(NetworkError, match="Internal Server Error") as lost:
        await bot.send_message(alice.id, "<b>unclosed", parse_mode=ParseMode.HTML)
    assert not isinstance(lost.value, BadRequest)  # the bot never saw the refusal
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(alice.id, "<b>unclosed", parse_mode=ParseMode.HTML)
    first, retry = tg.calls("sendMessage")
    assert (first.fault, first.status, first.carried_out) == ("500", 500, False)
    assert (retry.fault, retry.status) == (None, 400) and alice.messages == []


async def test_chaos_loses_webhook_answers_so_updates_come_again(tg, bot):
    received: list[int] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((await request.json())["update_id"])
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        tg.webhook_retry_delay = 0.01
        chaos = tg.chaos(0, seed=3, methods=[], redeliver=0.5)
        await bot.set_webhook(f"http://127.0.0.1:{runner.addresses[0][1]}/hook")
        alice = tg.user(id=1001, first_name="Alice")
        for n in range(20):
            await alice.send(str(n))
        await tg.idle(quiet=0.05)
    finally:
        await runner.cleanup()
    sent = sorted(set(received))
    assert len(sent) == 20 and len(received) > 20  # every update arrived, some again
    for update_id in sent:
        tries = [d for d in tg.webhook_deliveries if d.update_id == update_id]
        # the last try's answer got through; at most max_streak answers lost in a row
        assert [d.lost for d in tries] == [True] * (len(tries) - 1) + [False]
        assert len(tries) <= 3 and received.count(update_id) == len(tries)
    assert chaos.struck == []  # no Bot API call was struck


async def test_blocked_user(tg, bot):
    alice = await started_user(tg)
    await bot.get_updates()
    alice.block()
    with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
        await bot.send_message(alice.id, "still there?")
    member = (await bot.get_updates())[-1].my_chat_member
    assert member.new_chat_member.status == "kicked" and member.from_user.id == alice.id
    with pytest.raises(RuntimeError):
        await alice.send("hi")
    alice.unblock()
    await bot.send_message(alice.id, "welcome back")
    assert alice.texts == ["welcome back"]


# --- callback queries and commands -----------------------------------------------------------------


async def test_callback_queries_and_answers(tg, bot):
    alice = await started_user(tg)
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("✅ 同意 (3)", callback_data="vote:yes")],
            [InlineKeyboardButton("官网", url="https://example.com")],
        ]
    )
    sent = await bot.send_message(alice.id, "表决", reply_markup=markup)
    await bot.send_message(alice.id, "无按钮")
    query = await alice.tap("同意")  # a unique button containing the text
    update = (await bot.get_updates())[-1]
    assert update.callback_query.data == "vote:yes" and update.callback_query.id == query.id
    assert update.callback_query.message.message_id == sent.message_id
    assert update.callback_query.from_user.id == alice.id

    assert await bot.answer_callback_query(query.id, text="已记录", show_alert=True)
    answer = await query.wait_answer()
    assert answer.text == "已记录" and answer.show_alert and tg.callback_answers == [answer]
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query("12345")
    with pytest.raises(LookupError):
        await alice.tap("反对")
    with pytest.raises(ValueError):
        await alice.tap("官网")

    stale = await alice.press("vote:forged", 999)
    forged = (await bot.get_updates())[-1].callback_query
    assert forged.data == "vote:forged" and forged.message.date.timestamp() == 0
    assert stale.data == "vote:forged"


async def test_commands_by_scope(tg, bot):
    from telegram import BotCommand, BotCommandScopeChat

    alice = await started_user(tg)
    await bot.set_my_commands([BotCommand("start", "开始"), BotCommand("help", "帮助")])
    await bot.set_my_commands([BotCommand("review", "审核")], scope=BotCommandScopeChat(alice.id))
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert tg.commands["default"][0] == {"command": "start", "description": "开始"}
    assert [c["command"] for c in tg.commands[("chat", alice.id)]] == ["review"]
    assert [c["command"] for c in alice.commands] == ["review"]
    assert [c["command"] for c in tg.user(id=9, first_name="Z").commands] == ["start", "help"]
    await bot.delete_my_commands(scope=BotCommandScopeChat(alice.id))
    assert [c["command"] for c in alice.commands] == ["start", "help"]
    with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])


# --- the real Application --------------------------------------------------------------------------


async def test_a_polling_application_talks_to_users(tg):
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton("提交提案", callback_data="submit")]]
        )
        await update.message.reply_html(
            f"欢迎，<b>{update.effective_user.first_name}</b>", reply_markup=keyboard
        )

    async def tapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer("好的")
        await update.callback_query.edit_message_text("请输入提案标题")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(f"标题：{update.message.text}")

    app = (
        Application.builder()
        .token(tg.token)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(tapped))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with app:
        await app.updater.start_polling(poll_interval=0, timeout=5)
        await app.start()
        try:
            alice = tg.user(id=1001, first_name="Alice")
            bob = tg.user(id=1002, first_name="Bob")
            await alice.send("/start")
            await bob.send("/start")
            greeting = await alice.wait_for("欢迎")
            assert greeting.text == "欢迎，Alice" and greeting.entities[0]["type"] == "bold"
            assert (await bob.wait_for("欢迎")).text == "欢迎，Bob"
            query = await alice.tap("提交提案")
            assert (await query.wait_answer()).text == "好的"
            await alice.wait_for("请输入提案标题")
            assert alice.buttons == [] and len(alice.messages) == 1
            await alice.send("加强社区养老服务")
            assert (await alice.wait_for("标题")).text == "标题：加强社区养老服务"
            await tg.idle()
            assert tg.updates_pending() == 0
        finally:
            await app.updater.stop()
            await app.stop()


async def test_a_webhook_application_gets_updates_with_its_secret(tg):
    seen: list[str] = []

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update.message.text)
        await update.message.reply_text(f"收到：{update.message.text}")

    app = Application.builder().token(tg.token).base_url(tg.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    with socket_port() as port:
        pass
    async with app:
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="tg",
            webhook_url=f"http://127.0.0.1:{port}/tg",
            secret_token="hook-secret",
        )
        await app.start()
        try:
            alice = tg.user(id=1001, first_name="Alice")
            await alice.send("你好")
            assert (await alice.wait_for("收到")).text == "收到：你好"
            assert seen == ["你好"] and tg.webhook_deliveries[-1].status == 200
            assert tg.calls("setWebhook")[-1].params["secret_token"] == "hook-secret"
        finally:
            await app.updater.stop()
            await app.stop()


async def test_groups_membership_and_leaving(tg, bot):
    alice = tg.user(id=1001, first_name="Alice")
    await alice.add_bot_to_group(chat_id=-2002, title="委员群")
    await alice.send_in_group("/start@proposal_test_bot", chat_id=-2002)
    joined, message = await bot.get_updates()
    assert joined.my_chat_member.new_chat_member.status == "member"
    assert joined.my_chat_member.chat.title == "委员群"
    assert message.message.chat.type == "group" and message.message.from_user.id == alice.id
    assert message.message.entities[0].type == "bot_command"
    assert not alice.started  # writing in a group does not open the private chat

    await bot.send_message(-2002, "本机器人只在私聊中工作")
    assert [m.text for m in tg.chat_messages(-2002)] == ["本机器人只在私聊中工作"]
    assert await bot.leave_chat(-2002)
    with pytest.raises(Forbidden, match="(?i)bot is not a member of the group chat"):
        await bot.send_message(-2002, "还在吗")
    await alice.send_in_group("有人吗", chat_id=-2002)
    left = await bot.get_updates(offset=message.update_id + 1)
    assert [u.my_chat_member.new_chat_member.status for u in left] == ["left"]
    with pytest.raises(BadRequest, match="(?i)private chats"):
        await bot.leave_chat((await started_user(tg)).id)


async def test_plain_http_control_endpoints(tg, bot):
    alice = await started_user(tg)
    await bot.send_message(alice.id, "一")
    async with httpx.AsyncClient() as client:
        listed = await client.get(f"{tg.url}/_fake/chats/{alice.id}/messages")
        pushed = await client.post(
            f"{tg.url}/_fake/updates",
            json={
                "edited_message": {**alice.history[0].to_api(), "edit_date": 1, "text": "/help"}
            },
        )
    assert [m["text"] for m in listed.json()["result"]] == ["/start", "一"]
    assert pushed.json()["result"]["update_id"] > 0
    assert (await bot.get_updates())[-1].edited_message.text == "/help"
