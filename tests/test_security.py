"""Security: invite codes cannot be guessed, nothing secret reaches the logs, refused files
are never stored, one unit never sees or acts on another unit's assignment, and no text a
person typed can carry formatting or a link.

The same escaping over HTTP, against the fake Bot API server (the entities Telegram would
draw), is tested in tests/test_telegram_channel.py
(``test_text_a_person_types_is_shown_as_typed_never_as_markup``); the role × action matrix
of every service call is tests/test_permissions.py.
"""

from __future__ import annotations

import html
import logging
import re
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlmodel import func, select

from bot.app import App
from bot.settings import Settings
from bot.telegram import render as tr
from handlers.messages import Choice, Out
from storage.files import AttachmentStore
from storage.models import (
    Assignment,
    Attachment,
    BindAttempt,
    Conversation,
    InviteCode,
    Notice,
    Person,
    Proposal,
)
from tests.chat import Chat
from tests.snapshot import assert_same, shot
from tests.states import States
from workflow import assignments, proposals
from workflow.invites import issue_invite

FAKE_TOKEN = "987654321:AAsecretTokenThatMustNeverBeLogged_x9"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 20
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\0" * 48
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\0" * 40
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\0" * 56
HIDDEN_TITLE = "关于规范城区夜间施工噪声管理的建议"  # an undisclosed proposal of 区教育局


def count(db, model, *where) -> int:
    with db.read_session() as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


def stored_files(root) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def conversation_data(db, chat: Chat) -> dict:
    with db.read_session() as session:
        conv = session.exec(
            select(Conversation).where(Conversation.external_id == chat.sender.external_id)
        ).one()
    return conv.data


def tap_notice(chat: Chat, label: str):
    """Take the person's due notices and tap the first button with this label."""
    for _text, actions in chat.notices():
        for action in actions:
            if action["label"].startswith(label):
                return chat.press(action["payload"])
    raise AssertionError(f"no notice button {label!r}")


# ---------------------------------------------------------------- guessing invite codes


async def test_guessed_invite_codes_are_limited_recorded_and_logged(db, wf, world, engine, caplog):
    """Wrong codes from one chat account: each recorded as a failed BindAttempt; after
    invite_max_failures in the window even the right code is refused, with a warning in the
    log that names no code; another account is not affected."""
    caplog.set_level(logging.DEBUG)
    limit = wf.rules.invite_max_failures
    with db.session() as session:
        code = issue_invite(wf.ctx(session, world.staff), world.member)
    guesser = Chat(engine, "tg-guesser")
    digits = "23456789"  # the form of a code (its letters and digits), none issued
    guesses = [
        "WRQNG" + "".join(digits[(i + k) % 8] for k in range(5)) for i in range(limit - 1)
    ] + [f"/start ABCD{limit:06d}"]
    for i, guess in enumerate(guesses, 1):
        await guesser.send(guess)
        assert "邀请码不正确" in guesser.said
        assert count(db, BindAttempt, BindAttempt.external_id == "tg-guesser") == i
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]

    before = shot(db)
    for attempt in (code, f"/start {code}", "ZZZZZZZZZZ"):
        caplog.clear()
        await guesser.send(attempt)
        assert "尝试次数过多" in guesser.said
        assert f"{wf.rules.invite_failure_window_minutes} 分钟后再试" in guesser.said
        [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert warning.levelno == logging.WARNING and warning.name == "workflow.invites"
        assert "rate-limited" in warning.getMessage()
        assert code not in warning.getMessage() and "tg-guesser" not in warning.getMessage()
    assert_same(db, before)  # refused before anything was looked up or recorded
    with db.read_session() as session:
        attempts = session.exec(select(BindAttempt)).all()
        assert [(a.external_id, a.success) for a in attempts] == [("tg-guesser", False)] * limit
        assert session.exec(select(InviteCode)).one().used_at is None

    # Shared phone numbers that are not on the roster count the same way.
    sharer = Chat(engine, "tg-sharer")
    for i in range(limit):
        await sharer.share_contact(f"1390000{i:04d}", is_self=True)
        assert "名册中没有这个手机号" in sharer.said
    await sharer.share_contact("+86 13800000001", is_self=True)
    assert "尝试次数过多" in sharer.said
    assert count(db, BindAttempt, BindAttempt.external_id == "tg-sharer") == limit

    # The rightful owner, on another account, binds with the code.
    owner = Chat(engine, "tg-owner")
    await owner.send(f"/start {code}")
    assert "绑定成功，林晓！" in owner.said


# ---------------------------------------------------------------- secrets in the logs


def roster_phones(db) -> list[str]:
    with db.read_session() as session:
        return [p.phone for p in session.exec(select(Person)).all()]


def logged_text(records) -> str:
    """Every record as a handler would write it, traceback and all."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return "\n".join(formatter.format(record) for record in records)


def assert_no_secrets(text: str, secrets: list[str]) -> None:
    digits = re.sub(r"[\s\-+()]", "", text)  # 138 0000 0001, +86-138-0000-0001, …
    for secret in secrets:
        assert secret not in text, f"{secret!r} in the log"
        assert secret.lower() not in text.lower(), f"{secret!r} in the log"
        assert secret not in digits, f"{secret!r} in the log"


async def test_a_whole_life_through_the_chats_logs_no_code_phone_or_token(
    db, wf, world, tmp_path, caplog
):
    """林晓 binds by a code, 何平 by his phone number; a proposal goes from the wizard to
    the rating; every logger is captured at DEBUG, and no invite code, roster phone number
    or the bot token is in any record."""
    caplog.set_level(logging.DEBUG)
    app = App(
        settings=Settings(_env_file=None, data_dir=tmp_path, telegram_token=SecretStr(FAKE_TOKEN)),
        db=db,
        workflow=wf,
        store=AttachmentStore(tmp_path / "attachments"),
    )
    engine = app.engine
    codes = []
    with db.session() as session:
        for who in (world.member, world.staff, world.handler_edu):
            codes.append(issue_invite(wf.ctx(session, world.staff), who))
    member, cosigner = Chat(engine, "501"), Chat(engine, "502")
    staff, edu = Chat(engine, "510"), Chat(engine, "520")

    # binding: a deep link, a typed code (spaced and in lower case), a shared phone number
    await member.send(f"/start {codes[0]}")
    assert "绑定成功，林晓！" in member.said
    await staff.send(f"  {codes[1][:5].lower()} {codes[1][5:].lower()} ")
    assert "绑定成功，许静！" in staff.said
    await edu.send(codes[2])
    assert "绑定成功，高远！" in edu.said
    await cosigner.send("/start")
    await cosigner.share_contact("+86 138-0000-0002", is_self=True)
    assert "绑定成功，何平！" in cosigner.said

    # the member writes and submits the proposal with 何平 as co-signer
    title = "关于规范校园周边接送车辆停放的建议"
    await member.send("/new")
    await member.send(title)
    await member.tap("委员提案")
    await member.tap("文化教育")
    await member.send("城区部分小学放学时段校门口道路拥堵，接送车辆随意停放。")
    await member.tap("✅ 完成")
    await member.send("在校门周边划设临时即停即走车位，错峰放学。")
    await member.tap("✅ 完成")
    await member.send("区教育局")
    await member.upload("现场照片说明.pdf", PDF)
    await member.tap("✅ 完成")
    await member.tap("是")
    await member.send("何平")
    await member.tap("何平")
    await member.tap("✅ 完成")
    await member.tap("📤 提交")
    assert "已请何平委员在" in member.said, member.dump()
    await tap_notice(cosigner, "确认联名")
    assert "已确认联名" in cosigner.said

    # staff file it and assign it to 区教育局
    await staff.send("/menu")
    await staff.tap("🔎 审查队列")
    await staff.tap(title)
    await staff.tap("立案")
    await staff.tap("现在交办")
    await staff.tap("区教育局")
    await staff.tap("完成")
    await staff.tap("使用默认")
    await staff.tap("否")
    await staff.tap("确认交办")
    assert "已交办：2026年度第1号" in staff.said, staff.dump()

    # 区教育局 accepts from the notice and writes the reply
    await tap_notice(edu, "签收")
    assert "已签收" in edu.said
    await edu.tap("撰写答复")
    await edu.tap("A类")
    await edu.send("经研究，我局已在城区十二所小学周边施划即停即走泊位，高峰时段安排交警值守。")
    await edu.tap("完成")
    await edu.tap("使用我的姓名")
    await edu.send("0839-8620301")
    await edu.tap("使用「区教育局」")
    await edu.tap("今天")
    await edu.tap("提交审核")
    assert "答复已提交审核（A类，第1稿）" in edu.said, edu.dump()

    # staff approve; both rate with one tap on the delivery notice
    await staff.send("/menu")
    await staff.tap("✅ 答复审核")
    await staff.tap("2026年度第1号")
    await staff.tap("通过（A类）")
    await tap_notice(member, "满意")
    assert "已记录您的评价" in member.said
    await tap_notice(cosigner, "基本满意")
    assert "提案已办结" in cosigner.said
    with db.read_session() as session:
        assert session.exec(select(Proposal)).one().status == "closed"

    # a stranger tries used codes, someone else's card and unknown numbers until refused
    stranger = Chat(engine, "599")
    await stranger.share_contact("+8613800000004", is_self=False)
    for code in codes:
        await stranger.send(f"/start {code}")
        assert "已经用过" in stranger.said
    await stranger.share_contact("+8613900000099", is_self=True)
    await stranger.send("/start BADCODE123")
    await stranger.send(codes[0])
    assert "尝试次数过多" in stranger.said

    assert any(r.name == "workflow.invites" for r in caplog.records)  # the capture works
    assert_no_secrets(logged_text(caplog.records), [*codes, *roster_phones(db), FAKE_TOKEN])


def test_proposalbot_invite_logs_no_code_phone_or_token(db, world, monkeypatch, tmp_path, caplog):
    """``proposalbot invite`` at log level DEBUG, with a token configured: the code is
    printed for the operator and nowhere in the log."""
    from typer.testing import CliRunner

    from bot.cli import cli

    caplog.set_level(logging.DEBUG)
    monkeypatch.chdir(tmp_path)
    env = {
        "PROPOSALBOT_DATABASE_URL": db.url,
        "PROPOSALBOT_LOG_LEVEL": "DEBUG",
        "PROPOSALBOT_TELEGRAM_TOKEN": FAKE_TOKEN,
        "PROPOSALBOT_TELEGRAM_BOT_USERNAME": "tiantong_bot",
    }
    runner = CliRunner()
    codes = []
    for who in ("林晓", "13800000002"):
        result = runner.invoke(cli, ["invite", who], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        codes.append(re.search(r"的邀请码：(\w+)", result.output).group(1))
        assert f"https://t.me/tiantong_bot?start={codes[-1]}" in result.output
    assert_no_secrets(logged_text(caplog.records), [*codes, *roster_phones(db), FAKE_TOKEN])


# ---------------------------------------------------------------- refused uploads


def refused_uploads(limit: int) -> list[tuple[str, bytes, str | None, str]]:
    """(name, bytes, mime the channel claims, what the refusal says)."""
    return [
        ("调研报告.pdf", PDF + b"0" * limit, "application/pdf", "文件太大"),
        ("setup.exe", EXE, "application/x-msdownload", ""),
        ("照片.pdf", PNG, "application/pdf", "与内容"),  # a PNG that says it is a PDF
        ("资料.zip", ZIP, "application/zip", ""),
        ("run.pdf", ELF, "application/pdf", ""),
        ("空文件.pdf", b"", "application/pdf", "文件是空的"),
        ("说明.txt", "说明".encode("gbk"), "text/plain", "UTF-8"),
        ("page.html", b"<html><script>alert(1)</script></html>", "text/html", ""),
    ]


async def walk_to_attachments(chat: Chat) -> None:
    await chat.send("/new")
    await chat.send("关于规范校园周边接送车辆停放的建议")
    await chat.tap("委员提案")
    await chat.tap("文化教育")
    await chat.send("城区部分小学放学时段校门口道路拥堵，接送车辆随意停放。")
    await chat.tap("✅ 完成")
    await chat.send("在校门周边划设临时即停即走车位，错峰放学。")
    await chat.tap("✅ 完成")
    await chat.send("区教育局")
    assert "请作为文件发送" in chat.said


async def test_refused_uploads_in_the_submission_wizard_are_never_stored(
    db, wf, world, chat_as, tmp_path
):
    store = tmp_path / "attachments"
    chat = chat_as(world.member)
    await walk_to_attachments(chat)
    for name, data, mime, says in refused_uploads(wf.rules.attachment_max_bytes):
        before = shot(db)
        await chat.upload(name, data, mime)
        assert "已收到附件" not in chat.said and says in chat.said, (name, chat.said)
        assert "请作为文件发送" in chat.said  # the same step is asked again
        assert stored_files(store) == [], name
        assert_same(db, before)
    assert count(db, Attachment) == 0

    # Over the count: the files already there stay, the next one is refused unstored.
    for i in range(wf.rules.attachment_max_count):
        await chat.upload(f"附件{i}.txt", f"第{i}份材料".encode(), "text/plain")
        assert "已收到附件" in chat.said
    kept = stored_files(store)
    assert len(kept) == wf.rules.attachment_max_count
    before = shot(db)
    await chat.upload("多出的一份.txt", "多出的一份".encode(), "text/plain")
    assert f"最多只能上传 {wf.rules.attachment_max_count} 个附件" in chat.said
    assert stored_files(store) == kept
    assert_same(db, before)


async def test_refused_uploads_in_the_reply_wizard_are_never_stored(
    db, wf, world, chat_as, tmp_path
):
    store = tmp_path / "attachments"
    _pid, lead, _co = States(db, wf, world).accepted()
    chat = chat_as(world.handler_edu)
    await chat.send("/menu")
    await chat.tap("📥 交办事项")
    await chat.tap("2026年度第1号")
    await chat.tap("撰写答复")
    await chat.tap("A类")
    assert "请发送答复正文" in chat.said
    uploads = refused_uploads(wf.rules.attachment_max_bytes)
    uploads.append(("答复.docx", ZIP, None, ""))  # a zip, not a Word document
    uploads.append(("答复.txt", "🙂🙂🙂".encode(), "text/plain", "不能只有表情"))
    for name, data, mime, says in uploads:
        before = shot(db)
        await chat.upload(name, data, mime)
        said = chat.said
        assert "已收到文件" not in said and "已用文件" not in said and says in said, (name, said)
        assert stored_files(store) == [], name
        assert_same(db, before)
        assert "files" not in conversation_data(db, chat)["_keep"]["replies"][str(lead)], name
    assert count(db, Attachment) == 0


# ---------------------------------------------------------------- one unit, another's assignment


def payloads(chat: Chat) -> list[str]:
    return [c.payload for out in chat.last for c in out.choices]


def version_of(chat: Chat) -> str:
    """The state version the buttons just shown carry."""
    return next(p.split("|", 1)[0] for p in payloads(chat) if "|" in p)


async def test_a_unit_never_sees_or_acts_on_another_units_assignment(db, wf, world, chat_as):
    """蒋涛 (区交通运输局) against an undisclosed proposal assigned to 区教育局 alone: not in his
    inbox, /status and 查询提案 refuse it, search does not find it, the notice buttons and
    every button of 区教育局's inbox and reply wizard (as sent, and forged with his own state
    version) are refused — each with the database unchanged and nothing of it said."""
    s = States(db, wf, world)
    w = world
    hidden = s.run(
        w.member,
        proposals.create_draft,
        title=HIDDEN_TITLE,
        analysis="城区多处工地夜间施工，噪声扰民投诉多。",
        suggestions="严格夜间施工审批，设立噪声监测点。",
        disclose=False,
    ).id
    s.run(w.member, proposals.submit, hidden)
    s.run(w.staff, proposals.file_proposal, hidden)
    [theirs] = s.run(w.staff, assignments.assign, hidden, lead_unit_id=w.education)
    own = s.filed(title="关于增设学校周边人行过街设施的建议")  # No. 2, 区交通运输局 leads
    [mine] = s.run(w.staff, assignments.assign, own, lead_unit_id=w.transport)
    s.run(w.handler_tr, assignments.accept, mine.id)
    s.filed(title="关于治理城区道路交通噪声的建议")  # No. 3, disclosed
    with db.read_session() as session:
        number = session.get(Proposal, hidden).number
    tr = chat_as(w.handler_tr)

    async def refused(action, *, says: str = "") -> None:
        before = shot(db)
        await action()
        assert HIDDEN_TITLE not in tr.said and "噪声扰民" not in tr.said, tr.said
        assert says in tr.said, (says, tr.said)
        assert_same(db, before)
        data = conversation_data(db, tr)
        assert data.get("asg") != theirs.id
        assert str(theirs.id) not in data.get("_keep", {}).get("replies", {})

    # the inbox lists his own unit's assignment only
    await tr.send("/menu")
    await refused(lambda: tr.tap("📥 交办事项"), says="共 1 件")
    assert [b for b in tr.buttons if b.startswith("2026年度第")] == [
        "2026年度第2号关于增设学校周边人行过街设施的建议（主办）"
    ]
    assert not [p for p in payloads(tr) if p.endswith(f"|a:{theirs.id}")]
    await refused(lambda: tr.press(f"{version_of(tr)}|a:{theirs.id}"), says="这个选项无效")

    # the record, by number
    await refused(lambda: tr.send(f"/status {number}"), says="您无权查看这件提案")
    await tr.send("/menu")
    await tr.tap("🔢 查询提案")
    await refused(lambda: tr.send(str(number)), says="您无权查看这件提案")

    # search finds the disclosed proposal, never the undisclosed one
    await tr.send("/menu")
    await tr.tap("🔍")
    await refused(lambda: tr.send("噪声"), says="找到 1 件")
    assert [b for b in tr.buttons if b.startswith("2026年度第")] == [
        "2026年度第3号 关于治理城区道路交通噪声的建议 · 已立案"
    ]
    await refused(lambda: tr.send("夜间施工"), says="没有找到")

    # the buttons of the assignment notice, and other notice buttons naming the proposal
    forged = [
        (f"asg:{theirs.id}:accept", "这项交办不属于您所在的单位"),
        (f"asg:{theirs.id}:adjust", "这项交办不属于您所在的单位"),
        (f"rate:{hidden}:satisfied", ""),
        (f"cosign:{hidden}:yes", ""),
        (f"cosignadd:{hidden}:{w.handler_tr}", ""),
    ]
    for payload, says in forged:
        await refused(lambda payload=payload: tr.press(payload), says=says)
    with db.read_session() as session:
        told = session.exec(select(Notice).where(Notice.person_id == w.handler_tr)).all()
    assert told and hidden not in {n.proposal_id for n in told}
    assert s.status(Assignment, theirs.id) == "pending"

    # 区教育局 signs for it and writes its reply; every button it is shown is collected
    edu = chat_as(w.handler_edu)
    seen: list[str] = []
    for step in (
        lambda: edu.send("/menu"),
        lambda: edu.tap("📥 交办事项"),
        lambda: edu.tap(f"2026年度第{number}号"),
        lambda: edu.tap("签收"),
        lambda: edu.tap("撰写答复"),
        lambda: edu.tap("A类"),
        lambda: edu.send("我局已会同住建部门开展夜间施工专项整治。"),
        lambda: edu.tap("完成"),
        lambda: edu.tap("使用我的姓名"),
        lambda: edu.send("0839-8620101"),
        lambda: edu.tap("使用「区教育局」"),
        lambda: edu.tap("今天"),
    ):
        await step()
        seen += [p for p in payloads(edu) if p not in seen]
    assert "答复函预览" in edu.said and "提交审核" in edu.buttons
    assert len(seen) > 20

    # 蒋涛 presses each of them, in his inbox and in his own reply wizard
    async def at_inbox() -> None:
        await tr.send("/menu")
        await tr.tap("📥 交办事项")

    async def at_own_reply() -> None:
        await at_inbox()
        await tr.tap("2026年度第2号")
        await tr.tap("撰写答复")
        assert "撰写答复 · 2026年度第2号提案" in tr.said

    for where in (at_inbox, at_own_reply):
        for payload in seen:
            value = payload.split("|", 1)[1]
            for variant in (payload, f"{{v}}|{value}"):
                await where()
                pressed = variant.replace("{v}", version_of(tr))
                await refused(lambda pressed=pressed: tr.press(pressed))
    assert s.status(Assignment, theirs.id) == "accepted"
    assert "我局已会同住建部门" in str(conversation_data(db, edu)["_keep"]["replies"])


# ---------------------------------------------------------------- formatting and links


# Every sequence that means something to Telegram's HTML parser, or to its Markdown ones
# (which the bot never uses: texts go out with parse_mode=HTML, escaped whole).
MARKUP = [
    "<",
    ">",
    "&",
    '"',
    "'",
    "<b>粗体</b>",
    "<strong>",
    "<i>",
    "<u>",
    "<s>",
    "<del>",
    "<ins>",
    '<span class="tg-spoiler">',
    "<tg-spoiler>",
    '<a href="https://evil.example/登录">点我查看</a>',
    "<a href='tg://user?id=1'>",
    '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
    "<code>",
    '<pre><code class="language-python">',
    "<blockquote expandable>",
    "</blockquote>",
    "<br/>",
    "<!-- -->",
    "<![CDATA[x]]>",
    "&lt;b&gt;",
    "&amp;",
    "&#60;b&#62;",
    "&#x3C;a href=x&#x3E;",
    "&quot;",
    "&nbsp;",
    "*粗体*",
    "_斜体_",
    "__下划线__",
    "~删除~",
    "||剧透||",
    "`代码`",
    "```python\nprint(1)\n```",
    "[点我](https://evil.example)",
    "[提案委](tg://user?id=42)",
    "![图](https://evil.example/x.png)",
    ">引用",
    "**>可展开引用||",
    "\\*",
    "\u202e",
    "\u200f",
    "\u200d",
]


class Tags(HTMLParser):
    """What an HTML parser (like Telegram's) finds in a text: tags, comments, declarations."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.found.append(f"<{tag}>")

    def handle_endtag(self, tag):
        self.found.append(f"</{tag}>")

    def handle_comment(self, data):
        self.found.append("<!--")

    def handle_decl(self, decl):
        self.found.append("<!")

    def unknown_decl(self, data):
        self.found.append("<![")

    def handle_pi(self, data):
        self.found.append("<?")

    def handle_data(self, data):
        self.text.append(data)


def assert_plain(escaped: str, typed: str) -> None:
    """The escaped text holds no markup at all and reads back as exactly what was typed."""
    assert "<" not in escaped and ">" not in escaped
    assert re.fullmatch(r"(?:[^&]|&(?:amp|lt|gt);)*", escaped, re.S), escaped
    parser = Tags()
    parser.feed(escaped)
    parser.close()
    assert parser.found == []
    assert "".join(parser.text) == html.unescape(escaped) == typed


@pytest.mark.parametrize("markup", MARKUP)
def test_every_markup_sequence_is_sent_as_plain_text(markup):
    typed = f"标题：{markup}结尾"
    assert_plain(tr.message_text(typed), typed)
    assert_plain(tr.escape(typed), typed)  # a document's caption


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(st.one_of(st.sampled_from(MARKUP), st.text(max_size=12)), max_size=12))
def test_no_mix_of_markup_and_text_becomes_formatting(parts):
    typed = "".join(parts)
    if not typed.strip():
        assert tr.message_text(typed) == "…"  # an empty text is never sent empty
        return
    assert_plain(tr.message_text(typed), typed)


def test_a_button_label_is_one_plain_line_and_a_document_name_has_no_path():
    """Button labels are not parsed by Telegram; they are cut to one line. A long record
    sent as a document is named from its first line, without any path or markup."""
    markup = tr.inline_keyboard([Choice('<a href="https://evil.example">x</a>\n[y](z)', "1|x")])
    assert markup["inline_keyboard"][0][0]["text"] == '<a href="https://evil.example">x</a> [y](z)'
    name = tr.document_name("<b>../../etc/passwd</b>\n正文", "proposal")
    assert name == "betcpasswdb.txt" and "/" not in name and "<" not in name
    pieces = tr.pieces([Out("<b>长</b>" * 10, expects="none", continued=True)] * 2 + [Out("尾")])
    assert pieces[0].document.decode().startswith("<b>长</b>")  # a file is not parsed
