"""Similar proposals of the same year: jieba tokens ranked with BM25."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import event
from sqlmodel import select

from bot.run import warm_similarity
from handlers.similar import BM25, similar_proposals, tokens
from storage.models import Proposal
from workflow import proposals

DRAFT = (
    "关于加快老旧小区加装电梯的建议",
    "老旧小区多为六层住宅，没有电梯，老年居民上下楼吃力。加装电梯业主意见难统一，审批周期长。",
    "1、出台加装电梯补贴办法。\n2、简化加装电梯审批手续。",
)
# The same four terms, in the title of one and in the body of the other.
SAME_TITLE = (
    "关于老旧小区加装电梯的建议",
    "希望引起重视。",
    "1、尽快研究。",
)
SAME_BODY = (
    "关于改善城区出行条件的建议",
    "老旧小区加装电梯。",
    "1、尽快研究。",
)
UNRELATED = [
    (
        "关于治理农村生活污水的建议",
        "部分村庄生活污水直排河沟，水体发黑发臭。",
        "1、建设分散式污水处理设施。",
    ),
    (
        "关于缓解小学放学时段交通拥堵的建议",
        "放学时校门口接送车辆乱停，道路拥堵，学生安全有隐患。",
        "1、设置即停即走车位，错峰放学。",
    ),
    (
        "关于发展社区居家养老服务的建议",
        "社区养老服务设施不足，护理人员缺乏。",
        "1、建设日间照料中心，培养护理人才。",
    ),
]


def write(db, wf, person, texts, *, submit=True, **fields) -> int:
    title, analysis, suggestions = texts
    with db.session() as s:
        ctx = wf.ctx(s, person)
        draft = proposals.create_draft(
            ctx, title=title, analysis=analysis, suggestions=suggestions, **fields
        )
        if submit:
            proposals.submit(ctx, draft.id)
        return draft.id


def similar_to(db, pid) -> list[int]:
    with db.read_session() as s:
        return [m.proposal.id for m in similar_proposals(s, s.get(Proposal, pid))]


def test_tokens_drop_stopwords_punctuation_and_single_characters():
    words = tokens("关于加快老旧小区加装电梯的建议：一、电梯！2026年 A 楼")
    assert "电梯" in words and "老旧" in words and "小区" in words
    for dropped in ("关于", "建议", "加快", "的", "：", "！", "2026", "a", "一", "楼"):
        assert dropped not in words
    assert tokens("") == [] and tokens("🎉🎉，。") == []


def test_bm25_scores_rare_shared_terms_higher():
    docs = [["电梯", "小区"], ["电梯", "污水"], ["污水", "河道"], ["养老", "社区"]]
    bm25 = BM25(docs, prior_docs=0)
    query = {"电梯": 1.0, "小区": 1.0}
    scores = [bm25.score(query, i) for i in range(len(docs))]
    assert scores[0] > scores[1] > 0 and scores[2] == scores[3] == 0
    assert bm25.idf["小区"] > bm25.idf["电梯"]  # rarer
    # With few documents, the prior keeps a term two of them share from counting as common.
    assert BM25(docs[:2]).idf["电梯"] > 2 * BM25(docs[:2], prior_docs=0).idf["电梯"]


def test_similar_titles_rank_first_and_unrelated_ones_are_left_out(db, wf, world):
    for texts in UNRELATED:
        write(db, wf, world.cosigner2, texts)
    same_body = write(db, wf, world.cosigner, SAME_BODY)
    same_title = write(db, wf, world.outsider, SAME_TITLE)
    draft = write(db, wf, world.member, DRAFT, submit=False)
    assert similar_to(db, draft) == [same_title, same_body]
    with db.read_session() as s:
        found = similar_proposals(s, s.get(Proposal, draft))
    assert all(0.2 <= m.relative < 1 for m in found)


def test_at_most_three_best_first(db, wf, world):
    ids = [
        write(db, wf, world.outsider, (f"关于老旧小区加装电梯的建议（{n}）", DRAFT[1][: 10 * n], "1、补贴。"))
        for n in range(1, 6)
    ]  # fmt: skip
    draft = write(db, wf, world.member, DRAFT, submit=False)
    found = similar_to(db, draft)
    assert found == [ids[4], ids[3], ids[2]]


def test_only_the_same_year_and_never_the_draft_itself(db, wf, world, clock):
    clock.set_local(2025, 11, 3)
    last_year = write(db, wf, world.outsider, DRAFT)
    clock.set_local(2026, 9, 14)
    other_draft = write(db, wf, world.outsider, DRAFT, submit=False)
    withdrawn = write(db, wf, world.cosigner, DRAFT)
    with db.session() as s:
        proposals.withdraw(wf.ctx(s, world.cosigner), withdrawn)
    this_year = write(db, wf, world.cosigner2, SAME_TITLE)
    draft = write(db, wf, world.member, DRAFT, submit=False)
    with db.read_session() as s:
        assert s.get(Proposal, last_year).year == 2025
    assert similar_to(db, draft) == [this_year]
    assert not {last_year, other_draft, withdrawn, draft} & set(similar_to(db, draft))


def test_undisclosed_proposals_of_others_are_not_shown(db, wf, world):
    write(db, wf, world.outsider, SAME_TITLE, disclose=False)
    own_earlier = write(db, wf, world.member, SAME_BODY, disclose=False)
    draft = write(db, wf, world.member, DRAFT, submit=False)
    assert similar_to(db, draft) == [own_earlier]


def test_nothing_to_compare(db, wf, world):
    draft = write(db, wf, world.member, DRAFT, submit=False)
    assert similar_to(db, draft) == []
    write(db, wf, world.outsider, SAME_TITLE)
    empty = write(db, wf, world.member, ("关于……的建议", "", ""), submit=False)
    assert similar_to(db, empty) == []  # only stopwords: no query


def test_word_cutting_is_quiet():
    """Cutting words in a fresh process prints nothing (no dictionary-loading chatter)."""
    code = "from handlers.similar import tokens; assert tokens('老旧小区加装电梯')"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def _bm25_over_candidates(session, draft: Proposal) -> list[tuple[int, float]]:
    """The definition the index must agree with: BM25 over the draft and every submitted
    proposal of its year its proposer may be shown, built from scratch."""
    from handlers.similar import _document, _fields, _query

    others = [
        p
        for p in session.exec(select(Proposal).where(Proposal.year == draft.year)).all()
        if p.status not in ("draft", "withdrawn")
        and p.id != draft.id
        and (p.disclose or p.proposer_id == draft.proposer_id)
    ]
    mine = _fields(draft)
    bm25 = BM25([_document(*mine)] + [_document(*_fields(p)) for p in others])
    query = _query(*mine)
    own = bm25.score(query, 0)
    scored = [(p.id, bm25.score(query, i)) for i, p in enumerate(others, start=1)]
    return sorted(
        ((pid, score) for pid, score in scored if own and score / own >= 0.2),
        key=lambda item: (-item[1], item[0]),
    )


def test_the_year_index_scores_as_bm25_over_the_candidates_while_proposals_change(db, wf, world):
    """The index is kept between checks and follows the database: new submissions, a
    withdrawal, a proposal whose 信息公开 changes, and an edited text are all seen."""
    texts = [SAME_TITLE, SAME_BODY, *UNRELATED] + [
        (f"关于老旧小区加装电梯的建议（{n}）", DRAFT[1][: 9 * n], "1、补贴。") for n in range(1, 5)
    ]
    people = [world.outsider, world.cosigner, world.cosigner2]
    for i, t in enumerate(texts):
        write(db, wf, people[i % 3], t, disclose=i % 4 != 0)
    draft = write(db, wf, world.member, DRAFT, submit=False)

    def agree() -> list[int]:
        with db.read_session() as s:
            proposal = s.get(Proposal, draft)
            found = similar_proposals(s, proposal, limit=100)
            expected = _bm25_over_candidates(s, proposal)
        assert [m.proposal.id for m in found] == [pid for pid, _ in expected]
        for match, (_, score) in zip(found, expected, strict=True):
            assert match.score == pytest.approx(score, rel=1e-9)
        return [m.proposal.id for m in found]

    first = agree()
    assert first  # something is similar
    later = write(db, wf, world.cosigner2, ("关于老旧小区加装电梯补贴的建议", DRAFT[1], DRAFT[2]))
    assert later in agree()  # a new submission
    with db.session() as s:
        proposals.withdraw(wf.ctx(s, world.cosigner2), later)
    assert later not in agree()  # withdrawn
    with db.session() as s:
        s.get(Proposal, first[0]).disclose = False  # e.g. corrected by staff
    agree()
    with db.session() as s:  # a text changed under the index
        changed = s.get(Proposal, first[-1])
        changed.title, changed.analysis = "关于治理农村生活污水的建议", "污水直排河沟。"
    assert first[-1] not in agree()


def test_the_index_is_built_at_start_up_and_a_check_then_reads_no_texts(app, wf, world):
    """``proposalbot run`` builds this year's index as it starts; the first 📤 提交 after
    it reads only ids and fingerprints, and the texts of the proposals it shows."""
    db = app.db
    for texts in [SAME_TITLE, SAME_BODY, *UNRELATED]:
        write(db, wf, world.outsider, texts)
    draft = write(db, wf, world.member, DRAFT, submit=False)
    warm_similarity(app)
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(db.read_engine, "before_cursor_execute", seen)
    try:
        assert len(similar_to(db, draft)) == 2
    finally:
        event.remove(db.read_engine, "before_cursor_execute", seen)
    cut = [s for s in statements if "proposal.text_hash, proposal.title" in s]
    assert statements and not cut


def test_a_submitted_draft_joins_the_index_without_being_cut_again(db, wf, world, monkeypatch):
    """📤 提交 cuts the draft's words for its check; once submitted, the next member's check
    takes the proposal into the year's index with those words instead of cutting it again,
    and scores it as it scores one cut afresh."""
    from handlers import similar

    write(db, wf, world.outsider, SAME_TITLE)
    mine = write(db, wf, world.member, DRAFT, submit=False)
    theirs = write(db, wf, world.cosigner, DRAFT[:1] + ("电梯审批。", "1、补贴。"), submit=False)
    assert similar_to(db, mine)  # the check before submission: the draft is cut
    with db.session() as s:
        proposals.submit(wf.ctx(s, world.member), mine)
    cut: list[str] = []
    real_tokens = similar.tokens
    monkeypatch.setattr(similar, "tokens", lambda text: cut.append(text) or real_tokens(text))
    with db.read_session() as s:
        found = similar_proposals(s, s.get(Proposal, theirs), limit=100)
        expected = _bm25_over_candidates(s, s.get(Proposal, theirs))
    assert mine in [m.proposal.id for m in found]
    assert not any(DRAFT[1] in text for text in cut)  # taken in with the words it had
    assert [(m.proposal.id, pytest.approx(m.score, rel=1e-9)) for m in found] == expected
