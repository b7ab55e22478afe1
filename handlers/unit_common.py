"""What the handling unit's conversations share: the inbox (``handlers/unit.py``), the other
steps on one assignment (``handlers/unit_handling.py``) and the reply wizard
(``handlers/reply.py``) all need the assignment a conversation is about and the checks of
what a handler types (texts with something in them, dates); the co-handling opinions are
shown in the reply preview and in the committee staff's reply review.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from handlers.engine import Turn
from handlers.i18n import N_
from handlers.turns import me
from storage.models import Assignment, Proposal, existing, pk
from workflow import countersigns
from workflow.assignments import unit_name
from workflow.core import check_text
from workflow.errors import InvalidInput
from workflow.statuses import ACTIVE_ASSIGNMENT_STATUSES

DONE_WORDS = {"完成", "done", "Done", "DONE"}


def is_done_word(text: str) -> bool:
    """Whether a message is the word 完成 sent instead of tapping the button, as people type
    it: with a full stop or an exclamation mark, full-width letters, any case."""
    word = unicodedata.normalize("NFKC", text).strip().rstrip("。.!！~～ ").strip()
    return word in DONE_WORDS or word.lower() == "done"


BACK = N_("返回")
ROLE_LABELS = {"lead": N_("主办"), "co": N_("协办")}  # the unit's part in an assignment


# ---------------------------------------------------------------- typed texts and dates


def _meaningful(turn: Turn, text: str, what: str) -> str:
    """Refuse text with no letter, digit or Chinese character in it (emoji only, dots)."""
    if not any(unicodedata.category(ch)[0] in "LN" for ch in text):
        raise InvalidInput(turn.t("{what}需要写明文字内容，不能只有表情或符号。", what=what))
    return text


def _text(turn: Turn, text: str, what: str, max_chars: int) -> str:
    return _meaningful(turn, check_text(text, what, max_chars=max_chars), what)


LAST_YEARS_AFTER_DAYS = 183  # a yearless day further ahead than this is last year's


def _parse_date(turn: Turn, text: str) -> date:
    """今天, 2026-11-20, 2026/11/20, 2026年11月20日, 11月20日, 11-20: a past day (a contact,
    a reply letter). Without its year, this year's, or last year's when this year's is more
    than half a year ahead (12月28日 typed on 5 January is last December's)."""
    text = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
    today = turn.ctx.today
    if text in ("今天", "today"):
        return today
    match = re.fullmatch(r"(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})日?", text)
    if not match:
        raise InvalidInput(turn.t("请发送日期，例如 2026-11-20 或 11月20日。"))
    year = int(match.group(1)) if match.group(1) else today.year
    try:
        day = date(year, int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise InvalidInput(turn.t("没有这一天，请检查日期。")) from None
    # Without its year, a day months ahead is last year's (12月28日 typed on 5 January); a
    # day just ahead stays this year's, to be refused as still to come (a typing slip, not
    # a day of last year).
    if not match.group(1) and (day - today).days > LAST_YEARS_AFTER_DAYS:
        try:
            return day.replace(year=year - 1)
        except ValueError:  # 2月29日, typed early in the year after a leap year
            return day
    return day


def _parts_len(parts: list[str]) -> int:
    return len("\n".join(parts))


# ---------------------------------------------------------------- the assignment


def _current(turn: Turn) -> tuple[Assignment, Proposal] | None:
    """The assignment this conversation is about, while it is still the unit's to handle."""
    assignment = turn.session.get(Assignment, turn.data.get("asg") or 0)
    if (
        assignment is None
        or assignment.unit_id != me(turn).unit_id
        or assignment.status not in ACTIVE_ASSIGNMENT_STATUSES
    ):
        return None
    return assignment, existing(turn.session, Proposal, assignment.proposal_id)


def _gone(turn: Turn) -> None:
    """Say that the assignment left the unit's inbox and show the inbox again."""
    turn.say(turn.t("这项交办已办结或已改交，不在本单位的待办中了。"), expects="none")
    turn.conv.step = "list"
    turn.engine.prompt(turn)


def co_opinions(turn: Turn, proposal: Proposal) -> list[str]:
    """Each co-handling unit still on the proposal with its opinion: 区交通运输局：……
    (（尚未提出） while it has given none)."""
    co = countersigns.co_units(turn.ctx, pk(proposal))
    return [
        turn.t(
            "{unit}：{opinion}",
            unit=unit_name(turn.ctx, a.unit_id),
            opinion=a.opinion or turn.t("（尚未提出）"),
        )
        for a in co
    ]
