"""Files attached to a proposal draft or to a reply, checked before they are stored."""

from __future__ import annotations

import logging
import unicodedata
from pathlib import PurePath

import filetype
from sqlmodel import col, func, select

from storage.files import AttachmentStore
from storage.models import Assignment, Attachment, Proposal, Reply, existing, pk
from workflow.core import Ctx, audit, lock_assignment, lock_proposal, require_role
from workflow.errors import InvalidInput, NotFound, PermissionDenied
from workflow.permissions import (
    require_proposer,
    require_reply_reviewer,
    require_unit_handler,
)
from workflow.statuses import PROPOSAL_TRANSITIONS, AssignmentStatus, ProposalStatus
from workflow.texts import label

# Types a proposal or a reply may carry, by MIME type, with the extensions that go with them.
ALLOWED_TYPES: dict[str, tuple[str, ...]] = {
    "application/pdf": ("pdf",),
    "image/jpeg": ("jpg", "jpeg"),
    "image/png": ("png",),
    "application/msword": ("doc",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("docx",),
    "application/vnd.ms-excel": ("xls",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("xlsx",),
    "text/plain": ("txt",),
}
TYPE_NAMES = label("PDF、Word、Excel、JPG/PNG 图片或纯文本")


log = logging.getLogger(__name__)

MB = 1024 * 1024  # sizes are said in binary megabytes, as the prompts say them


def sniff(filename: str, data: bytes) -> str:
    """The MIME type the bytes really are; refuse anything not allowed or disguised."""
    extension = PurePath(filename).suffix.lower().lstrip(".")
    kind = filetype.guess(data)
    if kind is None:
        if extension == "txt":
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput("文本文件须为 UTF-8 编码。") from None
            return "text/plain"
        raise InvalidInput("无法识别这个文件的类型，只接受{types}。", types=TYPE_NAMES)
    mime = kind.mime
    if mime == "application/x-ole-storage" and extension in ("doc", "xls"):
        mime = "application/msword" if extension == "doc" else "application/vnd.ms-excel"
    if mime not in ALLOWED_TYPES:
        raise InvalidInput(
            "不接受这种文件（{kind}），只接受{types}。", kind=kind.extension, types=TYPE_NAMES
        )
    if extension not in ALLOWED_TYPES[mime]:
        raise InvalidInput(
            "文件扩展名 .{extension} 与内容（{kind}）不符。",
            extension=extension or label("（无）"),
            kind=kind.extension,
        )
    return mime


def clean_filename(name: str) -> str:
    name = unicodedata.normalize("NFC", PurePath(name.replace("\\", "/")).name)
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*')
    return name.strip()[:200] or "附件"


def _store(
    ctx: Ctx,
    store: AttachmentStore,
    filename: str,
    data: bytes,
    *,
    proposal_id: int,
    reply_id: int | None = None,
) -> Attachment:
    """Check the file (size, count, real type), then store it and record it."""
    if not data:
        raise InvalidInput("文件是空的。")
    limit = ctx.rules.attachment_max_bytes
    if len(data) > limit:
        raise InvalidInput(
            "文件太大（{size} MB），单个附件不能超过 {limit} MB。",
            size=f"{len(data) / MB:.1f}",
            limit=f"{limit / MB:g}",
        )
    owner = Attachment.reply_id == reply_id if reply_id else Attachment.proposal_id == proposal_id
    existing = ctx.session.exec(select(func.count()).select_from(Attachment).where(owner)).one()
    if existing >= ctx.rules.attachment_max_count:
        raise InvalidInput("最多只能上传 {n} 个附件。", n=ctx.rules.attachment_max_count)
    name = clean_filename(filename)
    mime = sniff(name, data)
    digest, path = store.put(data)
    attachment = Attachment(
        proposal_id=None if reply_id else proposal_id,
        reply_id=reply_id,
        filename=name,
        mime_type=mime,
        size=len(data),
        sha256=digest,
        storage_path=path,
        uploaded_by=ctx.person_id,
        created_at=ctx.now,
    )
    ctx.session.add(attachment)
    ctx.session.flush()
    audit(ctx, "attach", proposal_id=proposal_id, attachment_id=attachment.id, filename=name)
    return attachment


def attach_to_proposal(
    ctx: Ctx, store: AttachmentStore, proposal_id: int, filename: str, data: bytes
) -> Attachment:
    """The proposer adds a file to a draft; it is checked first and stored only if allowed."""
    require_role(ctx, PROPOSAL_TRANSITIONS["edit_draft"])
    proposal = lock_proposal(ctx, proposal_id)
    require_proposer(ctx, proposal)
    if proposal.status != ProposalStatus.DRAFT:
        raise InvalidInput("只有草稿可以添加附件。")
    return _store(ctx, store, filename, data, proposal_id=pk(proposal))


def attach_to_reply(
    ctx: Ctx, store: AttachmentStore, reply_id: int, filename: str, data: bytes
) -> Attachment:
    """The lead unit adds a file to a reply it submitted and that is not yet approved."""
    reply = ctx.session.get(Reply, reply_id)
    if reply is None:
        raise NotFound("找不到答复 {reply_id}。", reply_id=reply_id)
    assignment, _proposal = lock_assignment(ctx, reply.assignment_id)
    require_unit_handler(ctx, assignment)
    ctx.session.refresh(reply)
    waiting = {
        ("submitted", AssignmentStatus.REPLIED),
        ("countersigning", AssignmentStatus.COUNTERSIGNING),  # 会签 comes before review
    }
    if (reply.status, assignment.status) not in waiting:
        raise InvalidInput("只能给待审核的答复添加附件。")
    return _store(ctx, store, filename, data, proposal_id=reply.proposal_id, reply_id=reply.id)


def remove_attachment(ctx: Ctx, attachment_id: int) -> None:
    """The proposer removes a file from a draft (the stored bytes may be shared; kept)."""
    require_role(ctx, PROPOSAL_TRANSITIONS["edit_draft"])
    attachment = ctx.session.get(Attachment, attachment_id)
    if attachment is None or attachment.proposal_id is None:
        raise NotFound("找不到这个附件。")
    proposal = lock_proposal(ctx, attachment.proposal_id)
    require_proposer(ctx, proposal)
    if proposal.status != ProposalStatus.DRAFT:
        raise PermissionDenied("提交后的附件不能删除。")
    ctx.session.delete(attachment)
    audit(ctx, "detach", proposal_id=proposal.id, filename=attachment.filename)


def proposal_files(
    ctx: Ctx, store: AttachmentStore, proposal_id: int
) -> list[tuple[Attachment, bytes]]:
    """The files the proposer attached to a proposal, with their bytes, for the parties to
    it: staff, its signers, the units handling it, its supervisors and lead leader (not the
    public, who may read a disclosed proposal). A file missing from the store is left out
    (and logged)."""
    proposal = ctx.session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound("找不到编号为 {proposal_id} 的提案。", proposal_id=proposal_id)
    _require_party(ctx, proposal)
    return _read(store, proposal_attachments(ctx, proposal_id))


def _require_party(ctx: Ctx, proposal: Proposal) -> None:
    from workflow.record import is_party  # the record's own rule for contact details

    if not is_party(ctx, proposal):
        raise PermissionDenied("您无权查看这件提案。")


def proposal_attachments(ctx: Ctx, proposal_id: int) -> list[Attachment]:
    """The files attached to the proposal itself (not those of its replies)."""
    return [a for a in attachments_of(ctx, proposal_id=proposal_id) if a.reply_id is None]


def _read(store: AttachmentStore, files: list[Attachment]) -> list[tuple[Attachment, bytes]]:
    read = []
    for attachment in files:
        try:
            read.append((attachment, store.read(attachment.storage_path)))
        except (OSError, ValueError):
            log.warning("attachment %s is missing from the store", attachment.id)
    return read


def reply_files(ctx: Ctx, store: AttachmentStore, reply_id: int) -> list[tuple[Attachment, bytes]]:
    """The files of a reply letter with their bytes, for whoever may read the letter: while
    it is not approved, its reviewers and the lead unit's handlers; once approved, the
    parties to the proposal (as ``proposal_files``). A file missing from the store is left
    out (and logged)."""
    reply = ctx.session.get(Reply, reply_id)
    if reply is None:
        raise NotFound("找不到答复 {reply_id}。", reply_id=reply_id)
    proposal = existing(ctx.session, Proposal, reply.proposal_id)
    if reply.status == "approved":
        _require_party(ctx, proposal)
    else:
        try:
            require_reply_reviewer(ctx, proposal)
        except PermissionDenied:
            require_unit_handler(ctx, existing(ctx.session, Assignment, reply.assignment_id))
    return _read(store, attachments_of(ctx, reply_id=reply_id))


def attachments_of(ctx: Ctx, *, proposal_id: int | None = None, reply_id: int | None = None):
    stmt = select(Attachment).order_by(col(Attachment.id))
    if proposal_id is not None:
        stmt = stmt.where(Attachment.proposal_id == proposal_id)
    if reply_id is not None:
        stmt = stmt.where(Attachment.reply_id == reply_id)
    return list(ctx.session.exec(stmt).all())
