"""A member's new proposal and drafts, as transcripts: the whole submission, long texts in
several messages, attachments, co-signers, the preview and its edits, drafts, restarts,
similar proposals, bad input at every step, and the request to co-sign instead."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from handlers import submit_preview
from handlers.drafts import DRAFTS_FLOW
from handlers.flows import build_engine
from handlers.similar import similar_proposals
from handlers.submit import SUBMIT_FLOW
from storage.models import Attachment, AuditEvent, Conversation, Notice, Person, Proposal, Signer
from tests.chat import Chat
from tests.snapshot import is_chinese, shot, snapshot
from workflow import proposals
from workflow.errors import InvalidInput, InvalidTransition, PermissionDenied

TITLE = "关于加快老旧小区加装电梯的建议"
A1 = "全区二〇〇〇年以前建成的老旧小区多为六层住宅，没有电梯，老年居民上下楼十分吃力。"
A2 = "加装电梯要征得业主同意，低层住户担心采光和噪声，意见难统一；审批环节多，周期长。"
S1 = "1、出台加装电梯财政补贴办法，简化规划和施工审批手续。"
S2 = "2、由街道社区牵头协商业主意见，推行“一梯一议”调解机制。"
UNIT = "区住房和城乡建设局"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 20
EXE = b"MZ\x90\x00" + b"\0" * 60

# Another member's proposal on the same subject, and one on another subject.
LIFT_TITLE = "关于推进既有住宅加装电梯的建议"
LIFT_ANALYSIS = "老旧住宅没有电梯，老年人上下楼困难；加装电梯业主协商难，审批手续复杂。"
LIFT_SUGGESTIONS = "1、简化加装电梯审批流程。\n2、对加装电梯给予财政补贴。"
WATER_TITLE = "关于治理农村生活污水的建议"
WATER_ANALYSIS = "部分村庄生活污水直排河沟，水体发黑发臭，影响村民生活。"
WATER_SUGGESTIONS = "1、建设分散式污水处理设施。\n2、落实设施运行维护资金。"


# ---------------------------------------------------------------- helpers


def conversation(db, chat: Chat) -> Conversation:
    with db.read_session() as s:
        return s.exec(
            select(Conversation).where(Conversation.external_id == chat.sender.external_id)
        ).one()


def rows(db, model, *where):
    with db.read_session() as s:
        return list(s.exec(select(model).where(*where).order_by(col(model.id))).all())


def proposal_of(db, wf, person_id, title, analysis, suggestions, *, submit=True, **fields):
    """A proposal written through the workflow (submitted unless ``submit`` is false)."""
    with db.session() as s:
        ctx = wf.ctx(s, person_id)
        draft = proposals.create_draft(
            ctx,
            title=title,
            field=fields.pop("field", "城乡建设"),
            analysis=analysis,
            suggestions=suggestions,
            **fields,
        )
        if submit:
            proposals.submit(ctx, draft.id)
        return draft.id


def my_draft(db, wf, world, **fields) -> int:
    return proposal_of(
        db,
        wf,
        world.member,
        TITLE,
        f"{A1}\n{A2}",
        f"{S1}\n{S2}",
        submit=False,
        suggested_unit=UNIT,
        **fields,
    )


def restart(engine, chat: Chat) -> Chat:
    """A fresh engine and chat for the same account; the person still sees the last buttons."""
    fresh = Chat(build_engine(engine.db, engine.workflow, engine.store), chat.sender.external_id)
    fresh.last = chat.last
    return fresh


async def open_draft(chat: Chat, title: str = TITLE) -> None:
    """From anywhere: 我的草稿 → the draft → 继续编辑."""
    await chat.send("/menu")
    await chat.tap("🗂 我的草稿")
    await chat.tap(f"《{title[:10]}")
    await chat.tap("✏️ 继续编辑")


# The whole submission from the menu, one event at a time.
WALK = [
    ("menu", lambda c: c.send("/menu")),
    ("new", lambda c: c.tap("📝 新建提案")),
    ("title", lambda c: c.send(TITLE)),
    ("category", lambda c: c.tap("委员提案")),
    ("field", lambda c: c.tap("城乡建设")),
    ("analysis-1", lambda c: c.send(A1)),
    ("analysis-2", lambda c: c.send(A2)),
    ("analysis-done", lambda c: c.tap("✅ 完成")),
    ("suggestions-1", lambda c: c.send(S1)),
    ("suggestions-2", lambda c: c.send(S2)),
    ("suggestions-done", lambda c: c.tap("✅ 完成")),
    ("unit", lambda c: c.send(UNIT)),
    ("upload", lambda c: c.upload("电梯调研.pdf", PDF)),
    ("attachments-done", lambda c: c.tap("✅ 完成")),
    ("disclose", lambda c: c.tap("否")),
    ("search-1", lambda c: c.send("何平")),
    ("invite-1", lambda c: c.tap("何平")),
    ("search-2", lambda c: c.send("黄")),
    ("invite-2", lambda c: c.tap("黄蕾")),
    ("cosigners-done", lambda c: c.tap("✅ 完成")),
    ("submit", lambda c: c.tap("📤 提交")),
]


def assert_submitted(db, world) -> Proposal:
    [proposal] = rows(db, Proposal)
    assert proposal.status == "submitted" and proposal.proposer_id == world.member
    assert (proposal.title, proposal.category, proposal.field) == (TITLE, "member", "城乡建设")
    assert proposal.analysis == f"{A1}\n{A2}"
    assert proposal.suggestions == f"{S1}\n{S2}"
    assert proposal.suggested_unit == UNIT and proposal.disclose is False
    assert proposal.session_label == "七届二次会议" and proposal.submitted_at is not None
    signers = [(s.person_id, s.role, s.state) for s in rows(db, Signer)]
    assert signers == [
        (world.member, "lead", "confirmed"),
        (world.cosigner, "co", "pending"),
        (world.cosigner2, "co", "pending"),
    ]
    [attachment] = rows(db, Attachment)
    assert (attachment.filename, attachment.proposal_id) == ("电梯调研.pdf", proposal.id)
    told = sorted((n.kind, n.person_id) for n in rows(db, Notice))
    assert told == sorted(
        [
            ("submitted_receipt", world.member),
            ("review_queue", world.staff),
            ("review_queue", world.staff2),
            ("cosign_request", world.cosigner),
            ("cosign_request", world.cosigner2),
        ]
    )
    request = rows(db, Notice, Notice.person_id == world.cosigner)[0]
    assert [a["payload"] for a in request.actions] == [
        f"cosign:{proposal.id}:yes",
        f"cosign:{proposal.id}:no",
    ]
    return proposal


# ---------------------------------------------------------------- the whole submission


async def test_whole_submission_from_the_menu(db, wf, world, chat_as):
    chat = chat_as(world.member)
    said = {}
    for name, action in WALK:
        await action(chat)
        said[name] = chat.said
        assert "抱歉" not in chat.said, (name, chat.dump())
    assert "关于……的建议" in said["new"] and "100 个字" in said["new"]
    assert "草稿已建立" in said["title"] and "小提示" not in said["title"]
    assert "委员提案" in said["title"] and "集体提案" in said["title"]
    assert "请选择提案所属领域" in said["category"]
    assert "已用 0/2500 字" in said["field"]
    assert f"已用 {len(A1)}/2500 字" in said["analysis-1"]
    assert f"已用 {len(A1) + 1 + len(A2)}/2500 字" in said["analysis-2"]
    assert "请写「建议」" in said["analysis-done"]
    assert "跳过" in said["suggestions-done"]
    assert "已收到附件「电梯调研.pdf」" in said["upload"]
    assert "是否同意公开" in said["attachments-done"]
    assert (
        "何平（医药卫生界 · 尾号0002）" in said["search-1"] or "找到 1 位委员" in said["search-1"]
    )
    assert "已把何平委员加入联名名单" in said["invite-1"]
    assert "联名委员：何平、黄蕾" in said["invite-2"]
    assert "请核对提案内容" in said["cosigners-done"]
    assert "待确认联名:何平、黄蕾" in said["cosigners-done"]
    receipt = said["submit"]
    assert f"提案《{TITLE}》已于2026年9月14日 09:30提交" in receipt
    assert "已请何平、黄蕾委员在" in receipt and "前确认联名" in receipt
    assert "林晓，您好" in receipt  # back at the menu
    assert_submitted(db, world)
    assert conversation(db, chat).flow == "menu"


async def test_title_convention_is_suggested_and_the_limit_enforced(db, wf, world, chat_as):
    chat = chat_as(world.member)
    await chat.send("/new")
    await chat.send("标" * (wf.rules.title_max_chars + 1))
    assert "标题最多 100 个字，现在有 101 个字" in chat.said
    assert rows(db, Proposal) == []
    await chat.send("老旧小区加装电梯")
    assert "小提示" in chat.said and "例如「关于老旧小区加装电梯的建议」" in chat.said
    [proposal] = rows(db, Proposal)
    assert proposal.title == "老旧小区加装电梯" and proposal.status == "draft"
    assert conversation(db, chat).step == "category"
    data = conversation(db, chat).data
    assert data["pid"] == proposal.id and set(data) <= {"pid", "_offered"}


async def test_a_title_pasted_in_several_lines_is_kept_as_one(db, wf, world, chat_as):
    """A title copied from a document often breaks where the page did: it is one line, in
    the record, the buttons, every notice and the ledger. So is a collective body's name."""
    chat = chat_as(world.member)
    await chat.send("/new")
    await chat.send("关于加快老旧小区\n加装电梯的建议")
    assert "小提示" not in chat.said and "请选择提案类别" in chat.said
    [proposal] = rows(db, Proposal)
    assert proposal.title == "关于加快老旧小区加装电梯的建议"
    await chat.tap("集体提案")
    await chat.send("民进\n区委会")
    [proposal] = rows(db, Proposal)
    assert proposal.collective_body == "民进区委会"
    with db.session() as s:  # Latin words keep the space between them; blank lines go
        ctx = wf.ctx(s, world.member)
        proposals.update_draft(ctx, proposal.id, title="关于推进 5G\n\n  base station 建设的建议")
    [proposal] = rows(db, Proposal)
    assert proposal.title == "关于推进 5G base station 建设的建议"


async def test_a_collective_proposal_asks_for_the_body(db, wf, world, chat_as):
    chat = chat_as(world.member)
    await chat.send("/new")
    await chat.send(TITLE)
    await chat.tap("集体提案")
    assert "提出这件集体提案的单位名称" in chat.said
    await chat.send("民进区委会")
    assert "请选择提案所属领域" in chat.said
    [proposal] = rows(db, Proposal)
    assert (proposal.category, proposal.collective_body) == ("collective", "民进区委会")
    # made in the body's name: no co-signers are asked for, disclosure leads to the preview
    for action in WALK[4:14]:  # field … attachments (no upload)
        if action[0] != "upload":
            await action[1](chat)
    await chat.tap("是")
    assert "请核对提案内容" in chat.said and "联名" not in chat.said
    assert "✏️ 联名委员" not in chat.buttons
    await chat.tap("📤 提交")
    assert "已于2026年9月14日 09:30提交" in chat.said
    assert [(s.person_id, s.role) for s in rows(db, Signer)] == [(world.member, "lead")]


async def test_a_draft_turned_collective_drops_its_cosigners(db, wf, world, chat_as):
    """Co-signers invited on a draft are asked only at submission: when the draft becomes
    a collective proposal they come off the list, and the member is told who."""
    pid = my_draft(db, wf, world)
    with db.session() as s:
        proposals.invite_cosigner(wf.ctx(s, world.member), pid, world.cosigner)
    chat = chat_as(world.member)
    await open_draft(chat)
    assert "待确认联名:何平" in chat.said
    await chat.tap("✏️ 类别")
    await chat.tap("集体提案")
    assert "集体提案以提案单位的名义提出，不邀请委员联名，已把何平移出联名名单。" in chat.said
    await chat.send("民进区委会")
    assert "请核对提案内容" in chat.said and "待确认联名" not in chat.said
    assert "✏️ 联名委员" not in chat.buttons
    assert [(s.person_id, s.role) for s in rows(db, Signer)] == [(world.member, "lead")]
    edits = rows(db, AuditEvent, AuditEvent.action == "edit_draft")
    assert [
        e.detail.get("removed_person_ids") for e in edits if e.detail.get("removed_person_ids")
    ] == [[world.cosigner]]
    # the step is not offered: a forged button is refused and changes nothing
    before = shot(db)
    await chat.press(f"{conversation(db, chat).version}|e:cosigners")
    assert "这个选项无效" in chat.said
    assert shot(db) == before


async def test_a_collective_draft_with_cosigners_from_before_can_only_remove_them(
    db, wf, world, chat_as
):
    """A collective draft saved with a co-signer before the rule: the preview still offers
    「✏️ 联名委员」, which says why nobody is invited and lets the member remove them."""
    pid = my_draft(db, wf, world, category="collective", collective_body="民进区委会")
    with db.session() as s:
        s.add(Signer(proposal_id=pid, person_id=world.cosigner, role="co", position=1))
    chat = chat_as(world.member)
    await open_draft(chat)
    await chat.tap("✏️ 联名委员")
    assert "集体提案以提案单位的名义提出，不邀请委员联名。" in chat.said
    assert chat.buttons == ["✅ 完成", "移除 何平"]
    await chat.send("黄蕾")  # a name to invite: refused by the workflow
    assert "集体提案以提案单位的名义提出，不邀请委员联名。" in chat.said
    await chat.tap("移除 何平")
    assert "已把何平委员移出联名名单。" in chat.said
    await chat.tap("✅ 完成")
    assert "请核对提案内容" in chat.said and "✏️ 联名委员" not in chat.buttons
    assert rows(db, Signer, Signer.role == "co") == []


def test_a_collective_proposal_takes_no_cosigner_by_any_path(db, wf, world, clock):
    """Whatever the channel: no invitation on the draft, none after submission, no request
    to co-sign it; a draft that had co-signers before the rule is not submitted with them."""
    body = {"category": "collective", "collective_body": "民进区委会"}
    draft = my_draft(db, wf, world, **body)
    submitted = proposal_of(db, wf, world.member, "关于增设社区老年食堂的建议", A1, S1, **body)
    refusal = "集体提案以提案单位的名义提出，不邀请委员联名。"
    for actor, call in (
        (world.member, lambda ctx: proposals.invite_cosigner(ctx, draft, world.cosigner)),
        (world.member, lambda ctx: proposals.add_cosigner(ctx, submitted, world.cosigner)),
        (world.cosigner, lambda ctx: proposals.request_to_cosign(ctx, submitted)),
    ):
        with pytest.raises(InvalidInput) as caught, db.session() as s:
            call(wf.ctx(s, actor))
        assert str(caught.value) == refusal
    assert rows(db, Signer, Signer.role == "co") == []
    with db.session() as s:  # a collective draft with a co-signer from before the rule
        s.add(Signer(proposal_id=draft, person_id=world.cosigner, role="co", position=1))
    with pytest.raises(InvalidInput) as caught, db.session() as s:
        proposals.submit(wf.ctx(s, world.member), draft)
    assert str(caught.value) == (
        "集体提案以提案单位的名义提出，不邀请委员联名，请先在「联名委员」中移出何平。"
    )
    [proposal] = rows(db, Proposal, Proposal.id == draft)
    assert proposal.status == "draft"


async def test_long_texts_in_several_messages_with_a_running_count(db, wf, world, chat_as):
    chat = chat_as(world.member)
    await chat.send("/new")
    await chat.send(TITLE)
    await chat.tap("委员提案")
    await chat.tap("城乡建设")
    await chat.tap("✅ 完成")
    assert "「存在问题」还没有内容" in chat.said and conversation(db, chat).step == "analysis"
    await chat.send("先写一段试试。")
    await chat.tap("🗑 清空重写")
    assert "已清空「存在问题」" in chat.said and rows(db, Proposal)[0].analysis == ""
    await chat.send("问" * 1200)
    assert "这条 1200 字" in chat.said and "已用 1200/2500 字，还可写 1300 字" in chat.said
    await chat.send("题" * 1200)
    assert "「存在问题」共 2401 字" in chat.said and "还可写 99 字" in chat.said
    before = shot(db)
    await chat.send("多" * 120)
    assert "这条有 120 字" in chat.said and "现在只能再写 98 字" in chat.said
    assert "没有保存" in chat.said and shot(db) == before
    assert "✅ 完成" in chat.buttons  # asked again, with its buttons
    await chat.send("短" * 98)
    assert "已用 2500/2500 字，还可写 0 字" in chat.said
    await chat.tap("✅ 完成")
    assert "请写「建议」" in chat.said and "还可写 0 字" in chat.said
    await chat.send("建")
    assert "现在只能再写 0 字" in chat.said
    await chat.tap("✅ 完成")
    assert "「建议」还没有内容" in chat.said
    [proposal] = rows(db, Proposal)
    assert proposal.analysis == "\n".join(["问" * 1200, "题" * 1200, "短" * 98])
    assert proposal.suggestions == ""


async def test_attachments_accepted_refused_and_removed(db, wf, world, chat_as):
    my_draft(db, wf, world)
    chat = chat_as(world.member)
    await open_draft(chat)
    await chat.tap("✏️ 附件")
    await chat.upload("现场照片.png", PNG)
    assert "已收到附件「现场照片.png」" in chat.said
    before = shot(db)
    for name, data, message in [
        ("程序.exe", EXE, "不接受这种文件"),
        ("伪装.pdf", PNG, "扩展名 .pdf 与内容"),
        ("空.pdf", b"", "文件是空的"),
        ("大.pdf", PDF + b"\0" * wf.rules.attachment_max_bytes, "文件太大"),
    ]:
        await chat.upload(name, data)
        assert message in chat.said, name
        assert "已上传的附件" in chat.said and "1. 现场照片.png" in chat.said
    assert shot(db) == before
    await chat.send("这里没有附件")
    assert "这一步需要" in chat.said and "以文件形式发送附件" in chat.said
    await chat.upload("数据.pdf", PDF)
    await chat.tap("删除「现场照片.png」")
    assert "已删除附件「现场照片.png」" in chat.said
    assert [a.filename for a in rows(db, Attachment)] == ["数据.pdf"]
    await chat.tap("✅ 完成")
    assert "附件：数据.pdf" in chat.said and conversation(db, chat).step == "preview"


async def test_cosigners_found_by_name_with_namesakes_and_unknown_names(db, wf, world, chat_as):
    with db.session() as s:
        namesake = Person(name="何平", phone="13900000099", roles="member", sector="工商联界")
        staff_namesake = Person(name="何平安", phone="13900000098", roles="staff")
        s.add(namesake)
        s.add(staff_namesake)
        s.flush()
        namesake_id = namesake.id
    my_draft(db, wf, world)
    chat = chat_as(world.member)
    await open_draft(chat)
    await chat.tap("✏️ 联名委员")
    assert "还没有邀请联名委员" in chat.said
    await chat.send("何平")
    assert "找到 2 位委员" in chat.said
    assert chat.buttons[:2] == ["何平（医药卫生界 · 尾号0002）", "何平（工商联界 · 尾号0099）"]
    assert not any("何平安" in b for b in chat.buttons)  # staff, not a member
    await chat.tap("何平（工商联界")
    assert "已把何平委员加入联名名单" in chat.said
    await chat.send("何平")
    assert "何平（工商联界 · 尾号0099）已在联名名单中" in chat.said
    assert [b for b in chat.buttons if b.startswith("何平")] == ["何平（医药卫生界 · 尾号0002）"]
    before = shot(db)
    for name, message in [
        ("欧阳修", "名册里没有姓名含「欧阳修」的委员"),
        ("林晓", "名册里没有姓名含「林晓」的委员"),  # oneself: the lead signer already
        ("许静", "名册里没有姓名含「许静」的委员"),  # staff
        ("何" * 30, "请只发送一位委员的姓名"),
        ("%", "不能只发表情或符号"),
    ]:
        await chat.send(name)
        assert message in chat.said, name
        assert "✅ 完成" in chat.buttons and "移除 何平" in chat.buttons
    assert shot(db) == before
    await chat.send("黄蕾")
    await chat.tap("黄蕾")
    await chat.tap("移除 何平")
    assert "已把何平委员移出联名名单" in chat.said and "联名委员：黄蕾" in chat.said
    await chat.tap("✅ 完成")
    assert "待确认联名:黄蕾" in chat.said
    co = [s.person_id for s in rows(db, Signer, Signer.role == "co")]
    assert co == [world.cosigner2] and namesake_id not in co


async def test_preview_is_laid_out_like_the_printed_record(db, wf, world, chat_as):
    with db.session() as s:
        pid = my_draft(db, wf, world, disclose=False)
        proposals.invite_cosigner(wf.ctx(s, world.member), pid, world.cosigner)
    chat = chat_as(world.member)
    await open_draft(chat)
    lines = chat.said.splitlines()
    expected = [
        "示范区政协 - 提案",
        f"委员提案 >> {TITLE}",
        "编 号:未编号 所属类别:委员提案",
        "提案人:林晓",
        "待确认联名:何平",
        "会 次:七届二次会议 领域:城乡建设",
        "  一、存在问题",
        f"  {A1}",
        f"  {A2}",
        "  二、建议",
        f"  {S1}",
        f"  {S2}",
        f"建议承办单位:{UNIT}",
        "审查结果:未提交 信息公开:否",
        "领衔委员:林晓",
        "当前状态:草稿",
    ]
    start = lines.index(expected[0])
    assert lines[start : start + len(expected)] == expected
    assert chat.buttons[:3] == ["✏️ 标题", "✏️ 类别", "✏️ 领域"]
    assert chat.buttons[-2:] == ["💾 保存草稿", "📤 提交"]


EDITS = [
    # (button, answers, what the preview then shows, field checked in the database)
    ("✏️ 标题", [("send", "关于老旧小区加装电梯的建议")], "委员提案 >> 关于老旧小区加装电梯的建议", ("title", "关于老旧小区加装电梯的建议")),
    ("✏️ 标题", [("tap", "保持不变")], f"委员提案 >> {TITLE}", ("title", TITLE)),
    ("✏️ 类别", [("tap", "集体提案"), ("send", "民进区委会")], "提案人:民进区委会（领衔：林晓）", ("collective_body", "民进区委会")),
    ("✏️ 领域", [("tap", "生态环境")], "领域:生态环境", ("field", "生态环境")),
    ("✏️ 存在问题", [("send", "补充：部分小区公共维修资金不足。"), ("tap", "✅ 完成")], "  补充：部分小区公共维修资金不足。", ("analysis", f"{A1}\n{A2}\n补充：部分小区公共维修资金不足。")),
    ("✏️ 建议", [("tap", "🗑 清空重写"), ("send", "1、设立加装电梯专项补贴。"), ("tap", "✅ 完成")], "  1、设立加装电梯专项补贴。", ("suggestions", "1、设立加装电梯专项补贴。")),
    ("✏️ 建议承办单位", [("tap", "不填")], "审查结果:未提交", ("suggested_unit", None)),
    ("✏️ 建议承办单位", [("send", "区财政局")], "建议承办单位:区财政局", ("suggested_unit", "区财政局")),
    ("✏️ 附件", [("upload", "图纸.pdf"), ("tap", "✅ 完成")], "附件：图纸.pdf", None),
    ("✏️ 信息公开", [("tap", "否")], "信息公开:否", ("disclose", False)),
    ("✏️ 联名委员", [("send", "曹磊"), ("tap", "曹磊"), ("tap", "✅ 完成")], "待确认联名:曹磊", None),
]  # fmt: skip


@pytest.mark.parametrize(("button", "answers", "shown", "stored"), EDITS, ids=lambda x: str(x))
async def test_edit_a_field_from_the_preview_and_return(
    db, wf, world, chat_as, button, answers, shown, stored
):
    my_draft(db, wf, world)
    chat = chat_as(world.member)
    await open_draft(chat)
    assert conversation(db, chat).step == "preview"
    await chat.tap(button)
    if button == "✏️ 信息公开":
        assert "（现在是：是）" in chat.said
    if button == "✏️ 领域":
        assert "（现在是：城乡建设）" in chat.said
    assert conversation(db, chat).data.get("edit") is True
    for kind, value in answers:
        if kind == "send":
            await chat.send(value)
        elif kind == "tap":
            await chat.tap(value)
        else:
            await chat.upload(value, PDF)
    conv = conversation(db, chat)
    assert conv.step == "preview" and "edit" not in conv.data
    assert "请核对提案内容" in chat.said and shown in chat.said
    if stored:
        [proposal] = rows(db, Proposal)
        assert getattr(proposal, stored[0]) == stored[1]


async def test_save_and_resume_through_my_drafts(db, wf, world, chat_as):
    chat = chat_as(world.member)
    await chat.send("/menu")
    await chat.tap("🗂 我的草稿")
    assert "您还没有保存的草稿" in chat.said
    await chat.tap("📝 新建提案")
    await chat.send(TITLE)
    await chat.send("/cancel")
    assert chat.said.startswith("已取消。已保存的草稿不会丢失。")
    await chat.send("/menu")
    await chat.tap("🗂 我的草稿")
    assert "您有 1 份草稿" in chat.said and f"《{TITLE}》 9月14日" in chat.buttons
    await chat.tap("《关于加快")
    assert "附件 0 个，联名委员 0 位" in chat.said
    await chat.tap("✏️ 继续编辑")
    assert "请选择提案类别" in chat.said  # the first step not yet answered
    await chat.tap("委员提案")
    await chat.tap("城乡建设")
    await chat.send(A1)
    await chat.send("/menu")
    await chat.tap("🗂 我的草稿")
    await chat.tap("《关于加快")
    await chat.tap("✏️ 继续编辑")
    assert "请写「建议」" in chat.said  # 存在问题 is there; 建议 is next
    await chat.send(S1)
    await chat.tap("✅ 完成")
    await chat.tap("跳过")
    await chat.tap("✅ 完成")
    await chat.tap("是")
    await chat.tap("✅ 完成")
    await chat.tap("💾 保存草稿")
    assert f"草稿《{TITLE}》已保存" in chat.said and "林晓，您好" in chat.said
    await open_draft(chat)
    assert "请核对提案内容" in chat.said  # a complete draft opens at the preview
    await chat.tap("📤 提交")
    assert "提交，正在等待提案委审查" in chat.said
    [proposal] = rows(db, Proposal)
    assert (proposal.status, proposal.analysis, proposal.suggestions) == ("submitted", A1, S1)
    await chat.send("/drafts")
    assert "您还没有保存的草稿" in chat.said


async def test_delete_a_draft_with_confirmation(db, wf, world, chat_as):
    pid = my_draft(db, wf, world)
    chat = chat_as(world.member)
    await chat.send("/drafts")
    await chat.tap("《关于加快")
    await chat.tap("🗑 删除草稿")
    assert f"确定删除草稿《{TITLE}》吗" in chat.said
    await chat.tap("取消")
    assert "✏️ 继续编辑" in chat.buttons
    await chat.tap("🗑 删除草稿")
    await chat.tap("确认删除")
    assert f"草稿《{TITLE}》已删除" in chat.said and "您还没有保存的草稿" in chat.said
    with db.read_session() as s:
        assert s.get(Proposal, pid).status == "withdrawn"


# ---------------------------------------------------------------- restarts


@pytest.mark.parametrize("after", range(1, len(WALK)), ids=[name for name, _ in WALK[:-1]])
async def test_a_restart_between_two_steps_loses_nothing(db, wf, world, engine, chat_as, after):
    chat = chat_as(world.member)
    for _name, action in WALK[:after]:
        await action(chat)
    before = conversation(db, chat)
    chat = restart(engine, chat)
    assert chat.engine is not engine
    after_restart = conversation(db, chat)
    assert (after_restart.flow, after_restart.step, after_restart.data) == (
        before.flow,
        before.step,
        before.data,
    )
    for _name, action in WALK[after:]:
        await action(chat)
        assert "抱歉" not in chat.said and "已过期" not in chat.said, chat.dump()
    assert_submitted(db, world)


# ---------------------------------------------------------------- similar proposals


async def walk_to_preview(chat: Chat) -> None:
    for _name, action in WALK[:-1]:
        await action(chat)


async def test_similar_proposals_are_shown_before_submitting(
    db, wf, world, chat_as, clock, monkeypatch
):
    open_lift = proposal_of(db, wf, world.outsider, LIFT_TITLE, LIFT_ANALYSIS, LIFT_SUGGESTIONS)
    proposal_of(db, wf, world.cosigner, WATER_TITLE, WATER_ANALYSIS, WATER_SUGGESTIONS)
    filed_lift = proposal_of(
        db, wf, world.cosigner2, "关于老旧小区加装电梯补贴的建议", LIFT_ANALYSIS, "1、给予补贴。"
    )
    with db.session() as s:
        proposals.file_proposal(wf.ctx(s, world.staff), filed_lift)
    with db.session() as s:  # the member is invited to co-sign it already: not offered
        ctx = wf.ctx(s, world.cosigner)
        invited = proposals.create_draft(
            ctx, title="关于老旧小区电梯加装审批提速的建议", analysis=LIFT_ANALYSIS
        ).id
        proposals.update_draft(ctx, invited, suggestions="1、并联审批。")
        proposals.invite_cosigner(ctx, invited, world.member)
        proposals.submit(ctx, invited)
    chat = chat_as(world.member)
    await walk_to_preview(chat)
    looked = []
    monkeypatch.setattr(
        submit_preview,
        "similar_proposals",
        lambda session, draft, **kw: (
            looked.append(draft.id) or similar_proposals(session, draft, **kw)
        ),
    )
    await chat.tap("📤 提交")
    assert len(looked) == 1  # whether there are any, and what they are: one look
    said = chat.said
    assert "今年已有 3 件内容相近的提案" in said
    assert "《关于老旧小区电梯加装审批提速的建议》 提案人：何平 状态：待审查\n" in said
    assert f"《{LIFT_TITLE}》 提案人：曹磊 状态：待审查（可联名，截止" in said
    assert "《关于老旧小区加装电梯补贴的建议》 提案人：黄蕾 状态：已立案" in said
    assert WATER_TITLE not in said
    joins = [b for b in chat.buttons if b.startswith("🤝")]
    assert len(joins) == 1 and chat.payload_of("🤝").endswith(f"|j:{open_lift}")
    assert rows(db, Proposal, Proposal.proposer_id == world.member)[0].status == "draft"
    await chat.tap("↩️ 返回预览")
    assert conversation(db, chat).step == "preview"
    await chat.tap("📤 提交")
    await chat.tap("📤 仍然提交")
    assert "提交，正在等待提案委审查" in chat.said
    assert rows(db, Proposal, Proposal.proposer_id == world.member)[0].status == "submitted"


async def test_a_draft_begun_last_year_is_compared_with_the_year_it_is_submitted_in(
    db, wf, world, chat_as, clock
):
    clock.set_local(2026, 12, 28)
    proposal_of(db, wf, world.outsider, LIFT_TITLE, LIFT_ANALYSIS, LIFT_SUGGESTIONS)
    chat = chat_as(world.member)
    await walk_to_preview(chat)  # the draft is begun in 2026
    clock.set_local(2027, 1, 5)
    this_year = "关于老旧小区加装电梯补贴的建议"
    proposal_of(db, wf, world.cosigner2, this_year, LIFT_ANALYSIS, "1、给予补贴。")
    await chat.tap("📤 提交")
    said = chat.said
    assert "今年已有 1 件内容相近的提案" in said
    assert f"《{this_year}》 提案人：黄蕾" in said
    assert LIFT_TITLE not in said  # last year's: another year's numbering and handling
    await chat.tap("📤 仍然提交")
    mine = rows(db, Proposal, Proposal.proposer_id == world.member)[0]
    assert mine.status == "submitted" and mine.year == 2027


async def test_co_sign_instead_gives_up_the_draft_and_asks_the_proposer(
    db, wf, world, chat_as, clock
):
    other = proposal_of(db, wf, world.outsider, LIFT_TITLE, LIFT_ANALYSIS, LIFT_SUGGESTIONS)
    chat = chat_as(world.member)
    await walk_to_preview(chat)
    await chat.tap("📤 提交")
    await chat.tap("🤝")
    assert f"《{LIFT_TITLE}》由曹磊委员提出" in chat.said and "您的草稿" in chat.said
    await chat.tap("↩️ 返回预览")
    assert conversation(db, chat).step == "preview" and "join" not in conversation(db, chat).data
    await chat.tap("📤 提交")
    await chat.tap("🤝")
    await chat.tap("放弃本提案，改为联系该提案人联名")
    assert f"已删除草稿《{TITLE}》" in chat.said and "并已请曹磊委员邀请您联名" in chat.said
    mine = rows(db, Proposal, Proposal.proposer_id == world.member)[0]
    assert mine.status == "withdrawn"
    [wish] = rows(db, Notice, Notice.kind == "cosign_wish")
    assert wish.person_id == world.outsider and "林晓委员希望联名您的提案" in wish.text
    assert wish.actions == [{"label": "邀请联名", "payload": f"cosignadd:{other}:{world.member}"}]

    # Someone else pressing that button (forged) changes nothing.
    for person, message in [
        (world.cosigner, "只有提案人本人可以进行此操作"),
        (world.staff, "需要委员身份"),
    ]:
        intruder = chat_as(person)
        await intruder.send("/menu")
        before = shot(db)
        await intruder.press(f"cosignadd:{other}:{world.member}")
        assert message in intruder.said and "您好" in intruder.said
        assert shot(db) == before
    # The proposer taps it on the notice: the member is invited and asked to confirm.
    proposer = chat_as(world.outsider)
    await proposer.send("/menu")
    await proposer.press(f"cosignadd:{other}:{world.member}")
    assert "已邀请林晓委员联名" in proposer.said and "曹磊，您好" in proposer.said
    invite = rows(db, Notice, Notice.kind == "cosign_request", Notice.person_id == world.member)
    assert [a["payload"] for a in invite[0].actions] == [
        f"cosign:{other}:yes",
        f"cosign:{other}:no",
    ]
    await proposer.press(f"cosignadd:{other}:{world.member}")
    assert "林晓已经在这件提案的联名名单中" in proposer.said
    await proposer.press(f"cosignadd:{other}:x")
    assert "无法识别" in proposer.said
    with db.session() as s:
        proposals.confirm_cosign(wf.ctx(s, world.member), other)
    signer = rows(db, Signer, Signer.proposal_id == other, Signer.person_id == world.member)
    assert signer[0].state == "confirmed"


async def test_a_similar_collective_proposal_is_shown_but_not_offered_to_co_sign(
    db, wf, world, chat_as
):
    """A collective proposal is made in a body's name and takes no co-signers: shown among
    the similar ones, it offers no 🤝 that could only be refused after the explanation."""
    proposal_of(
        db,
        wf,
        world.outsider,
        LIFT_TITLE,
        LIFT_ANALYSIS,
        LIFT_SUGGESTIONS,
        category="collective",
        collective_body="农工党区委会",
    )
    chat = chat_as(world.member)
    await walk_to_preview(chat)
    await chat.tap("📤 提交")
    assert f"1.《{LIFT_TITLE}》" in chat.said
    assert "可联名" not in chat.said and "改为联名" not in chat.said
    assert chat.buttons == ["📤 仍然提交", "↩️ 返回预览"]


async def test_a_member_who_gave_up_a_draft_to_co_sign_hears_if_the_proposal_is_withdrawn(
    db, wf, world, chat_as
):
    """Co-signing instead deletes one's draft and waits for the proposer's invitation: if
    the proposer withdraws the proposal before inviting, the member who asked is told,
    as co-signers are, rather than waiting for an invitation that cannot come."""
    chat, other = await _co_sign_instead(db, wf, world, chat_as)

    # 黄蕾 asked too, was invited and declined: she is told nothing more
    run(db, wf, world.cosigner2, proposals.request_to_cosign, other)
    run(db, wf, world.outsider, proposals.add_cosigner, other, world.cosigner2)
    run(db, wf, world.cosigner2, proposals.decline_cosign, other)

    run(db, wf, world.outsider, proposals.withdraw, other)
    [(told, _)] = chat.notices()
    assert told == (f"您希望联名的提案《{LIFT_TITLE}》已由提案人曹磊委员撤回，不会再邀请您联名。")
    assert {n.person_id for n in rows(db, Notice, Notice.kind == "withdrawn")} == {
        world.staff,
        world.staff2,
        world.member,
    }


async def _co_sign_instead(db, wf, world, chat_as) -> tuple[Chat, int]:
    """林晓 gives up her draft to co-sign 曹磊's similar proposal (submitted on Monday 14
    September, co-signing open until Sunday 20 September 23:59)."""
    other = proposal_of(db, wf, world.outsider, LIFT_TITLE, LIFT_ANALYSIS, LIFT_SUGGESTIONS)
    chat = chat_as(world.member)
    await walk_to_preview(chat)
    await chat.tap("📤 提交")
    await chat.tap("🤝")
    await chat.tap("放弃本提案，改为联系该提案人联名")
    assert "并已请曹磊委员邀请您联名" in chat.said
    chat.notices()
    return chat, other


def cut_off(db, wf) -> int:
    from workflow import sweeps

    with db.session() as s:
        return sweeps.SWEEPS["cosign_cutoff"](wf.ctx(s, None))


async def test_a_member_who_asked_to_co_sign_hears_when_review_begins_without_an_invitation(
    db, wf, world, chat_as, clock
):
    """Review ends co-signing: the member who asked and was not invited is told once (not
    again at the cut-off); 黄蕾, who asked and was invited, hears as an invited co-signer."""
    chat, other = await _co_sign_instead(db, wf, world, chat_as)
    run(db, wf, world.cosigner2, proposals.request_to_cosign, other)
    run(db, wf, world.outsider, proposals.add_cosigner, other, world.cosigner2)

    run(db, wf, world.staff, proposals.file_proposal, other)
    [(told, _)] = chat.notices()
    assert told == (
        f"您希望联名的提案《{LIFT_TITLE}》已开始审查，联名随之结束，曹磊委员没有邀请您联名。"
        "如有需要，您可以另行撰写提案。"
    )
    kinds = {(n.person_id, n.kind) for n in rows(db, Notice, Notice.proposal_id == other)}
    assert (world.cosigner2, "cosign_ended") in kinds
    assert (world.cosigner2, "cosign_wish_ended") not in kinds

    clock.advance(days=10)
    cut_off(db, wf)
    assert chat.notices() == []


async def test_a_member_who_asked_to_co_sign_hears_when_the_cut_off_passes_uninvited(
    db, wf, world, chat_as, clock
):
    """Nobody else was asked to co-sign: the cut-off passes, and the member who asked is
    told once, then nothing more when review begins."""
    chat, other = await _co_sign_instead(db, wf, world, chat_as)
    clock.advance(days=3)
    cut_off(db, wf)
    assert chat.notices() == []  # not yet
    clock.advance(days=4)
    cut_off(db, wf)
    [(told, _)] = chat.notices()
    assert told == (
        f"您希望联名的提案《{LIFT_TITLE}》的联名已于2026年9月20日 23:59截止，"
        "曹磊委员没有邀请您联名。如有需要，您可以另行撰写提案。"
    )
    cut_off(db, wf)
    run(db, wf, world.staff, proposals.file_proposal, other)
    assert chat.notices() == []


async def test_a_long_co_signer_list_is_removed_from_a_page_at_a_time(db, wf, world, chat_as):
    """A messenger shows at most 100 buttons under a message: with 130 members invited, the
    「移除」 buttons come a page at a time; the message still names them all."""
    pid = my_draft(db, wf, world)
    with db.session() as s:
        many = [
            Person(name=f"委员{i:03d}", phone=f"1390000{i:04d}", roles="member")
            for i in range(130)
        ]
        s.add_all(many)
        s.flush()
        ids = [p.id for p in many]
    for person_id in ids:
        run(db, wf, world.member, proposals.invite_cosigner, pid, person_id)
    chat = chat_as(world.member)
    await reach(chat, "cosigners")
    assert "委员000" in chat.said and "委员129" in chat.said
    assert len(chat.buttons) <= 100
    assert chat.buttons[:2] == ["✅ 完成", "移除 委员000"]
    assert "下一页 ▶" in chat.buttons and "移除 委员129" not in chat.buttons
    while "移除 委员129" not in chat.buttons:
        await chat.tap("下一页 ▶")
        assert len(chat.buttons) <= 100
    before = len(rows(db, Signer, Signer.proposal_id == pid))
    await chat.tap("移除 委员129")
    assert "已把委员129委员移出联名名单。" in chat.said
    assert len(rows(db, Signer, Signer.proposal_id == pid)) == before - 1


# ---------------------------------------------------------------- bad input at every step


async def reach(chat: Chat, step: str) -> None:
    """Bring the member's chat to ``step`` (the draft and a similar proposal exist)."""
    if step == "title-new":
        await chat.send("/menu")
        await chat.tap("📝 新建提案")
        return
    if step in ("list", "draft", "delete"):
        await chat.send("/drafts")
        if step != "list":
            await chat.tap("《关于加快")
        if step == "delete":
            await chat.tap("🗑 删除草稿")
        return
    await open_draft(chat)
    buttons = {
        "title": ["✏️ 标题"],
        "category": ["✏️ 类别"],
        "body": ["✏️ 类别", "集体提案"],
        "field": ["✏️ 领域"],
        "analysis": ["✏️ 存在问题"],
        "suggestions": ["✏️ 建议"],
        "unit": ["✏️ 建议承办单位"],
        "attachments": ["✏️ 附件"],
        "disclose": ["✏️ 信息公开"],
        "cosigners": ["✏️ 联名委员"],
        "preview": [],
        "similar": ["📤 提交"],
        "join": ["📤 提交", "🤝"],
    }[step]
    for label in buttons:
        await chat.tap(label)


TEXT_STEPS = {"title-new", "title", "body", "analysis", "suggestions", "unit", "cosigners"}
TOO_LONG = {
    "title-new": "标题最多 100 个字",
    "title": "标题最多 100 个字",
    "body": "提案单位最多 100 个字",
    "analysis": "现在只能再写",
    "suggestions": "现在只能再写",
    "unit": "建议承办单位最多 200 个字",
    "cosigners": "请只发送一位委员的姓名",
}
BAD_STEPS = [
    *(f"submit:{s}" for s in ["title-new", *(s for s in SUBMIT_FLOW.steps)]),
    *(f"drafts:{s}" for s in DRAFTS_FLOW.steps),
]


def expected_answer(step: str, bad: str) -> str:
    wrong_kind = "这一步需要"
    if bad in ("empty", "spaces"):
        return "内容不能为空" if step in TEXT_STEPS else wrong_kind
    if bad == "long":
        return TOO_LONG.get(step, wrong_kind)
    if bad == "emoji":
        return "不能只发表情或符号" if step in TEXT_STEPS else wrong_kind
    if bad == "file":
        return "不接受这种文件" if step == "attachments" else wrong_kind
    if bad == "text":
        return wrong_kind
    if bad == "stale":
        return "这个按钮已过期"
    return "这个选项无效"  # forged


@pytest.mark.parametrize("where", BAD_STEPS)
async def test_bad_input_at_every_step_changes_nothing(db, wf, world, chat_as, where):
    flow, step = where.split(":")
    my_draft(db, wf, world)
    proposal_of(db, wf, world.outsider, LIFT_TITLE, LIFT_ANALYSIS, LIFT_SUGGESTIONS)
    others_draft = proposal_of(
        db, wf, world.cosigner, WATER_TITLE, WATER_ANALYSIS, WATER_SUGGESTIONS, submit=False
    )
    chat = chat_as(world.member)
    await chat.send("/menu")
    stale = chat.payload_of("🌐")
    await reach(chat, step)
    state = conversation(db, chat)
    assert (state.flow, state.step) == (flow, step.removesuffix("-new")), chat.dump()
    before = shot(db)
    bad_inputs = ["empty", "spaces", "long", "emoji", "file", "stale", "forged"]
    if step not in TEXT_STEPS:
        bad_inputs.append("text")
    for bad in bad_inputs:
        version = conversation(db, chat).version
        if bad == "empty":
            await chat.send("")
        elif bad == "spaces":
            await chat.send("   \n ")
        elif bad == "long":
            await chat.send("长" * 10_000)
        elif bad == "emoji":
            await chat.send("🎉🎉👍")
        elif bad == "file":
            await chat.upload("程序.exe", EXE)
        elif bad == "text":
            await chat.send("随便说点什么")
        elif bad == "stale":
            await chat.press(stale)
        else:
            await chat.press(f"{version}|d:{others_draft}")
        said = chat.said
        assert expected_answer(step, bad) in said, (bad, said)
        assert "抱歉" not in said and is_chinese(said)
        now = conversation(db, chat)
        assert (now.flow, now.step) == (state.flow, state.step), (bad, chat.dump())
        assert shot(db) == before, bad


# ---------------------------------------------------------------- people who may not


async def test_staff_cannot_write_proposals(db, wf, world, chat_as):
    my_draft(db, wf, world)
    chat = chat_as(world.staff)
    await chat.send("/menu")
    assert not any(b in chat.buttons for b in ("📝 新建提案", "🗂 我的草稿"))
    before = shot(db)
    version = conversation(db, chat).version
    await chat.press(f"{version}|new")
    assert "这个选项无效" in chat.said
    for command in ("/new", "/drafts"):
        await chat.send(command)
        assert "只有委员可以撰写提案" in chat.said, command
        assert "「修改草稿」" not in chat.said, command
        assert "许静，您好" in chat.said
        assert conversation(db, chat).flow == "menu"
    assert shot(db) == before


async def test_a_member_who_is_no_longer_one_is_refused_by_the_workflow(db, wf, world, chat_as):
    """The roster changed while the member was in the flow: the workflow refuses."""
    chat = chat_as(world.member)
    await chat.send("/new")
    await chat.send(TITLE)
    with db.session() as s:
        person = s.get(Person, world.member)
        person.roles = "staff"
        s.add(person)
    before = shot(db)
    await chat.tap("委员提案")
    assert "您没有「修改草稿」的权限，需要委员身份" in chat.said
    assert shot(db) == before


# ---------------------------------------------------------------- workflow: co-sign instead


def run(db, wf, actor, fn, *args):
    with db.session() as s:
        return fn(wf.ctx(s, actor), *args)


def test_request_to_cosign_tells_the_proposer_once(db, wf, world):
    pid = proposal_of(db, wf, world.outsider, LIFT_TITLE, LIFT_ANALYSIS, LIFT_SUGGESTIONS)
    run(db, wf, world.member, proposals.request_to_cosign, pid)
    [event] = rows(db, AuditEvent, AuditEvent.action == "request_cosign")
    assert (event.actor_id, event.proposal_id) == (world.member, pid)
    before = snapshot(db)
    for actor, error, message in [
        (world.member, InvalidInput, "请曹磊委员邀请您联名，请等待"),
        (world.outsider, PermissionDenied, "这是您自己的提案"),
        (world.staff, PermissionDenied, "需要委员身份"),
        (world.handler_edu, PermissionDenied, "需要委员身份"),
    ]:
        with pytest.raises(error, match=message):
            run(db, wf, actor, proposals.request_to_cosign, pid)
    assert snapshot(db) == before


def test_request_to_cosign_only_while_cosigning_is_open(db, wf, world, clock):
    pid = proposal_of(db, wf, world.outsider, LIFT_TITLE, LIFT_ANALYSIS, LIFT_SUGGESTIONS)
    run(db, wf, world.outsider, proposals.add_cosigner, pid, world.cosigner)
    with pytest.raises(PermissionDenied, match="已经在这件提案的联名名单中"):
        run(db, wf, world.cosigner, proposals.request_to_cosign, pid)
    draft = proposal_of(
        db, wf, world.outsider, WATER_TITLE, WATER_ANALYSIS, "1、治理。", submit=False
    )
    with pytest.raises(InvalidTransition, match="「草稿」，不能申请联名"):
        run(db, wf, world.member, proposals.request_to_cosign, draft)
    clock.advance(days=14)
    with pytest.raises(InvalidTransition, match="联名已于.*截止"):
        run(db, wf, world.member, proposals.request_to_cosign, pid)
    with pytest.raises(InvalidTransition, match="联名已于.*截止"):
        run(db, wf, world.outsider, proposals.add_cosigner, pid, world.member)
    run(db, wf, world.staff, proposals.file_proposal, pid)
    with pytest.raises(InvalidTransition, match="「已立案」，无法再申请联名"):
        run(db, wf, world.member, proposals.request_to_cosign, pid)


def test_add_cosigner_to_a_submitted_proposal(db, wf, world, clock):
    pid = proposal_of(db, wf, world.outsider, LIFT_TITLE, LIFT_ANALYSIS, LIFT_SUGGESTIONS)
    before = snapshot(db)
    for actor, person, error, message in [
        (world.member, world.member, PermissionDenied, "只有提案人本人"),
        (world.staff, world.member, PermissionDenied, "需要委员身份"),
        (world.outsider, world.staff, InvalidInput, "联名人必须是在册的委员"),
        (world.outsider, world.outsider, InvalidInput, "不需要再联名"),
    ]:
        with pytest.raises(error, match=message):
            run(db, wf, actor, proposals.add_cosigner, pid, person)
    assert snapshot(db) == before
    run(db, wf, world.outsider, proposals.add_cosigner, pid, world.member)
    [signer] = rows(db, Signer, Signer.proposal_id == pid, Signer.role == "co")
    assert (signer.person_id, signer.state, signer.position) == (world.member, "pending", 1)
    [notice] = rows(db, Notice, Notice.kind == "cosign_request")
    assert notice.person_id == world.member and "曹磊委员邀请您联名" in notice.text
    run(db, wf, world.outsider, proposals.add_cosigner, pid, world.cosigner)
    run(db, wf, world.cosigner, proposals.decline_cosign, pid)
    # An answer is final: one who declined is not asked again, nor may ask.
    before = snapshot(db)
    with pytest.raises(InvalidInput, match="何平已于.*谢绝了联名，不能再次邀请"):
        run(db, wf, world.outsider, proposals.add_cosigner, pid, world.cosigner)
    with pytest.raises(PermissionDenied, match="您已于.*谢绝了联名"):
        run(db, wf, world.cosigner, proposals.request_to_cosign, pid)
    assert snapshot(db) == before
    run(db, wf, world.member, proposals.confirm_cosign, pid)
    with db.read_session() as s:
        proposal = s.get(Proposal, pid)
        assert proposals.cosign_open(wf.ctx(s, None), proposal)
    clock.now = proposal.cosign_deadline + timedelta(seconds=1)
    with db.read_session() as s:
        assert not proposals.cosign_open(wf.ctx(s, None), s.get(Proposal, pid))


async def test_a_cosigner_who_left_the_committee_since_the_draft_is_not_asked(
    db, wf, world, chat_as
):
    """A draft keeps its co-signers until it is submitted, weeks later perhaps: one who has
    since been deactivated, or is no longer a member on the roster, is not sent an
    invitation nobody can answer. Submitting says who and lets the member remove them."""
    from workflow import people

    pid = my_draft(db, wf, world)
    with db.session() as s:
        for person in (world.cosigner, world.cosigner2, world.outsider):
            proposals.invite_cosigner(wf.ctx(s, world.member), pid, person)
        people.deactivate(wf.ctx(s, world.staff), world.outsider)
        s.get(Person, world.cosigner2).roles = "staff"  # 黄蕾 now works for the committee
    chat = chat_as(world.member)
    await open_draft(chat)
    before = snapshot(db)
    await chat.tap("📤 提交")
    assert "黄蕾、曹磊已不是在册的委员，不能联名，请先在「联名委员」中移出。" in chat.said
    assert "请核对提案内容" in chat.said  # back at the preview, nothing submitted
    after = snapshot(db)
    assert {k: v for k, v in after.items() if k != "conversation"} == {
        k: v for k, v in before.items() if k != "conversation"
    }

    await chat.tap("✏️ 联名委员")
    await chat.tap("移除 黄蕾")
    await chat.tap("移除 曹磊")
    await chat.tap("✅ 完成")
    await chat.tap("📤 提交")
    assert "已请何平委员在2026年9月20日 23:59前确认联名。" in chat.said
    asked = rows(db, Notice, Notice.kind == "cosign_request")
    assert [n.person_id for n in asked] == [world.cosigner]


def test_a_withdrawal_tells_a_staff_member_who_asked_to_co_sign_once(db, wf, world):
    """Someone on the committee's staff who is a member too asks to co-sign: told of the
    withdrawal once, as staff."""
    with db.session() as s:
        s.get(Person, world.cosigner2).roles = "member,staff"
    pid = proposal_of(db, wf, world.outsider, LIFT_TITLE, LIFT_ANALYSIS, LIFT_SUGGESTIONS)
    run(db, wf, world.cosigner2, proposals.request_to_cosign, pid)
    run(db, wf, world.outsider, proposals.withdraw, pid)
    told = rows(db, Notice, Notice.kind == "withdrawn", Notice.person_id == world.cosigner2)
    assert [n.text for n in told] == [f"提案《{LIFT_TITLE}》已由提案人撤回。"]
