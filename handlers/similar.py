"""Proposals of the same year that read like a draft: jieba tokens ranked with BM25.

A proposal is the document; its title counts ``TITLE_WEIGHT`` times as much as its body.
The draft is the query (its title terms weigh more too) and is also put in the corpus, so a
score can be read relative to how the draft scores against itself: ``relative`` is 1 for a
copy of the draft and near 0 for a proposal that shares only common words. Proposals below
``MIN_RELATIVE`` are not shown.

Only proposals that were submitted (not drafts, not withdrawn) are compared, and only those
the proposer agreed to disclose (信息公开: 是) or the draft's own proposer wrote: the list
shows their titles and proposers to another member.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, or_, select

from storage.models import Proposal
from workflow.statuses import ProposalStatus

TITLE_WEIGHT = 3  # a title term counts as much as this many body terms
MIN_RELATIVE = 0.2  # below this share of the draft's own score, a proposal is not similar
LIMIT = 3
PRIOR_DOCS = 20  # see BM25

# Words every proposal uses: function words and the boilerplate of proposals.
_STOPWORDS = """
    关于 建议 提案 问题 存在 存在问题 进一步 加强 加快 推进 推动 完善 提高 提升 促进 做好
    工作 我们 我区 我市 全区 全市 目前 当前 现在 部分 一些 以及 进行 相关 有关 方面 通过
    没有 可以 需要 应该 应当 同时 其中 由于 因此 并且 而且 还是 已经 不断 积极 有效 发展
    建设 情况 主要 一是 二是 三是 四是 五是 一定 比较 为了 对于 以上 如下 等等 一个 这些
    那些 他们 自己 不够 不足 较为 逐步 切实 充分 有关部门 相关部门 政府 部门 群众 单位
"""
STOPWORDS = frozenset(_STOPWORDS.split())

log = logging.getLogger(__name__)
_jieba_module = None
_ready_lock = threading.Lock()
_token_cache: dict[str, tuple[list[str], list[str]]] = {}
_CACHE_MAX = 5000


def _jieba():
    """jieba, imported and its dictionary loaded once per process, quietly (it logs its
    start-up to stderr, and its import warns about pkg_resources)."""
    global _jieba_module
    if _jieba_module is None:
        with _ready_lock:
            if _jieba_module is None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba_module = jieba
    return _jieba_module


def tokens(text: str) -> list[str]:
    """Search tokens of ``text``: words of two characters or more, without stopwords,
    punctuation and bare numbers."""
    words = []
    for word in _jieba().lcut_for_search(text or ""):
        word = word.strip().lower()
        if len(word) < 2 or word in STOPWORDS or word.isdigit():
            continue
        if not any(ch.isalnum() for ch in word):
            continue
        words.append(word)
    return words


class BM25:
    """Okapi BM25 over tokenised documents, with the Lucene idf (never negative).

    ``prior_docs`` adds that many documents containing none of the terms to the idf: a
    year's first few proposals are too few to tell a common word from a rare one (in a
    corpus of two, a term both share would count as common), and stopwords already take
    out the words every proposal uses. With hundreds of proposals it hardly matters.
    """

    def __init__(
        self,
        docs: Sequence[Sequence[str]],
        k1: float = 1.5,
        b: float = 0.75,
        prior_docs: int = PRIOR_DOCS,
    ):
        self.k1, self.b = k1, b
        self.tfs = [Counter(doc) for doc in docs]
        self.lengths = [len(doc) for doc in docs]
        self.avgdl = (sum(self.lengths) / len(docs) if docs else 0) or 1.0
        df = Counter(term for tf in self.tfs for term in tf)
        n = len(docs) + prior_docs
        self.idf = {term: math.log(1 + (n - f + 0.5) / (f + 0.5)) for term, f in df.items()}

    def score(self, query: Mapping[str, float], index: int) -> float:
        """Score of document ``index`` for ``query`` (term -> weight)."""
        tf = self.tfs[index]
        norm = self.k1 * (1 - self.b + self.b * self.lengths[index] / self.avgdl)
        return sum(
            weight * self.idf[term] * tf[term] * (self.k1 + 1) / (tf[term] + norm)
            for term, weight in query.items()
            if term in tf
        )


@dataclass(frozen=True)
class Similar:
    proposal: Proposal
    score: float  # BM25 score
    relative: float  # score / the draft's score against itself


def _fields(proposal: Proposal) -> tuple[list[str], list[str]]:
    """(title tokens, body tokens), remembered by content: a submitted proposal's text no
    longer changes, so each is cut once per process."""
    title, body = proposal.title, proposal.body
    key = hashlib.sha1(f"{title}\0{body}".encode()).hexdigest()
    cached = _token_cache.get(key)
    if cached is not None:
        return cached
    fields = (tokens(title), tokens(body))
    if len(_token_cache) >= _CACHE_MAX:
        _token_cache.clear()
    _token_cache[key] = fields
    return fields


def _document(title: list[str], body: list[str]) -> list[str]:
    return title * TITLE_WEIGHT + body


def _query(title: list[str], body: list[str]) -> dict[str, float]:
    query = dict.fromkeys(body, 1.0)
    query.update(dict.fromkeys(title, float(TITLE_WEIGHT)))
    return query


def candidates(session: Session, draft: Proposal) -> list[Proposal]:
    """Submitted proposals of the draft's year that its proposer may be shown."""
    stmt = (
        select(Proposal)
        .where(Proposal.year == draft.year)
        .where(col(Proposal.status).not_in([ProposalStatus.DRAFT, ProposalStatus.WITHDRAWN]))
        .where(Proposal.id != draft.id)
        .where(or_(col(Proposal.disclose), Proposal.proposer_id == draft.proposer_id))
        .order_by(col(Proposal.id))
    )
    return list(session.exec(stmt).all())


def similar_proposals(
    session: Session,
    draft: Proposal,
    *,
    limit: int = LIMIT,
    min_relative: float = MIN_RELATIVE,
) -> list[Similar]:
    """Up to ``limit`` proposals of the same year most like ``draft``, best first."""
    others = candidates(session, draft)
    if not others:
        return []
    mine = _fields(draft)
    query = _query(*mine)
    if not query:
        return []
    docs = [_document(*mine)] + [_document(*_fields(p)) for p in others]
    bm25 = BM25(docs)
    own = bm25.score(query, 0)
    if own <= 0:
        return []
    found = []
    for index, proposal in enumerate(others, start=1):
        score = bm25.score(query, index)
        if score / own >= min_relative:
            found.append(Similar(proposal, score, score / own))
    found.sort(key=lambda s: (-s.score, s.proposal.id))
    return found[:limit]
