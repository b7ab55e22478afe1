"""Outgoing messages: long texts split at paragraph boundaries, choices as numbered lines."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from handlers.messages import MAX_MESSAGE, Choice, Out, render_numbered, split_text


def test_short_text_is_one_part():
    assert split_text("一段话") == ["一段话"]


def test_long_text_splits_between_paragraphs():
    paragraphs = [f"第{i}段。" + "内容" * 300 for i in range(12)]
    parts = split_text("\n".join(paragraphs))
    assert len(parts) > 1
    assert all(len(p) <= MAX_MESSAGE for p in parts)
    assert "\n".join(parts) == "\n".join(paragraphs)
    assert all(p.startswith("第") for p in parts)  # every part begins with a paragraph


def test_a_paragraph_longer_than_the_limit_is_cut_hard():
    text = "字" * (MAX_MESSAGE * 2 + 10)
    parts = split_text(text)
    assert [len(p) for p in parts] == [MAX_MESSAGE, MAX_MESSAGE, 10]


@given(st.lists(st.text(min_size=0, max_size=3000), min_size=1, max_size=12))
def test_splitting_loses_nothing_and_keeps_within_the_limit(paragraphs):
    text = "\n".join(p.replace("\n", " ") for p in paragraphs)
    parts = split_text(text)
    assert all(len(p) <= MAX_MESSAGE for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_numbered_rendering():
    out = Out("请选择：", [Choice("立案", "1|f"), Choice("不予立案", "1|r")])
    assert render_numbered(out) == "请选择：\n\n1. 立案\n2. 不予立案"
