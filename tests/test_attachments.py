"""Attachments: checked by size, count and real type before anything is stored."""

from __future__ import annotations

import io

import openpyxl
import pytest
from sqlmodel import select

from storage.files import AttachmentStore
from storage.models import Attachment
from tests.factories import Story
from workflow import attachments, replies
from workflow.errors import InvalidInput, PermissionDenied

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 20


def xlsx_bytes() -> bytes:
    book = openpyxl.Workbook()
    book.active["A1"] = "调研数据"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def store(tmp_path):
    return AttachmentStore(tmp_path / "attachments")


def stored_files(store):
    return sorted(p for p in store.root.rglob("*") if p.is_file()) if store.root.exists() else []


def test_proposer_attaches_files_to_a_draft(db, wf, world, store):
    story = Story(db, wf, world)
    pid = story.draft()
    pdf = story.run(world.member, attachments.attach_to_proposal, store, pid, "调研报告.pdf", PDF)
    xlsx = story.run(
        world.member, attachments.attach_to_proposal, store, pid, "../../数据.xlsx", xlsx_bytes()
    )
    assert (pdf.mime_type, pdf.size) == ("application/pdf", len(PDF))
    assert xlsx.filename == "数据.xlsx"
    assert store.read(pdf.storage_path) == PDF
    # the same bytes again are stored once
    story.run(world.member, attachments.attach_to_proposal, store, pid, "副本.pdf", PDF)
    assert len(stored_files(store)) == 2


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("空.pdf", b"", "文件是空的"),
        ("脚本.exe", b"MZ\x90\x00" + b"\0" * 60, "无法识别|不接受"),
        ("伪装.pdf", PNG, "扩展名 .pdf 与内容"),
        ("乱码.txt", "提案".encode("gb18030"), "UTF-8"),
        ("大.pdf", PDF + b"\0" * (20 * 1024 * 1024), "文件太大"),
    ],
)
def test_refused_files_are_never_stored(db, wf, world, store, name, data, message):
    story = Story(db, wf, world)
    pid = story.draft()
    with pytest.raises(InvalidInput, match=message):
        story.run(world.member, attachments.attach_to_proposal, store, pid, name, data)
    assert stored_files(store) == []
    with db.read_session() as s:
        assert s.exec(select(Attachment)).all() == []


def test_only_the_proposer_and_only_on_a_draft(db, wf, world, store):
    story = Story(db, wf, world)
    pid = story.draft()
    with pytest.raises(PermissionDenied):
        story.run(world.outsider, attachments.attach_to_proposal, store, pid, "a.pdf", PDF)
    submitted = story.submitted()
    with pytest.raises(InvalidInput, match="只有草稿"):
        story.run(world.member, attachments.attach_to_proposal, store, submitted, "a.pdf", PDF)
    assert stored_files(store) == []


def test_count_limit_and_removal(db, wf, world, store):
    story = Story(db, wf, world)
    pid = story.draft()
    made = [
        story.run(
            world.member, attachments.attach_to_proposal, store, pid, f"{i}.txt", f"{i}".encode()
        )
        for i in range(wf.rules.attachment_max_count)
    ]
    with pytest.raises(InvalidInput, match="最多只能上传"):
        story.run(world.member, attachments.attach_to_proposal, store, pid, "x.txt", b"x")
    story.run(world.member, attachments.remove_attachment, made[0].id)
    story.run(world.member, attachments.attach_to_proposal, store, pid, "x.txt", b"x")


def test_lead_unit_attaches_to_its_reply_under_review(db, wf, world, store):
    story = Story(db, wf, world)
    _pid, _lead, reply_id = story.replied()
    made = story.run(
        world.handler_edu, attachments.attach_to_reply, store, reply_id, "图.png", PNG
    )
    assert made.reply_id == reply_id and made.mime_type == "image/png"
    with pytest.raises(PermissionDenied):
        story.run(world.handler_tr, attachments.attach_to_reply, store, reply_id, "图.png", PNG)
    story.run(world.staff, replies.approve_reply, reply_id)
    with pytest.raises(InvalidInput, match="待审核"):
        story.run(world.handler_edu, attachments.attach_to_reply, store, reply_id, "图.png", PNG)
