"""A member's follow-up: my proposals (record with timeline, 撤回, 评价), co-sign invitations
(确认联名 / 谢绝), and the one-tap buttons that notices carry (``cosign:<id>:yes|no`` and
``rate:<id>:satisfied|basic|unsatisfied:<reply id>``).

Every change goes through the workflow services, which check the role and the relation; the
handlers here only check that a button's payload has the right shape.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from sqlmodel import col, select

from handlers.engine import END, Engine, Flow, Step, Turn
from handlers.i18n import N_
from handlers.messages import Choice
from handlers.paging import Fetched, Pager
from handlers.turns import my_id, resume
from storage import repositories as repo
from storage.clock import as_utc
from storage.models import Proposal, Rating, Signer, pk
from workflow import proposals, replies
from workflow.core import person_name
from workflow.errors import InvalidInput, WorkflowError
from workflow.permissions import signer_of
from workflow.record import render_record
from workflow.roles import Role
from workflow.statuses import ProposalStatus, proposal_label

MEMBER = frozenset({Role.MEMBER})
ID_RE = re.compile(r"^[0-9]{1,9}$")  # a row id as a button may carry it
REASON_MAX = 500  # workflow.proposals.withdraw keeps a reason to 500 characters
RATING_LABELS = {
    "satisfied": N_("满意"),
    "basic": N_("基本满意"),
    "unsatisfied": N_("不满意"),
}
SKIP_WORDS = {"跳过", "不填", "无", "skip"}
# The lists of proposals (mine, invitations, search results): 更多 on, 回到第一页 at the end.
LIST_PAGER = Pager(
    back=None,
    forward=N_("更多"),
    rewind=N_("回到第一页"),
    position=N_("（第 {first}–{last} 件，共 {total} 件）"),
)


# ---------------------------------------------------------------- shared helpers


def has_words(text: str) -> bool:
    """True when a text holds a letter or a digit (any script), not only emoji or signs."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def goto(turn: Turn, step: str) -> None:
    """Move to another step of the current flow and ask its question (from a prompt)."""
    turn.conv.step = step
    turn.engine.prompt(turn)


def attempt(turn: Turn, service: Callable, *args, **kwargs):
    """Call a workflow service in its own savepoint.

    Bad input is raised on (the engine asks the same step again); any other refusal (no
    right, wrong status, someone was faster) is said, nothing is kept, and None is returned
    so the handler can move to a step where the person can go on.
    """
    nested = turn.session.begin_nested()
    try:
        result = service(turn.ctx, *args, **kwargs)
    except InvalidInput:
        nested.rollback()
        raise
    except WorkflowError as exc:
        nested.rollback()
        turn.say(turn.t(exc.text), expects="none")
        return None
    nested.commit()
    return result


def short_title(title: str, limit: int = 16) -> str:
    title = title or "（未填写标题）"
    return title if len(title) <= limit else title[: limit - 1] + "…"


def proposal_button(turn: Turn, proposal: Proposal) -> str:
    """《title》 with its number and status, short enough for a button."""
    return turn.t(
        "{number} {title} · {status}",
        number=turn.number(proposal.year, proposal.number),
        title=short_title(proposal.title),
        status=turn.t(proposal_label(proposal.status)),
    )


def offer_page(
    turn: Turn,
    text: str,
    items: Sequence[tuple[str, str]],
    extra: Sequence[Choice] = (),
) -> None:
    """Say ``text`` with one page of (label, value) buttons, 更多 when more follow."""
    page = LIST_PAGER.page(turn, items)
    choices = [turn.choice(label, value) for label, value in page.rows]
    turn.say("\n".join([text, *page.position(turn)]), [*choices, *page.buttons(turn), *extra])


def picked_id(value: str) -> int | None:
    """The proposal id of a ``p:<id>`` button value."""
    kind, _, raw = value.partition(":")
    return int(raw) if kind == "p" and ID_RE.match(raw) else None


YEAR_PREFIX = "y:"  # the value of a button to a year of a year-by-year list: y:2025
YEAR_BUTTONS = 6  # other years offered under such a list


def year_choices(turn: Turn, years: Sequence[int], shown: int | None) -> list[Choice]:
    """Buttons to the reader's other years (the newest six), for a list shown a year at a
    time."""
    return [
        turn.choice(turn.t("{year}年度", year=year), f"{YEAR_PREFIX}{year}")
        for year in years
        if year != shown
    ][:YEAR_BUTTONS]


def picked_year(value: str) -> int | None:
    """The year of a ``y:<year>`` button value."""
    year = value.removeprefix(YEAR_PREFIX)
    return int(year) if year != value and year.isascii() and year.isdigit() else None


def on_pick(turn: Turn, value: str) -> str | None:
    """A list of proposals (``offer_page``): turns the page, or keeps the chosen proposal
    (``pid``) to open it."""
    if LIST_PAGER.take(turn, value):
        return "page"
    pid = picked_id(value)
    if pid is None:
        turn.say(turn.t("这个选项无效，没有做任何更改。"))
        return "page"
    turn.data["pid"] = pid
    return "open"


def chosen_record(turn: Turn, back: str) -> tuple[Proposal, str] | None:
    """The proposal chosen from a list (``pid``) and its record with the timeline, in the
    reader's language. None when it cannot be shown: that is said, and the flow goes back to
    the list's step ``back``."""
    proposal = turn.session.get(Proposal, turn.data.get("pid") or 0)
    if proposal is None:
        turn.say(turn.t("找不到这件提案。"), expects="none")
        goto(turn, back)
        return None
    try:
        text = render_record(
            turn.ctx, proposal, timeline=True, gettext=turn.gettext, locale=turn.locale
        )
    except WorkflowError as exc:
        turn.say(turn.t(exc.text), expects="none")
        goto(turn, back)
        return None
    return proposal, text


# ---------------------------------------------------------------- read-only queries


def my_proposals(turn: Turn, year: int) -> Fetched[Proposal]:
    """Submitted proposals of a year the member leads or co-signs (drafts live in 我的草稿),
    newest first, read a page at a time."""
    session, person_id = turn.session, my_id(turn)
    return Fetched(
        lambda: repo.count_proposals_of(session, person_id=person_id, year=year),
        lambda offset, limit: repo.proposals_of(
            session, person_id=person_id, year=year, offset=offset, limit=limit
        ),
    )


def pending_invitations(turn: Turn) -> list[Proposal]:
    """Submitted proposals that await this member's co-signature before their cut-off."""
    rows = turn.session.exec(
        select(Proposal)
        .join(Signer, col(Signer.proposal_id) == Proposal.id)
        .where(
            Signer.person_id == my_id(turn),
            Signer.role == "co",
            Signer.state == "pending",
            Proposal.status == ProposalStatus.SUBMITTED,
        )
        .order_by(col(Proposal.id))
    ).all()
    now = turn.ctx.now
    return [p for p in rows if p.cosign_deadline is None or as_utc(p.cosign_deadline) >= now]


def my_rating(turn: Turn, proposal: Proposal) -> Rating | None:
    reply = replies.delivered_reply(turn.ctx, proposal)
    if reply is None:
        return None
    return turn.session.exec(
        select(Rating).where(
            Rating.reply_id == reply.id,
            Rating.proposal_id == proposal.id,
            Rating.person_id == my_id(turn),
            Rating.not_given == False,  # noqa: E712 - a SQL comparison
        )
    ).first()


def rating_text(turn: Turn, rating: Rating) -> str:
    """What was recorded, said back to the member."""
    return turn.t(
        "已记录您的评价：\n办理工作：{work}\n办理结果：{result}\n反馈意见：{feedback}",
        work=turn.t(RATING_LABELS.get(rating.work_rating or "", rating.work_rating or "")),
        result=turn.t(RATING_LABELS.get(rating.result_rating or "", rating.result_rating or "")),
        feedback=rating.feedback or turn.t("无"),
    )


# ---------------------------------------------------------------- 我的提案


def ask_mine(turn: Turn) -> None:
    """Lists the member's proposals a year at a time (their newest year first), eight at a
    time, with buttons to their other years."""
    years = repo.years_of_person(turn.session, person_id=my_id(turn))
    view = turn.data.get("view")
    year = view if view in years else (years[0] if years else None)
    items = my_proposals(turn, year) if year is not None else None
    others = year_choices(turn, years, year)
    if not items and not others:
        turn.say(
            turn.t("您还没有已提交的提案（草稿在「我的草稿」里）。"),
            expects="none",
        )
        turn.start("menu")
        return
    if not items:
        turn.say(
            turn.t("您{year}年度的提案都已撤回。", year=year)
            + "\n"
            + turn.t("可以查看其他年度的："),
            others,
        )
        return
    offer_page(
        turn,
        turn.t("您{year}年度的提案（含联名的），点选一件查看记录和办理过程：", year=year),
        items.map(lambda p: (proposal_button(turn, p), f"p:{p.id}")),
        others,
    )


def on_mine(turn: Turn, value: str) -> str | None:
    """Shows another year of the member's proposals, turns the page, or opens one."""
    year = picked_year(value)
    if year is None:
        return on_pick(turn, value)
    turn.data["view"] = year
    turn.data[LIST_PAGER.key] = 0
    return "page"


def record_actions(turn: Turn, proposal: Proposal) -> list[tuple[str, str]]:
    """The follow-up actions that apply to this member and this proposal now."""
    actions = []
    signer = signer_of(turn.ctx, pk(proposal), my_id(turn))
    if proposal.status == ProposalStatus.SUBMITTED and proposal.proposer_id == my_id(turn):
        actions.append(("withdraw", turn.t("↩️ 撤回提案")))
    if proposal.status == ProposalStatus.SUBMITTED and signer and signer.state == "pending":
        actions.append(("cosign", turn.t("✍️ 答复联名邀请")))
    if proposal.status == ProposalStatus.DELIVERED and signer and signer.state == "confirmed":
        rated = my_rating(turn, proposal) is not None
        actions.append(("rate", turn.t("⭐ 修改评价") if rated else turn.t("⭐ 评价答复")))
    return actions


def show_record(turn: Turn) -> None:
    """Shows the chosen proposal's record and timeline, with the actions that apply."""
    shown = chosen_record(turn, "list")
    if shown is None:
        return
    proposal, text = shown
    choices = [turn.choice(label, key) for key, label in record_actions(turn, proposal)]
    choices.append(turn.choice(turn.t("返回列表"), "back"))
    turn.say(text, choices)


def on_record(turn: Turn, value: str) -> str | None:
    """Begins the chosen action on the open proposal."""
    if value == "cosign":
        turn.start("cosign", data={"pid": turn.data.get("pid")}, step="open")
        return None
    if value == "rate":
        turn.data.pop("work", None)
        turn.data.pop("result", None)
        turn.data.pop("rated", None)  # a one-tap rating before: this one is recorded anew
    if value == "withdraw":
        turn.data.pop("reason", None)
    return value  # withdraw | rate | back


def ask_reason(turn: Turn) -> None:
    turn.say(
        turn.t("请简要说明撤回的理由（可不填），或点「跳过」："),
        [turn.choice(turn.t("跳过"), "skip")],
    )


def on_reason(turn: Turn, text: str) -> str | None:
    """Keeps the reason for the withdrawal and asks to confirm."""
    if text in SKIP_WORDS:
        turn.data["reason"] = None
        return "next"
    if not has_words(text):
        turn.say(turn.t("撤回理由请用文字说明，或点「跳过」。"))
        ask_reason(turn)
        return None
    if len(text) > REASON_MAX:
        turn.say(
            turn.t(
                "撤回理由最多 {max} 个字，现在有 {n} 个字，请精简后再发。",
                max=REASON_MAX,
                n=len(text),
            )
        )
        ask_reason(turn)
        return None
    turn.data["reason"] = text
    return "next"


def on_skip_reason(turn: Turn, value: str) -> str:
    turn.data["reason"] = None
    return "next"


def ask_withdraw(turn: Turn) -> None:
    proposal = turn.session.get(Proposal, turn.data.get("pid") or 0)
    title = proposal.title if proposal else ""
    turn.say(
        turn.t(
            "确定撤回提案《{title}》吗？撤回后提案委不再审查，联名委员也会收到通知。\n"
            "撤回理由：{reason}",
            title=title,
            reason=turn.data.get("reason") or turn.t("未填写"),
        ),
        [
            turn.choice(turn.t("确认撤回"), "yes"),
            turn.choice(turn.t("不撤回"), "no"),
        ],
        columns=2,
    )


def on_withdraw(turn: Turn, value: str) -> str:
    """Withdraws the proposal through the workflow, or goes back to the record."""
    if value != "yes":
        return "back"
    proposal = attempt(turn, proposals.withdraw, turn.data["pid"], turn.data.get("reason"))
    if proposal is None:
        return "refused"
    turn.say(turn.t("提案《{title}》已撤回。", title=proposal.title), expects="none")
    return "done"


def _rating_buttons(turn: Turn) -> list[Choice]:
    return [turn.choice(turn.t(label), code) for code, label in RATING_LABELS.items()]


def ask_work(turn: Turn) -> None:
    turn.say(
        turn.t("请评价承办单位的办理工作（办理态度、与您的沟通联系）："),
        _rating_buttons(turn),
        columns=3,
    )


def on_work(turn: Turn, value: str) -> str:
    turn.data["work"] = value
    return "next"


def ask_result(turn: Turn) -> None:
    turn.say(
        turn.t("请评价办理结果（所提问题的解决或落实情况）："),
        _rating_buttons(turn),
        columns=3,
    )


def on_result(turn: Turn, value: str) -> str:
    turn.data["result"] = value
    return "next"


def ask_feedback(turn: Turn) -> None:
    if turn.data.get("rated"):
        text = turn.t("如需补充反馈意见，请直接发送文字；不需要请点「跳过」。")
    else:
        text = turn.t("如有反馈意见请直接发送文字（可不填），或点「跳过」提交评价：")
    turn.say(text, [turn.choice(turn.t("跳过"), "skip")])


def on_feedback(turn: Turn, text: str) -> str | None:
    """Records the rating with the feedback."""
    if text in SKIP_WORDS:
        return finish_rating(turn, None)
    if not has_words(text):
        turn.say(turn.t("反馈意见请用文字说明，或点「跳过」。"))
        ask_feedback(turn)
        return None
    return finish_rating(turn, text)


def on_skip_feedback(turn: Turn, value: str) -> str | None:
    return finish_rating(turn, None)


def finish_rating(turn: Turn, feedback: str | None) -> str | None:
    """Records the rating (once more with the feedback after a one-tap rating)."""
    pid = turn.data.get("pid")
    if feedback is None and turn.data.get("rated"):
        turn.say(turn.t("好的，您的评价已记录。"), expects="none")
        return after_rating(turn)
    rating = attempt(
        turn,
        replies.rate,
        pid,
        work=turn.data.get("work") or "",
        result=turn.data.get("result") or "",
        feedback=feedback,
    )
    if rating is None:
        return "refused"
    turn.say(rating_text(turn, rating), expects="none")
    proposal = turn.session.get(Proposal, pid)
    if proposal is not None and proposal.status == ProposalStatus.CLOSED:
        turn.say(turn.t("各位提案人均已评价，提案已办结。感谢您的履职建言！"), expects="none")
    return after_rating(turn)


def after_rating(turn: Turn) -> str | None:
    """Back where the person was before the notice's button, or to the menu."""
    back = turn.data.get("resume")
    if back and back.get("flow") in turn.engine.flows:
        target = turn.engine.flows[back["flow"]]
        if back.get("step") in target.steps:
            turn.say(turn.t("继续刚才的操作："), expects="none")
            turn.start(back["flow"], data=back.get("data") or {}, step=back["step"])
            return None
    return "done"


MINE_FLOW = Flow(
    name="mine",
    start="list",
    roles=MEMBER,
    steps={
        "list": Step(prompt=ask_mine, choice=on_mine, hint=N_("请点选一件提案。")),
        "record": Step(
            prompt=show_record,
            choice=on_record,
            hint=N_("请点选下方的操作，或「返回列表」。"),
        ),
        "withdraw_reason": Step(
            prompt=ask_reason,
            text=on_reason,
            choice=on_skip_reason,
            hint=N_("请用文字说明撤回理由，或点「跳过」。"),
        ),
        "withdraw_confirm": Step(
            prompt=ask_withdraw,
            choice=on_withdraw,
            hint=N_("请点「确认撤回」或「不撤回」。"),
        ),
        "rate_work": Step(
            prompt=ask_work,
            choice=on_work,
            hint=N_("请点选：满意、基本满意或不满意。"),
        ),
        "rate_result": Step(
            prompt=ask_result,
            choice=on_result,
            hint=N_("请点选：满意、基本满意或不满意。"),
        ),
        "feedback": Step(
            prompt=ask_feedback,
            text=on_feedback,
            choice=on_skip_feedback,
            hint=N_("请用文字发送反馈意见，或点「跳过」。"),
        ),
    },
    edges={
        ("list", "page"): "list",
        ("list", "open"): "record",
        ("record", "back"): "list",
        ("record", "withdraw"): "withdraw_reason",
        ("record", "rate"): "rate_work",
        ("withdraw_reason", "next"): "withdraw_confirm",
        ("withdraw_confirm", "done"): END,
        ("withdraw_confirm", "back"): "record",
        ("withdraw_confirm", "refused"): "record",
        ("rate_work", "next"): "rate_result",
        ("rate_result", "next"): "feedback",
        ("feedback", "done"): END,
        ("feedback", "refused"): "record",
    },
)


# ---------------------------------------------------------------- 联名邀请


def ask_invitations(turn: Turn) -> None:
    """Lists the co-sign invitations still open for this member."""
    items = pending_invitations(turn)
    if not items:
        turn.say(turn.t("目前没有待您确认的联名邀请。"), expects="none")
        turn.start("menu")
        return
    offer_page(
        turn,
        turn.t("以下提案邀请您联名，点选一件查看并答复："),
        [
            (
                turn.t(
                    "《{title}》 · 领衔：{name}",
                    title=short_title(p.title),
                    name=person_name(turn.session, p.proposer_id),
                ),
                f"p:{p.id}",
            )
            for p in items
        ],
    )


def show_invitation(turn: Turn) -> None:
    """Shows the proposal and asks to confirm or decline co-signing it."""
    pid = turn.data.get("pid")
    proposal = next((p for p in pending_invitations(turn) if p.id == pid), None)
    if proposal is None:
        turn.say(turn.t("这份联名邀请已经答复过，或已截止。"), expects="none")
        goto(turn, "list")
        return
    text = render_record(turn.ctx, proposal, gettext=turn.gettext, locale=turn.locale)
    text += "\n\n" + turn.t(
        "{name}委员邀请您联名这件提案，请在{deadline}前确认。",
        name=person_name(turn.session, proposal.proposer_id),
        deadline=turn.time(proposal.cosign_deadline),
    )
    turn.say(
        text,
        [
            turn.choice(turn.t("确认联名"), "yes"),
            turn.choice(turn.t("谢绝"), "no"),
            turn.choice(turn.t("返回列表"), "back"),
        ],
        columns=2,
    )


def on_answer(turn: Turn, value: str) -> str:
    """Confirms or declines through the workflow; then the remaining invitations."""
    if value not in ("yes", "no"):
        return "back"
    service = proposals.confirm_cosign if value == "yes" else proposals.decline_cosign
    if attempt(turn, service, turn.data["pid"]) is not None:
        say_answered(turn, turn.data["pid"], value == "yes")
    turn.data[LIST_PAGER.key] = 0
    return "done"


def say_answered(turn: Turn, pid: int, accepted: bool) -> None:
    proposal = turn.session.get(Proposal, pid)
    title = proposal.title if proposal else ""
    text = (
        turn.t("您已确认联名提案《{title}》。", title=title)
        if accepted
        else turn.t("您已谢绝联名提案《{title}》。", title=title)
    )
    turn.say(text, expects="none")


COSIGN_FLOW = Flow(
    name="cosign",
    start="list",
    roles=MEMBER,
    steps={
        "list": Step(prompt=ask_invitations, choice=on_pick, hint=N_("请点选一件提案。")),
        "open": Step(
            prompt=show_invitation,
            choice=on_answer,
            hint=N_("请点「确认联名」或「谢绝」。"),
        ),
    },
    edges={
        ("list", "page"): "list",
        ("list", "open"): "open",
        ("open", "done"): "list",
        ("open", "back"): "list",
    },
)


# ---------------------------------------------------------------- notice buttons


def parse_action(turn: Turn, args: list[str], values: Sequence[str]) -> tuple[int, str] | None:
    """``[<proposal id>, <value>]`` from a notice's payload, or None (said so)."""
    if len(args) == 2 and ID_RE.match(args[0]) and args[1] in values:
        return int(args[0]), args[1]
    turn.say(turn.t("无法识别这个操作，没有做任何更改。"), expects="none")
    resume(turn)
    return None


def act_cosign(turn: Turn, args: list[str]) -> None:
    """``cosign:<id>:yes|no`` — confirm or decline co-signing with one tap."""
    parsed = parse_action(turn, args, ("yes", "no"))
    if parsed is None:
        return
    pid, answer = parsed
    service = proposals.confirm_cosign if answer == "yes" else proposals.decline_cosign
    service(turn.ctx, pid)  # a refusal is said by the engine, nothing changed
    say_answered(turn, pid, answer == "yes")
    resume(turn)


def act_rate(turn: Turn, args: list[str]) -> None:
    """``rate:<id>:<rating>:<reply id>`` — rate the work and the result alike, then offer
    feedback. The reply id names the reply the notice delivered (notices written before it
    was added carry none, and rate the current reply)."""
    reply_id = None
    if len(args) == 3 and ID_RE.match(args[2]):
        reply_id = int(args[2])
        args = args[:2]
    parsed = parse_action(turn, args, tuple(RATING_LABELS))
    if parsed is None:
        return
    pid, value = parsed
    rating = replies.rate(turn.ctx, pid, work=value, result=value, reply_id=reply_id)
    turn.say(rating_text(turn, rating), expects="none")
    proposal = turn.session.get(Proposal, pid)
    if proposal is None or proposal.status != ProposalStatus.DELIVERED:
        turn.say(turn.t("各位提案人均已评价，提案已办结。感谢您的履职建言！"), expects="none")
        resume(turn)
        return
    data: dict = {"pid": pid, "work": value, "result": value, "rated": True}
    if turn.conv.flow not in (None, "menu", "mine"):
        data["resume"] = {
            "flow": turn.conv.flow,
            "step": turn.conv.step,
            "data": dict(turn.data),
        }
    turn.start("mine", data=data, step="feedback")


def install(engine: Engine) -> None:
    engine.add_flow(MINE_FLOW)
    engine.add_flow(COSIGN_FLOW)
    engine.add_action("cosign", act_cosign)
    engine.add_action("rate", act_rate)
