"""A member's new proposal, step by step.

``submit``: title → category (→ the collective body's name) → field → 存在问题 → 建议 (each in
as many messages as needed, with a running count against the body limit) → suggested unit →
attachments → public disclosure → co-signers → preview, where any field can be edited (the
step is asked again and the preview comes back), the draft saved, or the proposal submitted;
before submitting, similar proposals of the same year are shown, with the offer to ask one's
proposer for a co-signature instead.

The member's saved drafts are in ``handlers/drafts.py``.

The draft is created when the title is accepted and every step writes through
``workflow.proposals``, so nothing typed is lost; the conversation keeps only the draft's id
(``pid``), the editing flag (``edit``) and, while one is being considered, the proposal to
co-sign instead (``join``).
"""

from __future__ import annotations

import re

from sqlalchemy import case
from sqlmodel import col, select

from handlers.engine import END, Engine, Flow, Step, Turn
from handlers.i18n import N_
from handlers.messages import FileIn
from handlers.similar import similar_proposals
from storage.models import Person, Proposal, Signer
from workflow import attachments, proposals
from workflow.core import person_name, require_role
from workflow.errors import InvalidInput, WorkflowError
from workflow.permissions import signer_of
from workflow.proposals import body_length
from workflow.record import render_record
from workflow.roles import Role
from workflow.statuses import PROPOSAL_TRANSITIONS, ProposalStatus, proposal_label

MEMBERS = frozenset({Role.MEMBER})
FIELDS = (
    N_("经济建设"),
    N_("社会事业"),
    N_("城乡建设"),
    N_("生态环境"),
    N_("文化教育"),
    N_("医疗卫生"),
    N_("法治建设"),
    N_("其他"),
)
CATEGORY_LABELS = {"member": N_("委员提案"), "collective": N_("集体提案")}
LONG_TEXTS = {"analysis": N_("存在问题"), "suggestions": N_("建议")}
# What the preview can send back to be edited: (step, button label).
EDITABLE = (
    ("title", N_("✏️ 标题")),
    ("category", N_("✏️ 类别")),
    ("field", N_("✏️ 领域")),
    ("analysis", N_("✏️ 存在问题")),
    ("suggestions", N_("✏️ 建议")),
    ("unit", N_("✏️ 建议承办单位")),
    ("attachments", N_("✏️ 附件")),
    ("disclose", N_("✏️ 信息公开")),
    ("cosigners", N_("✏️ 联名委员")),
)
CONVENTIONAL_TITLE = re.compile(r"^关于.+的(建议|提案)$")
NAME_MAX = 20  # longest name a co-signer search takes
SEARCH_MAX = 10  # namesakes listed at most


# ---------------------------------------------------------------- shared helpers


def _leave(turn: Turn, message: str) -> None:
    """Say why the flow cannot go on and go back to the menu."""
    turn.say(message)
    turn.finish()
    turn.engine.menu(turn)


def _may_draft(turn: Turn) -> bool:
    """The workflow decides who may write proposals; anyone else is told and sent back."""
    try:
        require_role(turn.ctx, PROPOSAL_TRANSITIONS["edit_draft"])
    except WorkflowError as refusal:
        _leave(turn, turn.t(refusal.text))
        return False
    return True


def _draft(turn: Turn) -> Proposal | None:
    pid = turn.data.get("pid")
    return turn.session.get(Proposal, pid) if pid is not None else None


def _open(turn: Turn) -> Proposal | None:
    """The draft this conversation writes, if it is still a draft; else back to the menu."""
    proposal = _draft(turn)
    if proposal is None or proposal.status != ProposalStatus.DRAFT:
        _leave(turn, turn.t("这份草稿已经提交或删除，不能再修改。"))
        return None
    return proposal


def _pid(turn: Turn) -> int:
    pid = turn.data.get("pid")
    if pid is None:
        raise InvalidInput(turn.t("还没有草稿，请先发送标题。"))
    return int(pid)


def _next(turn: Turn) -> str:
    """Outcome of a finished step: on to the next one, or back to the preview when editing."""
    return "back" if turn.data.pop("edit", False) else "next"


def _again(turn: Turn) -> None:
    """Ask the current step's question again (after an answer that stays on the step)."""
    turn.engine.prompt(turn)


def _words(turn: Turn, text: str) -> str:
    """Refuse a text with no letters or digits at all (emoji, punctuation)."""
    if not any(ch.isalnum() for ch in text):
        raise InvalidInput(turn.t("请用文字填写，不能只发表情或符号。"))
    return text


def _shorten(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    return f"{size / 1024:.0f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"


def _budget(turn: Turn, proposal: Proposal) -> str:
    limit = turn.ctx.rules.body_max_chars
    used = body_length(proposal)
    return turn.t(
        "正文（存在问题与建议合计）已用 {used}/{max} 字，还可写 {left} 字。",
        used=used,
        max=limit,
        left=max(limit - used, 0),
    )


def first_missing(proposal: Proposal) -> str:
    """The step where a draft should go on: its first missing required answer, else the
    preview."""
    if not proposal.title.strip():
        return "title"
    if not proposal.field:
        return "category"
    if proposal.category == "collective" and not proposal.collective_body:
        return "body"
    if not proposal.analysis.strip():
        return "analysis"
    if not proposal.suggestions.strip():
        return "suggestions"
    return "preview"


def missing_labels(proposal: Proposal) -> list[str]:
    missing = [
        label
        for label, value in (
            (N_("标题"), proposal.title),
            (N_("存在问题"), proposal.analysis),
            (N_("建议"), proposal.suggestions),
        )
        if not value.strip()
    ]
    if proposal.category == "collective" and not proposal.collective_body:
        missing.append(N_("提案单位"))
    return missing


# ---------------------------------------------------------------- title, category, field


def ask_title(turn: Turn) -> None:
    """Asks for the title (and, for a new proposal, checks the person may write one)."""
    proposal = _draft(turn)
    if proposal is None:
        if not _may_draft(turn):
            return
        turn.say(
            turn.t(
                "📝 新建提案\n请发送提案标题（案由），一般写成「关于……的建议」，"
                "例如「关于完善社区养老服务设施的建议」，最多 {max} 个字。\n"
                "随时发送 /cancel 可以退出，已填写的内容会保存在「我的草稿」里。",
                max=turn.ctx.rules.title_max_chars,
            )
        )
        return
    if _open(turn) is None:
        return
    turn.say(
        turn.t("请发送新的标题。现在的标题是：\n{title}", title=proposal.title),
        [turn.choice(turn.t("保持不变"), "keep")],
    )


def on_title(turn: Turn, text: str) -> str:
    """Stores the title (creating the draft); suggests the usual form if it differs."""
    title = _words(turn, text)
    proposal = _draft(turn)
    if proposal is None:
        proposal = proposals.create_draft(turn.ctx, title=title)
        turn.data["pid"] = proposal.id
        turn.say(turn.t("草稿已建立，之后每一步都会自动保存。"))
    else:
        proposal = proposals.update_draft(turn.ctx, proposal.id, title=title)
    if not CONVENTIONAL_TITLE.match(proposal.title):
        core = re.sub(r"(的?建议|的?提案)$", "", re.sub(r"^关于", "", proposal.title))
        turn.say(
            turn.t(
                "标题已保存。小提示：提案标题一般写成「关于……的建议」，"
                "例如「关于{core}的建议」。需要时可以在预览中修改。",
                core=core or "……",
            )
        )
    return _next(turn)


def on_title_choice(turn: Turn, value: str) -> str:
    return _next(turn)


def ask_category(turn: Turn) -> None:
    """Asks whether it is a member's or a collective proposal."""
    if _open(turn) is None:
        return
    turn.say(
        turn.t(
            "请选择提案类别：\n· 委员提案：由委员本人提出，可以邀请其他委员联名；\n"
            "· 集体提案：以党派、人民团体、界别或专门委员会的名义提出。"
        ),
        [turn.choice(turn.t(label), key) for key, label in CATEGORY_LABELS.items()],
        columns=2,
    )


def on_category(turn: Turn, value: str) -> str:
    """Stores the category; a collective proposal asks for the body's name next."""
    pid = _pid(turn)
    if value == "collective":
        proposals.update_draft(turn.ctx, pid, category="collective")
        return "collective"
    proposals.update_draft(turn.ctx, pid, category="member", collective_body="")
    return _next(turn)


def ask_body(turn: Turn) -> None:
    """Asks for the name of the body that makes the collective proposal."""
    proposal = _open(turn)
    if proposal is None:
        return
    choices = []
    text = turn.t("请发送提出这件集体提案的单位名称，例如「某某党派区委会」或「某某界别」。")
    if proposal.collective_body:
        text += "\n" + turn.t("现在填写的是：{body}", body=proposal.collective_body)
        choices.append(turn.choice(turn.t("保持不变"), "keep"))
    turn.say(text, choices)


def on_body(turn: Turn, text: str) -> str:
    proposals.update_draft(turn.ctx, _pid(turn), collective_body=_words(turn, text))
    return _next(turn)


def on_body_choice(turn: Turn, value: str) -> str:
    return _next(turn)


def ask_field(turn: Turn) -> None:
    """Asks for the field (领域) among the usual ones."""
    proposal = _open(turn)
    if proposal is None:
        return
    text = turn.t("请选择提案所属领域：")
    if proposal.field:
        text += turn.t("（现在是：{field}）", field=turn.t(proposal.field))
    turn.say(
        text,
        [turn.choice(turn.t(label), f"f:{i}") for i, label in enumerate(FIELDS)],
        columns=2,
    )


def on_field(turn: Turn, value: str) -> str:
    proposals.update_draft(turn.ctx, _pid(turn), field=FIELDS[int(value.removeprefix("f:"))])
    return _next(turn)


# ---------------------------------------------------------------- 存在问题 and 建议


def _ask_long(turn: Turn, name: str) -> None:
    proposal = _open(turn)
    if proposal is None:
        return
    if name == "analysis":
        intro = turn.t(
            "请写「存在问题」：现状如何、问题在哪里、原因是什么。"
            "内容长可以分几条消息发送，每条作为一段接在后面。"
        )
    else:
        intro = turn.t(
            "请写「建议」：具体可行的办法，最好逐条编号，如「1、……」。同样可以分几条消息发送。"
        )
    lines = [intro, _budget(turn, proposal)]
    current = getattr(proposal, name)
    choices = [turn.choice(turn.t("✅ 完成"), "done")]
    if current:
        lines.append(
            turn.t(
                "「{part}」已有 {n} 字，新发送的内容会接在后面；点「清空重写」可以从头写。",
                part=turn.t(LONG_TEXTS[name]),
                n=len(current),
            )
        )
        choices.append(turn.choice(turn.t("🗑 清空重写"), "clear"))
    lines.append(turn.t("写完请点「完成」。"))
    turn.say("\n".join(lines), choices, columns=2)


def _on_long_text(turn: Turn, name: str, text: str) -> None:
    text = _words(turn, text)
    proposal = _open(turn)
    if proposal is None:
        return None
    current = getattr(proposal, name)
    limit = turn.ctx.rules.body_max_chars
    room = limit - body_length(proposal) - (1 if current else 0)  # a new paragraph: one \n
    if len(text) > room:
        raise InvalidInput(
            turn.t(
                "这条有 {n} 字，正文（存在问题与建议合计）最多 {max} 字，现在只能再写 "
                "{left} 字，这条没有保存。请精简后重新发送。",
                n=len(text),
                max=limit,
                left=max(room, 0),
            )
        )
    value = f"{current}\n{text}" if current else text
    proposal = proposals.update_draft(turn.ctx, proposal.id, **{name: value})
    turn.say(
        turn.t(
            "已记录（这条 {n} 字，「{part}」共 {total} 字）。",
            n=len(text),
            part=turn.t(LONG_TEXTS[name]),
            total=len(value),
        )
        + "\n"
        + _budget(turn, proposal)
        + "\n"
        + turn.t("可以继续发送补充内容，写完请点「完成」。"),
        [
            turn.choice(turn.t("✅ 完成"), "done"),
            turn.choice(turn.t("🗑 清空重写"), "clear"),
        ],
        columns=2,
    )
    return None


def _on_long_choice(turn: Turn, name: str, value: str) -> str | None:
    pid = _pid(turn)
    part = turn.t(LONG_TEXTS[name])
    if value == "clear":
        proposals.update_draft(turn.ctx, pid, **{name: ""})
        turn.say(turn.t("已清空「{part}」，请重新发送。", part=part))
        _again(turn)
        return None
    proposal = _draft(turn)
    if proposal is None or not getattr(proposal, name).strip():
        raise InvalidInput(turn.t("「{part}」还没有内容，请先发送文字。", part=part))
    return _next(turn)


def ask_analysis(turn: Turn) -> None:
    """Asks for the analysis of the problem, in as many messages as needed."""
    _ask_long(turn, "analysis")


def on_analysis(turn: Turn, text: str) -> None:
    """Adds a paragraph to the analysis, within the body limit."""
    return _on_long_text(turn, "analysis", text)


def on_analysis_choice(turn: Turn, value: str) -> str | None:
    return _on_long_choice(turn, "analysis", value)


def ask_suggestions(turn: Turn) -> None:
    """Asks for the suggestions, in as many messages as needed."""
    _ask_long(turn, "suggestions")


def on_suggestions(turn: Turn, text: str) -> None:
    """Adds a paragraph to the suggestions, within the body limit."""
    return _on_long_text(turn, "suggestions", text)


def on_suggestions_choice(turn: Turn, value: str) -> str | None:
    return _on_long_choice(turn, "suggestions", value)


# ---------------------------------------------------------------- unit, attachments, disclosure


def ask_unit(turn: Turn) -> None:
    """Asks which unit the member suggests should handle it (optional)."""
    proposal = _open(turn)
    if proposal is None:
        return
    text = turn.t(
        "请填写建议承办单位，即您认为应由哪个部门办理，例如「区教育局」；"
        "有几个可以用顿号隔开。不确定可以点「跳过」，由提案委交办时确定。"
    )
    if proposal.suggested_unit:
        text += "\n" + turn.t("现在填写的是：{unit}", unit=proposal.suggested_unit)
        choices = [
            turn.choice(turn.t("保持不变"), "keep"),
            turn.choice(turn.t("不填"), "skip"),
        ]
    else:
        choices = [turn.choice(turn.t("跳过"), "skip")]
    turn.say(text, choices, columns=2)


def on_unit(turn: Turn, text: str) -> str:
    proposals.update_draft(turn.ctx, _pid(turn), suggested_unit=_words(turn, text))
    return _next(turn)


def on_unit_choice(turn: Turn, value: str) -> str:
    proposal = _draft(turn)
    if value == "skip" and proposal is not None and proposal.suggested_unit:
        proposals.update_draft(turn.ctx, proposal.id, suggested_unit="")
    return _next(turn)


def ask_attachments(turn: Turn) -> None:
    """Asks for files (optional); lists those already attached, each with a remove button."""
    proposal = _open(turn)
    if proposal is None:
        return
    rules = turn.ctx.rules
    lines = [
        turn.t(
            "如有调研报告、数据表、照片等材料，请作为文件发送（PDF、Word、Excel、JPG/PNG "
            "图片或纯文本，单个不超过 {mb} MB，最多 {count} 个）。没有附件或已传完，请点「完成」。",
            mb=rules.attachment_max_bytes // (1024 * 1024),
            count=rules.attachment_max_count,
        )
    ]
    files = attachments.attachments_of(turn.ctx, proposal_id=proposal.id)
    choices = [turn.choice(turn.t("✅ 完成"), "done")]
    if files:
        lines.append(turn.t("已上传的附件："))
        for i, item in enumerate(files, 1):
            lines.append(f"{i}. {item.filename}（{_size(item.size)}）")
            choices.append(
                turn.choice(turn.t("删除「{name}」", name=_shorten(item.filename)), f"x:{item.id}")
            )
    turn.say("\n".join(lines), choices)


def on_attachment(turn: Turn, file: FileIn) -> None:
    """Attaches the file to the draft; the workflow refuses wrong types and sizes."""
    attachment = attachments.attach_to_proposal(
        turn.ctx, turn.store, _pid(turn), file.name, file.data
    )
    turn.say(
        turn.t(
            "已收到附件「{name}」（{size}）。",
            name=attachment.filename,
            size=_size(attachment.size),
        )
    )
    _again(turn)


def on_attachments_choice(turn: Turn, value: str) -> str | None:
    if value == "done":
        return _next(turn)
    attachment_id = int(value.removeprefix("x:"))
    name = next(
        (
            a.filename
            for a in attachments.attachments_of(turn.ctx, proposal_id=_pid(turn))
            if a.id == attachment_id
        ),
        "",
    )
    attachments.remove_attachment(turn.ctx, attachment_id)
    turn.say(turn.t("已删除附件「{name}」。", name=name))
    _again(turn)
    return None


def ask_disclose(turn: Turn) -> None:
    """Asks whether the proposal and its reply may be made public."""
    proposal = _open(turn)
    if proposal is None:
        return
    text = turn.t(
        "是否同意公开（信息公开）？选「是」：立案后提案和答复可以向社会公开（联系方式会隐去）；"
        "选「否」：不公开。"
    )
    if turn.data.get("edit"):
        text += turn.t(
            "（现在是：{value}）", value=turn.t("是") if proposal.disclose else turn.t("否")
        )
    turn.say(text, [turn.choice(turn.t("是"), "yes"), turn.choice(turn.t("否"), "no")], columns=2)


def on_disclose(turn: Turn, value: str) -> str:
    proposals.update_draft(turn.ctx, _pid(turn), disclose=value == "yes")
    return _next(turn)


# ---------------------------------------------------------------- co-signers


def _cosigners(turn: Turn, pid: int) -> list[Person]:
    rows = turn.session.exec(
        select(Person)
        .join(Signer, col(Signer.person_id) == Person.id)
        .where(Signer.proposal_id == pid, Signer.role == "co")
        .order_by(col(Signer.position))
    ).all()
    return list(rows)


def members_named(turn: Turn, text: str) -> list[Person]:
    """Active members (other than oneself) whose name contains ``text``, exact names first."""
    stmt = (
        select(Person)
        .where(col(Person.active), col(Person.name).contains(text, autoescape=True))
        .where(Person.id != turn.person.id)
        .order_by(case((Person.name == text, 0), else_=1), col(Person.id))
        .limit(SEARCH_MAX * 5)
    )
    return [p for p in turn.session.exec(stmt).all() if Role.MEMBER.value in p.role_set]


def _person_label(turn: Turn, person: Person) -> str:
    extra = [person.sector] if person.sector else []
    extra.append(turn.t("尾号{tail}", tail=person.phone[-4:]))
    return f"{person.name}（{' · '.join(extra)}）"


def ask_cosigners(turn: Turn) -> None:
    """Shows who co-signs so far and asks for a name to search."""
    proposal = _open(turn)
    if proposal is None:
        return
    people = _cosigners(turn, proposal.id)
    if people:
        lines = [
            turn.t(
                "联名委员：{names}（提交后会请他们在 {days} 个工作日内确认）。",
                names=turn.join(p.name for p in people),
                days=turn.ctx.rules.cosign_window_workdays,
            )
        ]
    else:
        lines = [turn.t("还没有邀请联名委员。")]
    lines.append(
        turn.t(
            "如需邀请其他委员联名，请发送对方的姓名（也可以只发其中一两个字），再在结果中点选。"
            "不需要联名或已邀请完，请点「完成」。"
        )
    )
    choices = [turn.choice(turn.t("✅ 完成"), "done")]
    choices += [turn.choice(turn.t("移除 {name}", name=p.name), f"r:{p.id}") for p in people]
    turn.say("\n".join(lines), choices, columns=2)


def on_cosigner_name(turn: Turn, text: str) -> None:
    """Lists the members whose name matches, as buttons to invite."""
    name = _words(turn, text)
    if len(name) > NAME_MAX:
        raise InvalidInput(turn.t("请只发送一位委员的姓名。"))
    pid = _pid(turn)
    found = members_named(turn, name)
    if not found:
        raise InvalidInput(
            turn.t("名册里没有姓名含「{name}」的委员，请核对后重新发送。", name=name)
        )
    already = {p.id for p in _cosigners(turn, pid)}
    lines = [turn.t("找到 {n} 位委员：", n=len(found))]
    if len(found) > SEARCH_MAX:
        lines = [turn.t("找到的委员较多，只列出前 {n} 位，请发送更完整的姓名：", n=SEARCH_MAX)]
    choices = []
    for person in found[:SEARCH_MAX]:
        if person.id in already:
            lines.append(turn.t("{person}已在联名名单中。", person=_person_label(turn, person)))
        else:
            choices.append(turn.choice(_person_label(turn, person), f"u:{person.id}"))
    if choices:
        lines.append(turn.t("请点选要邀请的委员；也可以重新发送姓名搜索，或点「完成」。"))
    choices.append(turn.choice(turn.t("✅ 完成"), "done"))
    turn.say("\n".join(lines), choices)
    return None


def on_cosigner_choice(turn: Turn, value: str) -> str | None:
    if value == "done":
        return _next(turn)
    pid = _pid(turn)
    kind, _, person_id = value.partition(":")
    if kind == "u":
        proposals.invite_cosigner(turn.ctx, pid, int(person_id))
        name = person_name(turn.session, int(person_id))
        turn.say(turn.t("已把{name}委员加入联名名单，提交后会请其确认。", name=name))
    else:
        proposals.remove_cosigner(turn.ctx, pid, int(person_id))
        name = person_name(turn.session, int(person_id))
        turn.say(turn.t("已把{name}委员移出联名名单。", name=name))
    _again(turn)
    return None


# ---------------------------------------------------------------- preview and submission


def ask_preview(turn: Turn) -> None:
    """Shows the draft as the printed record, with buttons to edit, save or submit."""
    proposal = _open(turn)
    if proposal is None:
        return
    turn.data.pop("edit", None)
    files = attachments.attachments_of(turn.ctx, proposal_id=proposal.id)
    lines = [
        turn.t("请核对提案内容："),
        "",
        render_record(turn.ctx, proposal, gettext=turn.gettext, locale=turn.locale),
    ]
    if files:
        lines.append(turn.t("附件：{names}", names=turn.join(a.filename for a in files)))
    lines += ["", _budget(turn, proposal)]
    lines.append(turn.t("点下方按钮修改某一项，或「保存草稿」以后再提交，或「提交」。"))
    choices = [turn.choice(turn.t(label), f"e:{step}") for step, label in EDITABLE]
    choices += [
        turn.choice(turn.t("💾 保存草稿"), "save"),
        turn.choice(turn.t("📤 提交"), "submit"),
    ]
    turn.say("\n".join(lines), choices, columns=2)


def on_preview(turn: Turn, value: str) -> str | None:
    if value.startswith("e:"):
        turn.data["edit"] = True
        return f"edit_{value.removeprefix('e:')}"
    proposal = _open(turn)
    if proposal is None:
        return None
    if value == "save":
        turn.say(
            turn.t(
                "草稿《{title}》已保存。可以在菜单「我的草稿」里继续修改或提交。",
                title=proposal.title,
            )
        )
        return "saved"
    missing = missing_labels(proposal)
    if missing:
        raise InvalidInput(
            turn.t(
                "还缺少：{items}，请补充后再提交。",
                items=turn.join(turn.t(label) for label in missing),
            )
        )
    if similar_proposals(turn.session, proposal):
        return "check"
    return _submit(turn)


def _submit(turn: Turn) -> str:
    """Submits the draft and says the receipt."""
    proposal = proposals.submit(turn.ctx, _pid(turn))
    lines = [
        turn.t(
            "✅ 提案《{title}》已于{at}提交，正在等待提案委审查。审查结果会通知您。",
            title=proposal.title,
            at=turn.time(proposal.submitted_at),
        )
    ]
    people = _cosigners(turn, proposal.id)
    if people:
        lines.append(
            turn.t(
                "已请{names}委员在{deadline}前确认联名。",
                names=turn.join(p.name for p in people),
                deadline=turn.time(proposal.cosign_deadline),
            )
        )
    turn.say("\n".join(lines))
    return "submitted"


def _joinable(turn: Turn, proposal: Proposal) -> bool:
    """Whether to offer co-signing ``proposal`` instead (the workflow checks it again)."""
    return (
        proposal.proposer_id != turn.person.id
        and proposals.cosign_open(turn.ctx, proposal)
        and signer_of(turn.ctx, proposal.id, turn.person.id) is None
    )


def ask_similar(turn: Turn) -> None:
    """Shows up to three similar proposals of the year, offering to co-sign one instead."""
    proposal = _open(turn)
    if proposal is None:
        return
    found = similar_proposals(turn.session, proposal)
    choices = []
    if not found:
        lines = [turn.t("没有发现内容相近的提案。")]
    else:
        lines = [turn.t("提交前请留意，今年已有 {n} 件内容相近的提案：", n=len(found))]
    for i, match in enumerate(found, 1):
        other = match.proposal
        line = turn.t(
            "{i}.《{title}》 提案人：{name} 状态：{status}",
            i=i,
            title=other.title,
            name=person_name(turn.session, other.proposer_id),
            status=turn.t(proposal_label(other.status)),
        )
        if _joinable(turn, other):
            line += turn.t("（可联名，截止{deadline}）", deadline=turn.time(other.cosign_deadline))
            choices.append(
                turn.choice(
                    turn.t("🤝 改为联名第{i}件《{title}》", i=i, title=_shorten(other.title, 14)),
                    f"j:{other.id}",
                )
            )
        lines.append(line)
    if choices:
        lines.append(turn.t("如果您的想法与其中某件一致，可以改为联名那件提案，不必重复提交。"))
    choices += [
        turn.choice(turn.t("📤 仍然提交"), "go"),
        turn.choice(turn.t("↩️ 返回预览"), "back"),
    ]
    turn.say("\n".join(lines), choices)


def on_similar(turn: Turn, value: str) -> str:
    if value == "go":
        return _submit(turn)
    if value == "back":
        return "back"
    turn.data["join"] = int(value.removeprefix("j:"))
    return "join"


def _join_target(turn: Turn) -> Proposal | None:
    target_id = turn.data.get("join")
    return turn.session.get(Proposal, target_id) if target_id is not None else None


def ask_join(turn: Turn) -> None:
    """Explains co-signing the other proposal instead, which gives up this draft."""
    proposal = _open(turn)
    if proposal is None:
        return
    target = _join_target(turn)
    choices = []
    if target is None or not _joinable(turn, target):
        text = turn.t("那件提案已经不能再联名了。")
    else:
        name = person_name(turn.session, target.proposer_id)
        text = turn.t(
            "《{title}》由{name}委员提出，联名确认截止于{deadline}。\n"
            "如果改为联名：您的草稿《{mine}》将被删除；系统会告诉{name}委员您希望联名，"
            "对方点「邀请联名」后，您会收到联名邀请，确认即可成为联名委员。",
            title=target.title,
            name=name,
            deadline=turn.time(target.cosign_deadline),
            mine=proposal.title,
        )
        choices.append(turn.choice(turn.t("放弃本提案，改为联系该提案人联名"), "drop"))
    choices += [
        turn.choice(turn.t("📤 仍然提交"), "go"),
        turn.choice(turn.t("↩️ 返回预览"), "back"),
    ]
    turn.say(text, choices)


def on_join(turn: Turn, value: str) -> str:
    if value == "go":
        return _submit(turn)
    if value == "back":
        turn.data.pop("join", None)
        return "back"
    target = proposals.request_to_cosign(turn.ctx, int(turn.data["join"]))
    draft = proposals.discard_draft(turn.ctx, _pid(turn))
    turn.say(
        turn.t(
            "已删除草稿《{mine}》，并已请{name}委员邀请您联名《{title}》。"
            "对方邀请后，您会收到联名邀请。",
            mine=draft.title,
            name=person_name(turn.session, target.proposer_id),
            title=target.title,
        )
    )
    return "joined"


SUBMIT_FLOW = Flow(
    name="submit",
    start="title",
    roles=MEMBERS,
    steps={
        "title": Step(
            prompt=ask_title,
            text=on_title,
            choice=on_title_choice,
            hint=N_("请发送提案标题，一般写成「关于……的建议」。"),
        ),
        "category": Step(
            prompt=ask_category,
            choice=on_category,
            hint=N_("请点选提案类别：委员提案或集体提案。"),
        ),
        "body": Step(
            prompt=ask_body,
            text=on_body,
            choice=on_body_choice,
            hint=N_("请发送提出集体提案的单位名称。"),
        ),
        "field": Step(prompt=ask_field, choice=on_field, hint=N_("请点选提案所属的领域。")),
        "analysis": Step(
            prompt=ask_analysis,
            text=on_analysis,
            choice=on_analysis_choice,
            hint=N_("请发送「存在问题」的文字，可以分几条发送，写完点「完成」。"),
        ),
        "suggestions": Step(
            prompt=ask_suggestions,
            text=on_suggestions,
            choice=on_suggestions_choice,
            hint=N_("请发送「建议」的文字，可以分几条发送，写完点「完成」。"),
        ),
        "unit": Step(
            prompt=ask_unit,
            text=on_unit,
            choice=on_unit_choice,
            hint=N_("请发送建议承办单位的名称，或点「跳过」。"),
        ),
        "attachments": Step(
            prompt=ask_attachments,
            file=on_attachment,
            choice=on_attachments_choice,
            hint=N_("请以文件形式发送附件；没有附件请点「完成」。"),
        ),
        "disclose": Step(
            prompt=ask_disclose, choice=on_disclose, hint=N_("请点选是否同意公开：是或否。")
        ),
        "cosigners": Step(
            prompt=ask_cosigners,
            text=on_cosigner_name,
            choice=on_cosigner_choice,
            hint=N_("请发送要邀请联名的委员姓名，或点「完成」。"),
        ),
        "preview": Step(
            prompt=ask_preview,
            choice=on_preview,
            hint=N_("请点选要修改的项目，或「保存草稿」「提交」。"),
        ),
        "similar": Step(
            prompt=ask_similar,
            choice=on_similar,
            hint=N_("请点选：改为联名其中一件、仍然提交，或返回预览。"),
        ),
        "join": Step(
            prompt=ask_join,
            choice=on_join,
            hint=N_("请点选：放弃本提案改为联名、仍然提交，或返回预览。"),
        ),
    },
    edges={
        ("title", "next"): "category",
        ("title", "back"): "preview",
        ("category", "next"): "field",
        ("category", "collective"): "body",
        ("category", "back"): "preview",
        ("body", "next"): "field",
        ("body", "back"): "preview",
        ("field", "next"): "analysis",
        ("field", "back"): "preview",
        ("analysis", "next"): "suggestions",
        ("analysis", "back"): "preview",
        ("suggestions", "next"): "unit",
        ("suggestions", "back"): "preview",
        ("unit", "next"): "attachments",
        ("unit", "back"): "preview",
        ("attachments", "next"): "disclose",
        ("attachments", "back"): "preview",
        ("disclose", "next"): "cosigners",
        ("disclose", "back"): "preview",
        ("cosigners", "next"): "preview",
        ("cosigners", "back"): "preview",
        **{("preview", f"edit_{step}"): step for step, _label in EDITABLE},
        ("preview", "saved"): END,
        ("preview", "check"): "similar",
        ("preview", "submitted"): END,
        ("similar", "submitted"): END,
        ("similar", "join"): "join",
        ("similar", "back"): "preview",
        ("join", "joined"): END,
        ("join", "submitted"): END,
        ("join", "back"): "preview",
    },
)


# ---------------------------------------------------------------- notice button and commands


def on_cosign_add(turn: Turn, args: list[str]) -> None:
    """「邀请联名」on a request to co-sign: the proposer adds the member who asked."""
    if len(args) != 2 or not all(a.isascii() and a.isdigit() and len(a) <= 9 for a in args):
        raise InvalidInput(turn.t("无法识别这个操作，没有做任何更改。"))
    pid, person_id = (int(a) for a in args)
    proposals.add_cosigner(turn.ctx, pid, person_id)
    proposal = turn.session.get(Proposal, pid)
    turn.say(
        turn.t(
            "已邀请{name}委员联名《{title}》，请其在{deadline}前确认。",
            name=person_name(turn.session, person_id),
            title=proposal.title,
            deadline=turn.time(proposal.cosign_deadline),
        )
    )
    if turn.conv.flow in turn.engine.flows:
        turn.engine.prompt(turn)  # the step's buttons again: the old ones are now stale
    else:
        turn.engine.menu(turn)


def cmd_new(turn: Turn, args: str) -> None:
    turn.start("submit")


def install(engine: Engine) -> None:
    engine.add_flow(SUBMIT_FLOW)
    engine.add_action("cosignadd", on_cosign_add)
    engine.add_command("/new", cmd_new)
