"""A member's new proposal, step by step.

``submit``: title → category (→ the collective body's name) → field → 存在问题 → 建议 (each in
as many messages as needed, with a running count against the body limit) → suggested unit →
attachments → public disclosure → co-signers → preview, where any field can be edited (the
step is asked again and the preview comes back), the draft saved, or the proposal submitted;
before submitting, similar proposals of the same year are shown, with the offer to ask one's
proposer for a co-signature instead.

The co-signers step is in ``handlers/cosigners.py``, the preview, the similar proposals and
the submission in ``handlers/submit_preview.py``, what they share in
``handlers/submit_common.py``; the member's saved drafts are in ``handlers/drafts.py``.

The draft is created when the title is accepted and every step writes through
``workflow.proposals``, so nothing typed is lost; the conversation keeps only the draft's id
(``pid``), the editing flag (``edit``) and, while one is being considered, the proposal to
co-sign instead (``join``).
"""

from __future__ import annotations

import re

from handlers.cosigners import _cosigners as _cosigners  # drafts.py lists them
from handlers.cosigners import (
    ask_cosigners,
    on_cosign_add,
    on_cosigner_choice,
    on_cosigner_name,
)
from handlers.engine import END, Engine, Flow, Step, Turn
from handlers.i18n import N_
from handlers.messages import FileIn
from handlers.submit_common import (
    _again,
    _budget,
    _draft,
    _may_draft,
    _next,
    _open,
    _pid,
    _shorten,
    _words,
)
from handlers.submit_preview import (
    EDITABLE,
    ask_join,
    ask_preview,
    ask_similar,
    on_join,
    on_preview,
    on_similar,
)
from storage.models import Proposal, pk
from workflow import attachments, proposals
from workflow.errors import InvalidInput
from workflow.proposals import body_length
from workflow.roles import Role

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
CONVENTIONAL_TITLE = re.compile(r"^关于.+的(建议|提案)$")


# ---------------------------------------------------------------- where a draft stands


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
        # Not public until the member says so at 信息公开: a draft left and resumed from
        # 我的草稿 goes on at its first missing answer and may never pass that question.
        proposal = proposals.create_draft(turn.ctx, title=title, disclose=False)
        turn.data["pid"] = proposal.id
        turn.say(turn.t("草稿已建立，之后每一步都会自动保存。"))
    else:
        proposal = proposals.update_draft(turn.ctx, pk(proposal), title=title)
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
        invited = [p.name for p in _cosigners(turn, pid)]
        proposals.update_draft(turn.ctx, pid, category="collective")
        if invited:  # off the list with the change: a collective proposal has no co-signers
            turn.say(
                turn.t(
                    "集体提案以提案单位的名义提出，不邀请委员联名，已把{names}移出联名名单。",
                    names=turn.join(invited),
                )
            )
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
    proposal = proposals.update_draft(turn.ctx, pk(proposal), **{name: value})
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
        proposals.update_draft(turn.ctx, pk(proposal), suggested_unit="")
    return _next(turn)


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    return f"{size / 1024:.0f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"


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
    proposal = proposals.update_draft(turn.ctx, _pid(turn), disclose=value == "yes")
    outcome = _next(turn)
    if outcome == "next" and proposal.category == "collective":
        return "no_cosigners"  # made in a body's name: straight to the preview
    return outcome


# ---------------------------------------------------------------- the flow


SUBMIT_FLOW = Flow(
    name="submit",
    cancelled=N_("已取消。已保存的草稿不会丢失。"),
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
        ("disclose", "no_cosigners"): "preview",
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


# ---------------------------------------------------------------- commands


def cmd_new(turn: Turn, args: str) -> None:
    turn.start("submit")


def install(engine: Engine) -> None:
    engine.add_flow(SUBMIT_FLOW)
    engine.add_action("cosignadd", on_cosign_add)
    engine.add_command("/new", cmd_new)
