"""What the new-proposal wizard's modules share — ``handlers/submit.py``, its co-signers
(``handlers/cosigners.py``), its preview (``handlers/submit_preview.py``) and the saved
drafts (``handlers/drafts.py``): the draft the conversation writes (``pid``), how a step ends
(on to the next one, or back to the preview when editing), and the checks and counts of what
the member types.
"""

from __future__ import annotations

from handlers.engine import Turn
from storage.models import Proposal
from workflow.core import lock_proposal
from workflow.errors import InvalidInput, NotFound, WorkflowError
from workflow.proposals import body_length, require_author
from workflow.statuses import ProposalStatus


def _leave(turn: Turn, message: str) -> None:
    """Say why the flow cannot go on and go back to the menu."""
    turn.say(message)
    turn.finish()
    turn.engine.menu(turn)


def _may_draft(turn: Turn) -> bool:
    """The workflow decides who may write proposals; anyone else is told and sent back."""
    try:
        require_author(turn.ctx)
    except WorkflowError as refusal:
        _leave(turn, turn.t(refusal.text))
        return False
    return True


def _draft(turn: Turn) -> Proposal | None:
    """The proposal this conversation writes, locked (the step that reads it then changes
    it through the workflow, which finds it locked already: one read, not two)."""
    pid = turn.data.get("pid")
    if pid is None:
        return None
    try:
        return lock_proposal(turn.ctx, int(pid))
    except NotFound:
        return None


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


def _budget(turn: Turn, proposal: Proposal) -> str:
    limit = turn.ctx.rules.body_max_chars
    used = body_length(proposal)
    return turn.t(
        "正文（存在问题与建议合计）已用 {used}/{max} 字，还可写 {left} 字。",
        used=used,
        max=limit,
        left=max(limit - used, 0),
    )
