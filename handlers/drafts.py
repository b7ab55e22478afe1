"""A member's saved drafts (``drafts``): open one to go on where it stands in the new-proposal
flow (``handlers/submit.py``), or delete it."""

from __future__ import annotations

from sqlmodel import col, select

from handlers.engine import END, Engine, Flow, Step, Turn
from handlers.i18n import N_
from handlers.paging import Pager
from handlers.submit import (
    CATEGORY_LABELS,
    MEMBERS,
    _budget,
    _cosigners,
    _draft,
    _may_draft,
    _pid,
    _shorten,
    first_missing,
)
from handlers.turns import my_id
from storage.models import Proposal, pk
from workflow import attachments, proposals
from workflow.statuses import ProposalStatus

# ---------------------------------------------------------------- 我的草稿

# A page at a time: Telegram takes at most 100 buttons, and drafts pile up (each title
# typed after 📝 新建提案 starts one).
DRAFTS_PAGER = Pager(key="draft_page", position=N_("（第 {first}–{last} 份，共 {total} 份）"))


def my_drafts(turn: Turn) -> list[Proposal]:
    stmt = (
        select(Proposal)
        .where(Proposal.proposer_id == my_id(turn), Proposal.status == ProposalStatus.DRAFT)
        .order_by(col(Proposal.updated_at).desc(), col(Proposal.id).desc())
    )
    return list(turn.session.exec(stmt).all())


def ask_draft_list(turn: Turn) -> None:
    """Lists the member's drafts as buttons."""
    if not _may_draft(turn):
        return
    turn.data.pop("pid", None)
    drafts = my_drafts(turn)
    if not drafts:
        turn.say(
            turn.t("您还没有保存的草稿。"),
            [
                turn.choice(turn.t("📝 新建提案"), "new"),
                turn.choice(turn.t("返回菜单"), "menu"),
            ],
            columns=2,
        )
        return
    page = DRAFTS_PAGER.page(turn, drafts)
    choices = []
    for draft in page.rows:
        day = turn.ctx.local(draft.updated_at)
        label = turn.t(
            "《{title}》 {month}月{day}日",
            title=_shorten(draft.title or turn.t("未命名"), 18),
            month=day.month,
            day=day.day,
        )
        choices.append(turn.choice(label, f"d:{draft.id}"))
    choices += page.buttons(turn)
    choices.append(turn.choice(turn.t("返回菜单"), "menu"))
    text = turn.t("您有 {n} 份草稿，请点选一份继续编辑或删除：", n=len(drafts))
    turn.say("\n".join([text, *page.position(turn)]), choices)


def on_draft_list(turn: Turn, value: str) -> str | None:
    if value == "menu":
        return "menu"
    if value == "new":
        turn.start("submit")
        return None
    if DRAFTS_PAGER.take(turn, value):
        return "page"
    turn.data["pid"] = int(value.removeprefix("d:"))
    return "open"


def _my_draft(turn: Turn) -> Proposal | None:
    """The draft picked from the list, if it is still a draft; else back to the list."""
    proposal = _draft(turn)
    if proposal is None or proposal.status != ProposalStatus.DRAFT:
        turn.say(turn.t("这份草稿已经提交或删除。"))
        turn.start("drafts")
        return None
    return proposal


def ask_draft(turn: Turn) -> None:
    """Shows one draft in brief, with continue, delete and back."""
    proposal = _my_draft(turn)
    if proposal is None:
        return
    files = attachments.attachments_of(turn.ctx, proposal_id=proposal.id)
    people = _cosigners(turn, pk(proposal))
    lines = [
        turn.t("《{title}》", title=proposal.title or turn.t("未命名")),
        turn.t(
            "类别：{category}  领域：{field}",
            category=turn.t(CATEGORY_LABELS.get(proposal.category, proposal.category)),
            field=turn.t(proposal.field) if proposal.field else turn.t("未选"),
        ),
        _budget(turn, proposal),
        turn.t(
            "附件 {files} 个，联名委员 {people} 位。最后修改：{at}",
            files=len(files),
            people=len(people),
            at=turn.time(proposal.updated_at),
        ),
    ]
    turn.say(
        "\n".join(lines),
        [
            turn.choice(turn.t("✏️ 继续编辑"), "resume"),
            turn.choice(turn.t("🗑 删除草稿"), "delete"),
            turn.choice(turn.t("返回列表"), "list"),
        ],
        columns=2,
    )


def on_draft(turn: Turn, value: str) -> str | None:
    if value == "resume":
        proposal = _my_draft(turn)
        if proposal is not None:
            turn.start("submit", data={"pid": proposal.id}, step=first_missing(proposal))
        return None
    return value  # delete | list


def ask_delete(turn: Turn) -> None:
    """Asks to confirm deleting the draft."""
    proposal = _my_draft(turn)
    if proposal is None:
        return
    turn.say(
        turn.t("确定删除草稿《{title}》吗？删除后不能恢复。", title=proposal.title),
        [
            turn.choice(turn.t("确认删除"), "yes"),
            turn.choice(turn.t("取消"), "no"),
        ],
        columns=2,
    )


def on_delete(turn: Turn, value: str) -> str:
    if value == "no":
        return "kept"
    proposal = proposals.discard_draft(turn.ctx, _pid(turn))
    turn.say(turn.t("草稿《{title}》已删除。", title=proposal.title))
    return "deleted"


DRAFTS_FLOW = Flow(
    name="drafts",
    cancelled=N_("已取消。已保存的草稿不会丢失。"),
    start="list",
    roles=MEMBERS,
    steps={
        "list": Step(prompt=ask_draft_list, choice=on_draft_list, hint=N_("请点选一份草稿。")),
        "draft": Step(
            prompt=ask_draft,
            choice=on_draft,
            hint=N_("请点选：继续编辑、删除草稿或返回列表。"),
        ),
        "delete": Step(
            prompt=ask_delete, choice=on_delete, hint=N_("请点选「确认删除」或「取消」。")
        ),
    },
    edges={
        ("list", "open"): "draft",
        ("list", "page"): "list",
        ("list", "menu"): END,
        ("draft", "delete"): "delete",
        ("draft", "list"): "list",
        ("delete", "deleted"): "list",
        ("delete", "kept"): "draft",
    },
)


def cmd_drafts(turn: Turn, args: str) -> None:
    turn.start("drafts")


def install(engine: Engine) -> None:
    engine.add_flow(DRAFTS_FLOW)
    engine.add_command("/drafts", cmd_drafts)
