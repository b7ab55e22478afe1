"""The conversations in English: proposal numbers, dates, times and lists of names are said
in the reader's language (No. 1, 14 Sep 2026) in a member's proposals, the staff's review
queue and 交办 wizard, and a handling unit's inbox and reply letter; the three paged lists
turn their pages in English. What people wrote (titles, names, unit names, texts) stays as
it was written; Chinese readers read what they read before (the Chinese transcript tests)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from handlers.engine import Turn
from storage.models import Person, Proposal
from tests.chat import Chat
from tests.factories import SAMPLE_ANALYSIS, SAMPLE_REPLY, SAMPLE_SUGGESTIONS
from tests.states import States
from tests.test_i18n_workflow import speak_english
from workflow import assignments, replies

# Han characters, CJK punctuation (、。「」《》 and the ideographic space) and full-width
# forms (（）：，): none of them belongs in an English sentence.
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")

TITLE = "关于改善城区小学放学时段交通秩序的建议"  # No. 1 in these tests
TITLE_2 = "关于加强校园食品安全监管的建议"
TITLE_3 = "关于增设学校周边人行过街设施的建议"
OPINION = "建议优化信号灯配时。"
REPLY_TITLE = "关于七届二次会议第1号提案的答复"  # the letter's official title stays Chinese
PEOPLE = ("林晓", "何平", "许静", "高远", "梁雪", "蒋涛", "彭娟", "邓启明", "副区长")
UNITS = ("区教育局", "区交通运输局", "区卫生健康委员会", "区政府督查室")
SETTINGS = ("示范区政协", "七届二次会议")  # committee name and session label, as configured
TEXTS = (*SAMPLE_ANALYSIS.split("\n"), *SAMPLE_SUGGESTIONS.split("\n"), OPINION)
WRITTEN = (TITLE, TITLE_2, TITLE_3, *PEOPLE, *UNITS, *SETTINGS, *TEXTS)


def shortened(title: str, limit: int) -> str:
    return title if len(title) <= limit else title[: limit - 1] + "…"


def not_english(text: str, *written: str) -> list[str]:
    """The lines of ``text`` that still hold Chinese once what people wrote is taken out."""
    pieces = sorted({*WRITTEN, *written}, key=len, reverse=True)
    left = []
    for line in text.split("\n"):
        bare = line
        for piece in pieces:
            bare = bare.replace(piece, "")
        if CJK.search(bare):
            left.append(line)
    return left


def lines_of(text: str) -> list[str]:
    return text.split("\n")


async def in_english(db, chat_as, person: int, *taps: str) -> Chat:
    """``person``'s chat, switched to English, from the menu through the buttons ``taps``."""
    speak_english(db, person)
    chat = chat_as(person)
    await chat.send("/menu")
    for label in taps:
        await chat.tap(label)
    return chat


# ---------------------------------------------------------------- the Turn's helpers


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "zh",
            ("2026年度第28号", "未编号", "2026年9月14日", "2026年9月14日 09:30"),
        ),
        ("en", ("No. 28 of 2026", "Unnumbered", "14 Sep 2026", "14 Sep 2026 09:30")),
    ],
)
def test_numbers_dates_and_times_in_the_readers_language(db, wf, locale, expected):
    with db.session() as session:
        reader = Person(name="读者", phone="13900000000", roles="member", locale=locale)
        turn = Turn(
            engine=None, session=session, conv=None, person=reader, ctx=wf.ctx(session, None)
        )
        said = (
            turn.number(2026, 28),
            turn.number(2026, None),
            turn.date(date(2026, 9, 14)),
            turn.time(datetime(2026, 9, 14, 1, 30, tzinfo=UTC)),  # 09:30 in Beijing
        )
        assert said == expected
        assert turn.date(None) == turn.time(None) == ""
        separator = "、" if locale == "zh" else ", "
        assert (
            turn.join(["区教育局", "区卫生健康委员会"]) == f"区教育局{separator}区卫生健康委员会"
        )


# ---------------------------------------------------------------- a member


async def test_an_english_members_proposals_and_record(db, wf, world, chat_as):
    s = States(db, wf, world)
    s.accepted(cosigners=[world.cosigner])  # No. 1, being handled
    s.submitted(title=TITLE_3)  # awaiting review, no number yet
    s.filed(title=TITLE_2)  # No. 2
    chat = await in_english(db, chat_as, world.member, "📋 My proposals")
    assert chat.said == (
        "Your proposals of 2026 (including those you co-signed). Tap one to see its record and "
        "progress:"
    )
    assert chat.buttons == [
        f"No. 2 of 2026 {TITLE_2} · Filed",
        f"Unnumbered {shortened(TITLE_3, 16)} · Awaiting review",
        f"No. 1 of 2026 {shortened(TITLE, 16)} · Being handled",
    ]

    await chat.tap("No. 1")
    record = lines_of(chat.said)
    for line in (
        "Number: No. 1 of 2026 Category: Member proposal",
        "Assigned on: 14 Sep 2026 Key proposal: No",
        "Reply due: 14 Dec 2026",
        "Proposal number: No. 1 of 2026",
        "  14 Sep 2026 09:30  Filed as No. 1 of 2026 → Filed  许静",
    ):
        assert line in record, line
    assert not_english(chat.said) == []
    assert chat.buttons == ["Back to list"]


async def test_an_english_co_signer_is_told_the_deadline_in_english(db, wf, world, chat_as):
    States(db, wf, world).submitted(cosigners=[world.cosigner], confirm=False)
    chat = await in_english(db, chat_as, world.cosigner, "✍️ Co-sign invitations")
    await chat.tap(f"“{shortened(TITLE, 16)}”")
    assert lines_of(chat.said)[-1] == (
        "Member 林晓 invites you to co-sign this proposal. Please confirm before "
        "20 Sep 2026 23:59."
    )
    assert not_english(chat.said) == []


# ---------------------------------------------------------------- the staff


async def test_an_english_staff_members_review_queue_and_filing(db, wf, world, chat_as):
    s = States(db, wf, world)
    submitted = s.submitted(title=TITLE_3)
    s.filed(title=TITLE_2)  # No. 1
    chat_as(world.member)  # bound: she hears of it
    chat = await in_english(db, chat_as, world.staff, "🔎 Review queue")
    assert lines_of(chat.said) == [
        "Review queue: 1 awaiting review, 1 awaiting assignment.",
        "[Awaiting review] (oldest submission first)",
        f"1. “{TITLE_3}” 林晓, submitted 9/14",
        "[Awaiting assignment] (filed, not yet assigned)",
        f"2. No. 1 of 2026 “{TITLE_2}” 林晓",
        "Tap a proposal to view and handle it:",
    ]
    assert chat.buttons == [
        shortened(TITLE_3, 22),
        shortened(f"No. 1 of 2026 {TITLE_2}", 22),
        "🏠 Back to menu",
    ]

    await chat.tap("No. 1")
    assert (
        lines_of(chat.said)[-1]
        == "This proposal has been filed (No. 1 of 2026) but not yet assigned."
    )
    await chat.tap("↩️ Back")
    await chat.tap(shortened(TITLE_3, 22))
    assert chat.buttons[0] == "File"
    await chat.tap("File")
    assert lines_of(chat.said)[:2] == [
        "Filed as No. 2 of 2026 (No. 2).",
        "The proposer has been notified.",
    ]
    assert not_english(chat.said) == []
    assert s.status(Proposal, submitted) == "filed"


async def test_an_english_staff_member_assigns_a_key_proposal(db, wf, world, chat_as):
    States(db, wf, world).filed(title=TITLE_2)  # No. 1
    chat = await in_english(db, chat_as, world.staff, "🔎 Review queue", "No. 1 of 2026", "Assign")
    assert lines_of(chat.said)[0] == f"Assign No. 1 of 2026 “{TITLE_2}”"
    await chat.tap("区卫生健康委员会")
    await chat.tap("区交通运输局")
    await chat.tap("区教育局")
    assert "Co-handling units chosen: 区交通运输局, 区教育局" in lines_of(chat.said)
    await chat.tap("Done")
    assert "Step 3: reply due date. By default 3 months after assignment: 14 Dec 2026." in (
        lines_of(chat.said)
    )
    await chat.tap("Use default")
    await chat.tap("Yes, make it a key proposal")
    await chat.tap("区政府督查室")
    assert chat.buttons == ["邓启明 (副区长)", "↩️ Back"]
    await chat.tap("邓启明 (副区长)")
    assert lines_of(chat.said) == [
        "Please check the assignment:",
        f"Proposal: No. 1 of 2026 “{TITLE_2}”",
        "Lead unit: 区卫生健康委员会",
        "Co-handling units: 区交通运输局, 区教育局",
        "Reply due: 14 Dec 2026 (default, 3 months after assignment)",
        "Key proposal: Yes",
        "Supervising unit: 区政府督查室",
        "Lead leader: 邓启明 (副区长)",
    ]
    await chat.tap("Confirm assignment")
    assert lines_of(chat.said)[0] == (
        f"Assigned: No. 1 of 2026 “{TITLE_2}” to 区卫生健康委员会 as lead unit, with 区交通运输局, "
        "区教育局 co-handling, reply due 14 Dec 2026, as a key proposal."
    )  # the lines after it say which units were notified, or why one was not
    assert not_english("\n".join(text for _who, text in chat.transcript)) == []


# ---------------------------------------------------------------- a handling unit


async def test_an_english_handlers_inbox_and_detail(db, wf, world, chat_as):
    s = States(db, wf, world)
    s.accepted()  # No. 1: 区交通运输局 co-handles, accepted
    s.assigned(title=TITLE_2)  # No. 2: 区交通运输局 co-handles, not yet accepted
    chat = await in_english(db, chat_as, world.handler_tr, "📥 Assignments")
    assert lines_of(chat.said) == [
        "Assignments of 区交通运输局: 2 in all, 1 of them awaiting acceptance.",
        "[Awaiting acceptance]",
        f"· No. 2 of 2026 “{TITLE_2}” co-handling unit · co-handling opinion due 14 Oct 2026 · "
        "Awaiting acceptance",
        "[Being handled]",
        f"· No. 1 of 2026 “{TITLE}” co-handling unit · co-handling opinion due 14 Oct 2026 · "
        "Being handled",
        "Please tap the one to handle:",
    ]
    assert chat.buttons == [
        f"No. 2 of 2026 {TITLE_2} (co-handling unit)",
        f"No. 1 of 2026 {shortened(TITLE, 22)} (co-handling unit)",
        "Back to menu",
    ]
    await chat.tap("No. 2")
    assert lines_of(chat.last[-1].text) == [
        f"Proposal No. 2 of 2026 “{TITLE_2}”",
        "Role: co-handling unit, co-handling opinion due 14 Oct 2026",
        "Adjustment request deadline: 20 Sep 2026",
        "This unit's status: Awaiting acceptance",
        "If this is not within this unit's responsibilities, please request an adjustment "
        "before 20 Sep 2026.",
        "Please choose what to do:",
    ]
    assert not_english(chat.said) == []


async def test_an_english_refusal_names_the_assignment_in_english(db, wf, world, chat_as):
    s = States(db, wf, world)
    _pid, lead, _co = s.assigned()
    chat = await in_english(db, chat_as, world.handler_edu, "📥 Assignments", "No. 1 of 2026")
    s.run(world.handler_edu2, assignments.accept, lead)  # a colleague is faster
    await chat.tap("Adjustment request")
    assert lines_of(chat.said)[0] == (
        "Proposal No. 1 of 2026 handled by 区教育局 was already handled by 梁雪 at 14 Sep 2026 09:30 "
        'and is now "Being handled"; "Adjustment request" is no longer possible.'
    )
    assert not_english(chat.said) == []


async def test_an_english_handlers_reply_preview(db, wf, world, chat_as):
    s = States(db, wf, world)
    _pid, _lead, co = s.accepted()
    s.run(world.handler_tr, assignments.give_opinion, co, OPINION)
    chat = await in_english(db, chat_as, world.handler_edu, "📥 Assignments", "No. 1 of 2026")
    assert "Role: lead unit, reply due 14 Dec 2026" in lines_of(chat.said)
    await chat.tap("Write reply")
    assert lines_of(chat.said)[0] == f"Write reply · proposal No. 1 of 2026 “{TITLE}”"
    await chat.tap("Class B")
    body = SAMPLE_REPLY["body"]
    await chat.send(body)
    await chat.tap("Done")
    await chat.tap("Use my name")
    await chat.send("0839-8620101")
    await chat.tap('Use "区教育局"')
    assert chat.buttons == ["Today (14 Sep 2026)"]
    await chat.tap("Today")
    preview = chat.said
    assert lines_of(preview) == [
        "Reply letter preview",
        "",
        REPLY_TITLE,
        "Dear Member 林晓,",
        *(f"  {line}" for line in body.split("\n")),
        "(Contact person: 高远 Phone: 0839-8620101)",
        "区教育局",
        "14 Sep 2026",
        "Reply class B: The issues raised are being solved or are planned to be solved step "
        "by step",
        "",
        "Opinions of the co-handling units:",
        f"· 区交通运输局: {OPINION}",
        "",
        "Once submitted, it goes to the co-handling units (区交通运输局) to countersign; when "
        "they all have, it goes to review on its own.",
        "",
        'When everything is correct, tap "Submit for review"; you can also change any item.',
    ]
    assert not_english(preview, REPLY_TITLE, *body.split("\n")) == []


async def test_an_english_co_handler_countersigns_the_reply(db, wf, world, chat_as):
    s = States(db, wf, world)
    _pid, lead, _co = s.accepted()
    s.run(world.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
    chat = await in_english(db, chat_as, world.handler_tr)
    [(text, actions)] = [n for n in chat.notices() if n[1] and n[1][0]["payload"][:3] == "cs:"]
    assert text.startswith(
        "区教育局 has written the reply to proposal No. 1 of 2026 “" + TITLE + "” (class B, "
        "draft 1). Please countersign it by 20 Sep 2026"
    )
    assert "(Contact person: 高远 Phone: 0839-8620101)" in text
    assert [a["label"] for a in actions] == ["✅ Countersign", "✏️ Ask for changes"]
    await chat.press(actions[0]["payload"])
    assert lines_of(chat.said)[:2] == [
        "You countersigned the reply to proposal No. 1 of 2026 (draft 1).",
        "Every co-handling unit has countersigned; the reply has gone to review.",
    ]
    assert not_english(chat.said) == []


# ---------------------------------------------------------------- pages, in English


async def test_the_three_paged_lists_turn_their_pages_in_english(db, wf, world, chat_as):
    s = States(db, wf, world)
    for i in range(10):
        s.assigned(co=False, title=f"关于第{i + 1}项民生实事的建议")
    for i in range(9):
        s.submitted(title=f"关于第{i + 1}个社区问题的建议")

    member = await in_english(db, chat_as, world.member, "📋 My proposals")
    assert lines_of(member.said)[-1] == "(1–8 of 19)"
    assert member.buttons[-1] == "More" and member.payload_of("More").endswith("|pg:1")
    await member.tap("More")
    await member.tap("More")
    assert lines_of(member.said)[-1] == "(17–19 of 19)"
    assert member.buttons[-1] == "Back to the first page"
    assert member.payload_of("Back to the first page").endswith("|pg:0")
    await member.tap("Back to the first page")
    assert lines_of(member.said)[-1] == "(1–8 of 19)"

    # The staff's lists and the unit's inbox: back and on, one page at a time.
    for person, opens, where, forward, back in (
        (world.staff, "🔎 Review queue", "(page {}/2)", "Next page ▶", "◀ Previous page"),
        (world.handler_edu, "📥 Assignments", "Page {}/2", "Next page", "Previous page"),
    ):
        chat = await in_english(db, chat_as, person, opens)
        assert where.format(1) in lines_of(chat.said) and back not in chat.buttons
        assert chat.buttons[-2] == forward and chat.payload_of(forward).endswith("|pg:1")
        await chat.tap(forward)
        assert where.format(2) in lines_of(chat.said) and forward not in chat.buttons
        assert chat.buttons[-2] == back and chat.payload_of(back).endswith("|pg:0")
