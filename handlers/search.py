"""Search of disclosed proposals, for anyone bound: keywords → matching proposals → the record.

Only proposals the committee took up (filed and further on, or merged into another) and
marked for disclosure (信息公开:是) are searched; the record is rendered by the workflow, which leaves out contact details for
people who are not a party to the proposal.
"""

from __future__ import annotations

import re

import rjieba
from sqlmodel import and_, col, or_, select

from handlers.engine import Engine, Flow, Step, Turn
from handlers.i18n import N_
from handlers.member import (
    LIST_PAGER,
    chosen_record,
    goto,
    has_words,
    offer_page,
    on_pick,
    proposal_button,
)
from storage.models import Proposal
from workflow.numbering import parse_number
from workflow.permissions import PUBLIC_STATUSES

QUERY_MAX = 100  # characters of keywords
MAX_TERMS = 12
MAX_CANDIDATES = 500
# Words nearly every proposal has; searched only when nothing else was asked.
COMMON_WORDS = {"关于", "建议", "提案", "问题", "加强", "进一步", "推进", "工作", "我们"}
SPLIT_RE = re.compile(r"[\s,，、;；。.!！?？:：\"“”'‘’《》()（）]+")


def search_terms(query: str) -> list[str]:
    """The words to look for: each typed word, and its jieba tokens of two or more chars."""
    words = [w for w in SPLIT_RE.split(query) if w and has_words(w)]
    terms: list[str] = []
    for word in words:
        for token in [word, *rjieba.cut_for_search(word)]:
            token = token.strip()
            if len(token) >= 2 and has_words(token) and token not in terms:
                terms.append(token)
        if len(word) == 1 and word not in terms:
            terms.append(word)
    specific = [t for t in terms if t not in COMMON_WORDS]
    return (specific or terms)[:MAX_TERMS]


def find_disclosed(session, query: str) -> list[Proposal]:
    """Disclosed proposals whose title or body holds any of the terms, best matches first."""
    terms = search_terms(query)
    if not terms:
        return []
    texts = (col(Proposal.title), col(Proposal.analysis), col(Proposal.suggestions))
    matches = [text.contains(term, autoescape=True) for term in terms for text in texts]
    # ASCII digits only: ① and ² are digits to str.isdigit(), not to int()
    numbers = [int(t) for t in terms if t.isascii() and t.isdigit() and len(t) <= 6]
    if numbers:
        matches.append(col(Proposal.number).in_(numbers))
    # a number with its year (2026-5, 2026年度第5号) names one proposal
    year, number = parse_number(query) or (None, None)
    if year is not None:
        matches.append(and_(Proposal.year == year, Proposal.number == number))
    rows = session.exec(
        select(Proposal)
        .where(
            Proposal.disclose == True,  # noqa: E712 - a SQL comparison
            col(Proposal.status).in_(PUBLIC_STATUSES),
            or_(*matches),
        )
        .limit(MAX_CANDIDATES)
    ).all()

    def score(p: Proposal) -> tuple:
        body = f"{p.analysis}\n{p.suggestions}"
        hits = sum(3 * (t in p.title) + (t in body) for t in terms)
        named = 5 * (p.number in numbers) + 10 * (p.year == year and p.number == number)
        return (-hits - named, -p.year, p.number or 0, p.id)

    return sorted(rows, key=score)


# ---------------------------------------------------------------- the flow


def ask_query(turn: Turn) -> None:
    turn.say(
        turn.t(
            "请发送要搜索的关键词，几个词可以用空格分开（例如：小学 交通）。"
            "只搜索已立案并同意公开的提案。"
        )
    )


def on_query(turn: Turn, text: str) -> str | None:
    """Searches for the keywords and lists what matches."""
    if not has_words(text):
        turn.say(turn.t("请用文字或数字发送关键词。"))
        return None
    if len(text) > QUERY_MAX:
        turn.say(
            turn.t("关键词太长了（{n} 字），请控制在 {max} 字以内。", n=len(text), max=QUERY_MAX)
        )
        return None
    if not find_disclosed(turn.session, text):
        turn.say(turn.t("没有找到与「{q}」相关的公开提案，请换个关键词再试。", q=text))
        return None
    turn.data["q"] = text
    turn.data[LIST_PAGER.key] = 0
    return "found"


def show_results(turn: Turn) -> None:
    """Lists the matching proposals, eight at a time."""
    query = turn.data.get("q") or ""
    found = find_disclosed(turn.session, query)
    if not found:
        turn.say(turn.t("没有找到与「{q}」相关的公开提案。", q=query), expects="none")
        goto(turn, "query")
        return
    offer_page(
        turn,
        turn.t("找到 {n} 件与「{q}」相关的公开提案，点选一件查看：", n=len(found), q=query),
        [(proposal_button(turn, p), f"p:{p.id}") for p in found],
        extra=[turn.choice(turn.t("换个关键词"), "new")],
    )


def on_result(turn: Turn, value: str) -> str | None:
    return "new" if value == "new" else on_pick(turn, value)


def show_proposal(turn: Turn) -> None:
    """Shows the chosen proposal's record (contact details only for its parties)."""
    shown = chosen_record(turn, "results")
    if shown is None:
        return
    _proposal, text = shown
    turn.say(
        text,
        [
            turn.choice(turn.t("返回搜索结果"), "back"),
            turn.choice(turn.t("换个关键词"), "new"),
        ],
        columns=2,
    )


def on_proposal(turn: Turn, value: str) -> str:
    return "new" if value == "new" else "back"


SEARCH_FLOW = Flow(
    name="search",
    start="query",
    steps={
        "query": Step(prompt=ask_query, text=on_query, hint=N_("请发送要搜索的关键词。")),
        "results": Step(
            prompt=show_results,
            choice=on_result,
            text=on_query,
            hint=N_("请点选一件提案，或发送新的关键词。"),
        ),
        "show": Step(
            prompt=show_proposal,
            choice=on_proposal,
            hint=N_("请点「返回搜索结果」或「换个关键词」。"),
        ),
    },
    edges={
        ("query", "found"): "results",
        ("results", "found"): "results",
        ("results", "page"): "results",
        ("results", "open"): "show",
        ("results", "new"): "query",
        ("show", "back"): "results",
        ("show", "new"): "query",
    },
)


def install(engine: Engine) -> None:
    engine.add_flow(SEARCH_FLOW)
