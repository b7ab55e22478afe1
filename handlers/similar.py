"""Proposals of the same year that read like a draft: jieba tokens ranked with BM25.

Words are cut by jieba's search mode as jieba-rs does it (``rjieba``): the same dictionary and
algorithm as the Python jieba, forty times faster and without its 80 MB dictionary in memory.

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
import math
import threading
from array import array
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import rjieba
from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, col, select

from storage.models import Person, Proposal, table_of
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

_token_cache: dict[str, tuple[list[str], list[str]]] = {}
_CACHE_MAX = 200  # drafts being submitted; the year's proposals live in the index


def tokens(text: str) -> list[str]:
    """Search tokens of ``text``: words of two characters or more, without stopwords,
    punctuation and bare numbers."""
    words = []
    for word in rjieba.cut_for_search(text or ""):
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

    K1 = 1.5
    B = 0.75

    def __init__(
        self,
        docs: Sequence[Sequence[str]],
        k1: float = K1,
        b: float = B,
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
    proposer: str = ""  # the proposer's name


def _fields(proposal: Proposal) -> tuple[list[str], list[str]]:
    """(title tokens, body tokens) of a draft, remembered by content for a while (a member
    taps 📤 提交 more than once on the same text, and the index cuts it again once it is
    submitted)."""
    key = _content_key(proposal.title, proposal.body)
    cached = _token_cache.get(key)
    if cached is not None:
        return cached
    fields = (tokens(proposal.title), tokens(proposal.body))
    if len(_token_cache) >= _CACHE_MAX:
        _token_cache.clear()
    _token_cache[key] = fields
    return fields


def _content_key(title: str, body: str) -> str:
    return hashlib.sha1(f"{title}\0{body}".encode()).hexdigest()


def _cut(title: str, body: str) -> tuple[list[str], list[str]]:
    """(title tokens, body tokens) of a proposal the index takes in: those of the draft it
    was, when its check before submission cut the same text."""
    cached = _token_cache.get(_content_key(title, body))
    return cached if cached is not None else (tokens(title), tokens(body))


def _document(title: list[str], body: list[str]) -> list[str]:
    return title * TITLE_WEIGHT + body


def _query(title: list[str], body: list[str]) -> dict[str, float]:
    query = dict.fromkeys(body, 1.0)
    query.update(dict.fromkeys(title, float(TITLE_WEIGHT)))
    return query


# ---------------------------------------------------------------- the year's index

COMPARED = (ProposalStatus.DRAFT, ProposalStatus.WITHDRAWN)  # statuses never compared


class _YearIndex:
    """The submitted proposals of one year, cut into terms once per process: an inverted
    index (term → the documents that have it, with how often) that follows the database.

    Each check reads only the year's ids, text fingerprints (``Proposal.text_hash``), 信息公开
    flags and proposers; a proposal new to the index, or whose fingerprint changed, is read
    and cut, and only that one. Documents are kept in slots; a replaced one's old slot is dead
    and skipped, and the index is rebuilt when too many are.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.slot_of: dict[int, int] = {}  # proposal id -> its live slot
        self.hashes: list[str | None] = []  # per slot
        self.lengths = array("I")  # per slot: document length in terms
        self.postings: dict[str, tuple[array, array]] = {}  # term -> (slots, term counts)

    def _add(self, proposal_id: int, text_hash: str | None, document: list[str]) -> None:
        slot = len(self.hashes)
        self.slot_of[proposal_id] = slot
        self.hashes.append(text_hash)
        self.lengths.append(len(document))
        for term, count in Counter(document).items():
            entry = self.postings.get(term)
            if entry is None:
                entry = self.postings[term] = (array("I"), array("I"))
            entry[0].append(slot)
            entry[1].append(count)

    def follow(self, session: Session, rows: list) -> None:
        """Bring the index up to ``rows`` (id, text_hash, …): read and cut what is new or
        changed; a proposal no longer there simply has no live slot."""
        if len(self.hashes) > 2 * max(len(rows), 64):  # mostly dead slots: start over
            self._reset()
        stale = [
            pid
            for pid, text_hash, *_ in rows
            if text_hash is None
            or (slot := self.slot_of.get(pid)) is None
            or self.hashes[slot] != text_hash
        ]
        for chunk in (stale[i : i + 500] for i in range(0, len(stale), 500)):
            texts = session.execute(
                sa_select(
                    col(Proposal.id),
                    col(Proposal.text_hash),
                    col(Proposal.title),
                    col(Proposal.analysis),
                    col(Proposal.suggestions),
                ).where(col(Proposal.id).in_(chunk))
            ).all()
            for pid, text_hash, title, analysis, suggestions in texts:
                body = f"{analysis}\n{suggestions}".strip()  # as ``Proposal.body``
                # Cut without keeping the words: the index holds what it needs of them.
                self._add(pid, text_hash, _document(*_cut(title, body)))


_indexes: dict[tuple[str, int], _YearIndex] = {}
_indexes_lock = threading.Lock()


def _index_for(session: Session, year: int) -> _YearIndex:
    bind = session.get_bind()
    engine = bind if isinstance(bind, SAEngine) else bind.engine
    key = (engine.url.render_as_string(hide_password=True), year)
    with _indexes_lock:
        index = _indexes.get(key)
        if index is None:
            index = _indexes[key] = _YearIndex()
        return index


_proposals = table_of(Proposal).c
_YEAR_ROWS = (  # built once: it runs on every 📤 提交
    sa_select(_proposals.id, _proposals.text_hash, _proposals.disclose, _proposals.proposer_id)
    .where(_proposals.year == bindparam("year"))
    .where(_proposals.status.not_in(COMPARED))
    .order_by(_proposals.id)
)


def _year_rows(session: Session, year: int) -> list:
    """(id, text_hash, disclose, proposer_id) of the year's proposals that are compared."""
    return list(session.connection().execute(_YEAR_ROWS, {"year": year}).all())


def warm(session: Session, year: int) -> int:
    """Cut the year's submitted proposals into the index now (at start-up), so the first
    member to tap 📤 提交 does not wait for it; returns how many the index holds."""
    index = _index_for(session, year)
    rows = _year_rows(session, year)
    with index.lock:
        index.follow(session, rows)
    return len(rows)


def similar_proposals(
    session: Session,
    draft: Proposal,
    *,
    year: int | None = None,
    limit: int = LIMIT,
    min_relative: float = MIN_RELATIVE,
) -> list[Similar]:
    """Up to ``limit`` proposals of the same year most like ``draft``, best first.

    The corpus is the draft and the submitted proposals of ``year`` (the year it would be
    submitted in; by default the draft's own) that its proposer may be shown; only documents
    sharing a term with the draft can score, so only those are visited.
    """
    year = draft.year if year is None else year
    mine = _fields(draft)
    query = _query(*mine)
    if not query:
        return []
    rows = _year_rows(session, year)
    shown = [
        pid
        for pid, _hash, disclose, proposer in rows
        if pid != draft.id and (disclose or proposer == draft.proposer_id)
    ]
    if not shown:
        return []
    index = _index_for(session, year)
    with index.lock:
        index.follow(session, rows)
        slots = [index.slot_of[pid] for pid in shown]
        own_doc = _document(*mine)
        own_tf = Counter(own_doc)
        n_docs = len(slots) + 1
        total_length = sum(index.lengths[slot] for slot in slots)
        avgdl = ((total_length + len(own_doc)) / n_docs) or 1.0
        k1, b = BM25.K1, BM25.B
        # Every live slot is usually shown (dead slots and undisclosed proposals aside):
        # then the postings need no filtering.
        everything = len(slots) == len(index.hashes)
        in_corpus = bytearray(0 if everything else len(index.hashes))
        if not everything:
            for slot in slots:
                in_corpus[slot] = 1
        norm_of = [k1 * (1 - b + b * length / avgdl) for length in index.lengths]
        scores = [0.0] * len(index.hashes)
        own = 0.0
        for term, weight in query.items():
            entry = index.postings.get(term)
            hit_slots: Sequence[int] = ()
            hit_counts: Sequence[int] = ()
            if entry is not None:
                if everything:
                    hit_slots, hit_counts = entry
                else:
                    kept = [(s, c) for s, c in zip(*entry, strict=True) if in_corpus[s]]
                    hit_slots = [s for s, _ in kept]
                    hit_counts = [c for _, c in kept]
            own_count = own_tf.get(term, 0)
            df = len(hit_slots) + (1 if own_count else 0)
            idf = math.log(1 + (n_docs + PRIOR_DOCS - df + 0.5) / (df + 0.5))
            factor = weight * idf * (k1 + 1)
            for slot, count in zip(hit_slots, hit_counts, strict=True):
                scores[slot] += factor * count / (count + norm_of[slot])
            if own_count:
                own += factor * own_count / (own_count + k1 * (1 - b + b * len(own_doc) / avgdl))
        id_of = {index.slot_of[pid]: pid for pid in shown}
        # A proposal sharing no term scores 0: shown only when every proposal is similar.
        candidates = [
            (scores[slot], pid)
            for slot, pid in id_of.items()
            if scores[slot] > 0 or min_relative <= 0
        ]
    if own <= 0:
        return []
    ranked = sorted(
        (item for item in candidates if item[0] / own >= min_relative),
        key=lambda item: (-item[0], item[1]),
    )[:limit]
    if not ranked:
        return []
    loaded = {
        p.id: (p, name)
        for p, name in session.exec(
            select(Proposal, Person.name)
            .join(Person, col(Person.id) == col(Proposal.proposer_id))
            .where(col(Proposal.id).in_([pid for _, pid in ranked]))
        ).all()
    }
    return [
        Similar(loaded[pid][0], score, score / own, loaded[pid][1])
        for score, pid in ranked
        if pid in loaded
    ]
