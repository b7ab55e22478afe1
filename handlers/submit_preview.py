"""The end of the ``submit`` flow (``handlers/submit.py``): the preview of the new proposal
as the printed record, with a button to edit each item, to save the draft or to submit it;
before submitting, similar proposals of the same year (``similar``), with the offer to ask
one's proposer for a co-signature instead (``join``), which gives up the draft.
"""

from __future__ import annotations

from handlers.cosigners import _cosigners
from handlers.engine import Turn
from handlers.i18n import N_
from handlers.similar import Similar, similar_proposals
from handlers.submit_common import _budget, _open, _pid, _shorten
from handlers.turns import my_id
from storage.models import Proposal, pk
from workflow import attachments, proposals
from workflow.core import person_name
from workflow.errors import InvalidInput
from workflow.permissions import signed_among, signer_of
from workflow.record import render_record
from workflow.statuses import proposal_label

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
    # A collective proposal invites no co-signers (one left from before can be removed).
    no_cosigners = proposal.category == "collective" and not _cosigners(turn, pk(proposal))
    choices = [
        turn.choice(turn.t(label), f"e:{step}")
        for step, label in EDITABLE
        if not (step == "cosigners" and no_cosigners)
    ]
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
    if _similar(turn, proposal):
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
    people = _cosigners(turn, pk(proposal))
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


# ---------------------------------------------------------------- similar proposals


def _joinable(turn: Turn, proposal: Proposal, signed: set[int] | None = None) -> bool:
    """Whether to offer co-signing ``proposal`` instead (the workflow checks it again).
    ``signed``: the ids of proposals among those shown that I already sign, when known."""
    if (
        proposal.proposer_id == my_id(turn)
        or not proposals.takes_cosigners(proposal)
        or not proposals.cosign_open(turn.ctx, proposal)
    ):
        return False
    if signed is not None:
        return pk(proposal) not in signed
    return signer_of(turn.ctx, pk(proposal), my_id(turn)) is None


def _similar(turn: Turn, proposal: Proposal) -> list[Similar]:
    """The similar proposals of the draft, looked for once an event: 📤 提交 asks whether
    there are any, and the question that follows shows them."""
    key = ("similar", proposal.id)
    if key not in turn.scratch:
        # a draft begun last year is submitted into this one: compare it with this year's
        turn.scratch[key] = similar_proposals(turn.session, proposal, year=turn.ctx.today.year)
    return turn.scratch[key]


def ask_similar(turn: Turn) -> None:
    """Shows up to three similar proposals of the year, offering to co-sign one instead."""
    proposal = _open(turn)
    if proposal is None:
        return
    found = _similar(turn, proposal)
    choices = []
    if not found:
        lines = [turn.t("没有发现内容相近的提案。")]
    else:
        lines = [turn.t("提交前请留意，今年已有 {n} 件内容相近的提案：", n=len(found))]
    signed = signed_among(turn.ctx, [pk(match.proposal) for match in found], my_id(turn))
    for i, match in enumerate(found, 1):
        other = match.proposal
        line = turn.t(
            "{i}.《{title}》 提案人：{name} 状态：{status}",
            i=i,
            title=other.title,
            name=match.proposer,
            status=turn.t(proposal_label(other.status)),
        )
        if _joinable(turn, other, signed):
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
