"""How the engine's outputs become Telegram messages: escaping, keyboards, long texts."""

from __future__ import annotations

from bot.telegram import render as tr
from handlers.messages import Choice, Out, split_text


def test_user_text_cannot_carry_markup_or_hidden_links():
    typed = '<a href="https://evil.example">点我</a> <b>粗体</b> & <tg-spoiler>x</tg-spoiler>'
    escaped = tr.message_text(f"标题：{typed}")
    assert "<a " not in escaped and "<b>" not in escaped and "<tg-spoiler>" not in escaped
    assert escaped == (
        '标题：&lt;a href="https://evil.example"&gt;点我&lt;/a&gt; &lt;b&gt;粗体&lt;/b&gt; '
        "&amp; &lt;tg-spoiler&gt;x&lt;/tg-spoiler&gt;"
    )


def test_an_empty_text_is_never_sent_empty():
    assert tr.message_text("") == "…"
    assert tr.message_text("  \n ") == "…"


def test_choices_become_rows_of_inline_buttons_with_the_engine_payloads():
    choices = [Choice("立案", "7|file"), Choice("不予立案", "7|reject"), Choice("并案", "7|merge")]
    markup = tr.inline_keyboard(choices, columns=2)
    rows = [[(b["text"], b["callback_data"]) for b in row] for row in markup["inline_keyboard"]]
    assert rows == [[("立案", "7|file"), ("不予立案", "7|reject")], [("并案", "7|merge")]]


def test_a_payload_over_64_bytes_never_reaches_telegram():
    choices = [Choice("好", "1|" + "长" * 30), Choice("可以", "1|ok")]
    markup = tr.inline_keyboard(choices)
    assert [b["callback_data"] for row in markup["inline_keyboard"] for b in row] == ["1|ok"]
    assert tr.inline_keyboard([Choice("坏", "")]) is None


def test_button_labels_are_one_line_and_bounded():
    markup = tr.inline_keyboard([Choice("第一行\n第二行" + "字" * 100, "1|x")])
    label = markup["inline_keyboard"][0][0]["text"]
    assert "\n" not in label and len(label) == tr.BUTTON_LABEL_MAX and label.endswith("…")


def test_a_short_text_split_in_two_stays_two_messages():
    text = "甲" * 4000 + "\n" + "乙" * 100
    parts = split_text(text)
    outs = [Out(parts[0], expects="none", continued=True), Out(parts[1])]
    pieces = tr.pieces(outs)
    assert [p.text for p in pieces] == parts and all(p.document is None for p in pieces)


def test_a_text_of_many_parts_goes_as_one_document_and_its_choices_follow():
    paragraphs = [f"第{i}段" + "内容" * 1500 for i in range(4)]
    parts = split_text("\n".join(paragraphs) + "\n请选择下一步：")
    assert len(parts) >= tr.LONG_AS_FILE
    outs = [Out(p, expects="none", continued=True) for p in parts[:-1]]
    outs.append(Out(parts[-1], [Choice("返回", "3|back")], expects="choice"))
    outs.append(Out("另一条消息"))
    pieces = tr.pieces(outs)
    assert pieces[0].document.decode() == "\n".join(parts)
    assert pieces[1].text == "请选择下一步：" and pieces[1].choices == [Choice("返回", "3|back")]
    assert pieces[2].text == "另一条消息" and len(pieces) == 3


def test_a_document_is_named_after_its_first_line():
    assert tr.document_name("《关于加快老旧小区加装电梯的建议》\n正文", "x") == (
        "《关于加快老旧小区加装电梯的建议》.txt"
    )
    assert tr.document_name("/../../etc/passwd", "proposal") == "etcpasswd.txt"
    assert tr.document_name("", "proposal") == "proposal.txt"
