"""SQLModel tables: everything a proposal record holds, and the people around it.

Conventions: datetimes are aware UTC (see ``storage.clock``); calendar dates (due dates,
reply dates) are local dates of the committee's timezone. Statuses, roles and classes are
short ASCII codes; their Chinese labels live in ``workflow.statuses``.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import JSON, Column, Index, Table, Text, UniqueConstraint, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text as sa_text
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Field, Session, SQLModel

from storage.clock import utcnow


class _Row(Protocol):
    @property
    def id(self) -> int | None: ...


def pk(row: _Row) -> int:
    """The id of a row that is in the database (loaded, or added and flushed).

    ``id`` is ``None`` only on a row not flushed yet; asking for it then is a mistake.
    """
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id until it is flushed")
    return row.id


def table_of(model: type[SQLModel]) -> Table:
    """The table a model maps: statements on it skip the ORM's bookkeeping, for the
    statements that run on every update or write many rows at once."""
    return model.__table__  # type: ignore[attr-defined]


_Model = TypeVar("_Model", bound=SQLModel)


def attached(session: Session, model: type[_Model], values: Mapping[Any, Any]) -> _Model:
    """A row read past the ORM (a statement on the session's connection, its columns named
    as the model's), as the object the session would have loaded: in its identity map,
    persistent, nothing changed. A select through the session costs about three times the
    same select on its connection, most of it the ORM's setting up of the load; the few
    statements every update runs read this way. The caller makes sure the session does not
    hold the row already (``held``): its object there may have changes of its own."""
    instance = sa_inspect(model).class_manager.new_instance()
    sa_inspect(instance).dict.update(values)
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


def held(session: Session, model: type[SQLModel], row_id: int) -> bool:
    """Whether the session holds the object of this row already."""
    key = sa_inspect(model).identity_key_from_primary_key((row_id,))
    return key in session.identity_map


def existing(session: Session, model: type[_Model], row_id: int) -> _Model:
    """A row the caller knows is there: one a foreign key names, or one a service has just
    acted on (proposals, assignments and replies are never deleted)."""
    row = session.get(model, row_id)
    if row is None:
        raise LookupError(f"{model.__name__} {row_id} is not in the database")
    return row


class Unit(SQLModel, table=True):
    """A handling unit (承办单位), supervising unit (督办单位) or the committee itself."""

    __tablename__ = "unit"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    short_name: str | None = Field(default=None, max_length=50)
    kind: str = Field(default="handling", max_length=20)  # handling | supervising | committee
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Person(SQLModel, table=True):
    """Anyone who uses the bot: members, staff, handlers, supervisors and leaders."""

    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50, index=True)
    phone: str = Field(max_length=20, unique=True)
    # Comma-separated role codes, e.g. "member,staff"; see workflow.roles.Role.
    roles: str = Field(default="member", max_length=100)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    sector: str | None = Field(default=None, max_length=50)  # 界别
    title: str | None = Field(default=None, max_length=50)  # 职务, e.g. 副区长
    locale: str = Field(default="zh", max_length=10)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def role_set(self) -> frozenset[str]:
        return _role_set(self.roles)


@functools.lru_cache(maxsize=256)
def _role_set(roles: str) -> frozenset[str]:
    """The roles of a ``roles`` text: asked many times an update (each item of the menu
    asks), and there are a handful of such texts."""
    return frozenset(r for r in roles.split(",") if r)


class ChannelAccount(SQLModel, table=True):
    """One chat account bound to a person; a person may bind Telegram and WeChat."""

    __tablename__ = "channel_account"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    channel: str = Field(max_length=20)  # telegram | wechat | console
    external_id: str = Field(max_length=100)
    display_name: str | None = Field(default=None, max_length=100)
    unreachable: bool = Field(default=False)
    bound_at: datetime = Field(default_factory=utcnow)


class InviteCode(SQLModel, table=True):
    """A one-time binding code. Only its hash is stored."""

    __tablename__ = "invite_code"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    code_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
    revoked: bool = Field(default=False)
    created_by: int | None = Field(default=None, foreign_key="person.id")


class BindAttempt(SQLModel, table=True):
    """Every attempt to redeem an invite code, kept to rate-limit guessing."""

    __tablename__ = "bind_attempt"
    __table_args__ = (Index("ix_bind_attempt_account_at", "channel", "external_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    external_id: str = Field(max_length=100)
    at: datetime = Field(default_factory=utcnow)
    success: bool = Field(default=False)


class YearCounter(SQLModel, table=True):
    """The last proposal number given in a year; row-locked while a number is taken."""

    __tablename__ = "year_counter"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_number: int = Field(default=0)


class Proposal(SQLModel, table=True):
    """A proposal (提案) with every field of the printed record."""

    __tablename__ = "proposal"
    __table_args__ = (
        UniqueConstraint("year", "number"),
        Index("ix_proposal_status_year", "status", "year"),
        Index("ix_proposal_submitted_at", "submitted_at"),
        # The years that have a proposal of a number (/status 28 not found this year): the
        # unique (year, number) leads with the year and would be read whole.
        Index("ix_proposal_number_year", "number", "year"),
        # A person's proposals newest first, read along the index and stopped at a page.
        Index("ix_proposal_proposer", "proposer_id", "id"),
        # A proposal's status by id without its row (the texts make the rows wide): a
        # member's count of proposals checks each one's status here.
        Index("ix_proposal_id_status", "id", "status"),
        # The key proposals a lead leader oversees and those a supervising unit supervises
        # (督办的重点提案), a year's by number: only the key ones are in them.
        Index(
            "ix_proposal_key_leader",
            "lead_leader_id",
            "year",
            "number",
            sqlite_where=sa_text("is_key = 1"),
            postgresql_where=sa_text("is_key"),
        ),
        Index(
            "ix_proposal_key_supervising",
            "supervising_unit_id",
            "year",
            "number",
            sqlite_where=sa_text("is_key = 1"),
            postgresql_where=sa_text("is_key"),
        ),
        # Only the disclosed proposals not yet published: the queue publication reads.
        Index(
            "ix_proposal_unpublished",
            "status",
            sqlite_where=sa_text("disclose = 1 AND published = 0"),
            postgresql_where=sa_text("disclose AND NOT published"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    number: int | None = None  # 编号, given at 立案
    session_label: str = Field(max_length=50)  # 会次, e.g. 七届二次会议
    category: str = Field(default="member", max_length=20)  # member | collective (所属类别)
    collective_body: str | None = Field(default=None, max_length=100)  # for 集体提案
    field: str | None = Field(default=None, max_length=50)  # 领域, e.g. 经济建设
    title: str = Field(default="", max_length=200)  # 案由
    analysis: str = Field(default="", sa_column=Column(Text, nullable=False))  # 存在问题
    suggestions: str = Field(default="", sa_column=Column(Text, nullable=False))  # 建议
    suggested_unit: str | None = Field(default=None, max_length=200)
    disclose: bool = Field(default=True)  # 信息公开
    status: str = Field(default="draft", max_length=20, index=True)
    proposer_id: int = Field(foreign_key="person.id")

    submitted_at: datetime | None = None
    cosign_deadline: datetime | None = None
    reviewed_at: datetime | None = None
    reviewed_by: int | None = Field(default=None, foreign_key="person.id")
    review_reason: str | None = Field(default=None, sa_column=Column(Text))
    merged_into_id: int | None = Field(default=None, foreign_key="proposal.id", index=True)

    assigned_at: datetime | None = None  # 交办时间
    due_date: date | None = Field(default=None, index=True)
    is_key: bool = Field(default=False)  # 是否重点
    supervising_unit_id: int | None = Field(default=None, foreign_key="unit.id")
    lead_leader_id: int | None = Field(default=None, foreign_key="person.id")
    rehandle_count: int = Field(default=0)
    delivered_at: datetime | None = None
    closed_at: datetime | None = None
    published: bool = Field(default=False)

    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # A fingerprint of title, analysis and suggestions, kept on every write: the similarity
    # index tells from it, without reading the texts, which proposals it has to cut again.
    text_hash: str | None = Field(default=None, max_length=40)

    @property
    def body(self) -> str:
        return f"{self.analysis}\n{self.suggestions}".strip()


def proposal_text_hash(title: str | None, analysis: str | None, suggestions: str | None) -> str:
    text = f"{title or ''}\0{analysis or ''}\0{suggestions or ''}"
    return hashlib.sha1(text.encode()).hexdigest()


@event.listens_for(Proposal, "before_insert")
@event.listens_for(Proposal, "before_update")
def _keep_text_hash(_mapper, _connection, proposal: Proposal) -> None:
    proposal.text_hash = proposal_text_hash(
        proposal.title, proposal.analysis, proposal.suggestions
    )


class Signer(SQLModel, table=True):
    """The lead signer (领衔) and co-signers (联名) of a proposal."""

    __tablename__ = "signer"
    __table_args__ = (
        UniqueConstraint("proposal_id", "person_id"),
        # A member's proposals of a year newest first, how many, and the member's years,
        # from the index alone (我的提案).
        Index("ix_signer_person_year", "person_id", "year", "proposal_id", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    role: str = Field(default="co", max_length=10)  # lead | co
    position: int = Field(default=0)
    state: str = Field(default="pending", max_length=20)  # pending|confirmed|declined|expired
    invited_at: datetime = Field(default_factory=utcnow)
    responded_at: datetime | None = None
    # The proposal's year once it is submitted (a draft is no one's proposal of a year yet):
    # 我的提案 lists a member's proposals a year at a time from the index.
    year: int | None = Field(default=None)


class Attachment(SQLModel, table=True):
    """A file attached to a proposal or a reply; the bytes live in the attachment store."""

    __tablename__ = "attachment"

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id", index=True)
    reply_id: int | None = Field(default=None, foreign_key="reply.id", index=True)
    filename: str = Field(max_length=255)
    mime_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    storage_path: str = Field(max_length=500)
    uploaded_by: int = Field(foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow)


class Assignment(SQLModel, table=True):
    """A proposal assigned to one unit, as lead (主办) or co-handling (协办) unit."""

    __tablename__ = "assignment"
    __table_args__ = (
        # A unit's assignments in a state, a year's together (已办结的交办 of a year).
        Index("ix_assignment_unit_status_year", "unit_id", "status", "year"),
        # A unit's proposals newest first, read along the index and stopped at a page.
        Index("ix_assignment_unit_proposal", "unit_id", "proposal_id", "status"),
        Index("ix_assignment_status_due", "status", "due_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    year: int  # the proposal's (fixed at its submission, before any assignment)
    role: str = Field(default="lead", max_length=10)  # lead | co
    status: str = Field(default="pending", max_length=30)
    assigned_at: datetime = Field(default_factory=utcnow)
    assigned_by: int | None = Field(default=None, foreign_key="person.id")
    due_date: date  # reply due (lead) or opinion due (co)
    adjust_deadline: date  # last working day to ask for adjustment
    accepted_at: datetime | None = None
    accepted_by: int | None = Field(default=None, foreign_key="person.id")
    adjustment_reason: str | None = Field(default=None, sa_column=Column(Text))
    adjustment_requested_at: datetime | None = None
    adjustment_requested_by: int | None = Field(default=None, foreign_key="person.id")
    adjustment_decision: str | None = Field(default=None, sa_column=Column(Text))
    opinion: str | None = Field(default=None, sa_column=Column(Text))
    opinion_at: datetime | None = None
    opinion_by: int | None = Field(default=None, foreign_key="person.id")
    ended_at: datetime | None = None


class ContactRecord(SQLModel, table=True):
    """A contact (沟通/面商) between a handling unit and the proposer."""

    __tablename__ = "contact_record"

    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id", index=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    method: str = Field(max_length=20)  # phone | visit | meeting | letter | online
    contact_date: date
    summary: str = Field(sa_column=Column(Text, nullable=False))
    recorded_by: int = Field(foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow)


class Reply(SQLModel, table=True):
    """One version of the lead unit's reply letter (答复函)."""

    __tablename__ = "reply"
    __table_args__ = (UniqueConstraint("proposal_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    assignment_id: int = Field(foreign_key="assignment.id")
    version: int
    round: int = Field(default=1)  # 1, or 2 after 重新办理
    reply_class: str = Field(max_length=2)  # A | B | C
    proposed_class: str = Field(max_length=2)  # as the unit submitted it
    title: str = Field(max_length=300)
    body: str = Field(sa_column=Column(Text, nullable=False))
    contact_person: str = Field(max_length=50)
    contact_phone: str = Field(max_length=30)
    signing_unit: str = Field(max_length=100)
    reply_date: date
    # countersigning (会签 by the co-handling units) | submitted | returned | approved
    status: str = Field(default="submitted", max_length=20)
    submitted_by: int = Field(foreign_key="person.id")
    submitted_at: datetime = Field(default_factory=utcnow)
    reviewed_by: int | None = Field(default=None, foreign_key="person.id")
    reviewed_at: datetime | None = None
    review_comment: str | None = Field(default=None, sa_column=Column(Text))


class Countersign(SQLModel, table=True):
    """A co-handling unit's countersignature (会签) on one version of the reply letter:
    awaited (no decision yet), agreed, objected to (with the unit's comment, which returns
    the letter to the lead unit) or deemed agreed when the window ended without one."""

    __tablename__ = "countersign"
    __table_args__ = (UniqueConstraint("reply_id", "assignment_id"),)

    id: int | None = Field(default=None, primary_key=True)
    reply_id: int = Field(foreign_key="reply.id", index=True)
    assignment_id: int = Field(foreign_key="assignment.id", index=True)  # the co-unit's
    unit_id: int = Field(foreign_key="unit.id")
    due_date: date  # the last working day to countersign
    decision: str | None = Field(default=None, max_length=20)  # agreed | objected | deemed
    comment: str | None = Field(default=None, sa_column=Column(Text))
    decided_by: int | None = Field(default=None, foreign_key="person.id")
    decided_at: datetime | None = None


class Rating(SQLModel, table=True):
    """A signer's rating of a delivered reply (满意度测评)."""

    __tablename__ = "rating"
    __table_args__ = (UniqueConstraint("reply_id", "proposal_id", "person_id"),)

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    reply_id: int = Field(foreign_key="reply.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    work_rating: str | None = Field(default=None, max_length=20)  # 办理工作
    result_rating: str | None = Field(default=None, max_length=20)  # 办理结果
    feedback: str | None = Field(default=None, sa_column=Column(Text))
    not_given: bool = Field(default=False)  # the window ended without a rating
    rated_at: datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    """Append-only log of every change; database triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_action_assignment", "action", "assignment_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    action: str = Field(max_length=40)
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id", index=True)
    assignment_id: int | None = Field(default=None, foreign_key="assignment.id")
    from_status: str | None = Field(default=None, max_length=30)
    to_status: str | None = Field(default=None, max_length=30)
    detail: dict | None = Field(default=None, sa_column=Column(JSON))


class Notice(SQLModel, table=True):
    """Outbox: a push to one person, written in the transaction that caused it."""

    __tablename__ = "notice"
    __table_args__ = (
        Index("ix_notice_state_not_before", "state", "not_before"),
        # Only the parked notices, by person: whether someone reachable has any (the
        # dispatcher's round of parking) without reading them all.
        Index(
            "ix_notice_parked",
            "person_id",
            sqlite_where=sa_text("state = 'parked'"),
            postgresql_where=sa_text("state = 'parked'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    kind: str = Field(max_length=40)
    text: str = Field(sa_column=Column(Text, nullable=False))  # in Chinese
    # The text to say in the recipient's language (workflow.texts.Text.to_json()); None on
    # notices written before it was kept: they are said as ``text``.
    message: dict | None = Field(default=None, sa_column=Column(JSON))
    # [{"label": "满意", "payload": "rate:12:satisfied:30"}, ...]; labels are message ids
    actions: list | None = Field(default=None, sa_column=Column(JSON))
    idempotency_key: str = Field(max_length=200, unique=True)
    not_before: datetime = Field(default_factory=utcnow)
    urgent: bool = Field(default=False)
    # pending|parked (no account reaches the person: workflow.reach)|sending|sent|failed|cancelled
    state: str = Field(default="pending", max_length=20)
    attempts: int = Field(default=0)
    # A text too long for one message goes out as several: how many have arrived, counted
    # after each but the last (which makes the notice sent), so a retry resumes after them.
    parts_sent: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class Conversation(SQLModel, table=True):
    """Where one chat account is in its conversation: flow, step and the data gathered.

    Written in the same transaction as whatever the step changed, so a restart resumes at
    the same step with nothing lost. ``version`` grows with every handled event; buttons
    carry it, so a button from an earlier prompt is recognised as stale.
    """

    __tablename__ = "conversation"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    external_id: str = Field(max_length=100)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    flow: str | None = Field(default=None, max_length=40)
    step: str | None = Field(default=None, max_length=40)
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    version: int = Field(default=0)
    updated_at: datetime = Field(default_factory=utcnow)


class InboundUpdate(SQLModel, table=True):
    """An update from a chat platform, stored before the platform is told it arrived.

    Telegram forgets an update once it is confirmed, and the WeChat puppet service emits a
    message once; keeping it here first means an update whose handling a crash interrupts
    is handled again on restart (``storage.inbound``). It is kept done by the
    transaction that applies its effects (inserted then, or marked done if it was stored
    pending first), so it is never applied twice or by halves.
    """

    __tablename__ = "inbound_update"
    __table_args__ = (
        UniqueConstraint("channel", "external_key"),
        Index("ix_inbound_update_channel_state", "channel", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=20)
    external_key: str = Field(max_length=100)  # e.g. "<bot id>:<update id>"
    payload: dict = Field(sa_column=Column(JSON, nullable=False))
    state: str = Field(default="pending", max_length=20)  # pending|done|failed
    attempts: int = Field(default=0)
    received_at: datetime = Field(default_factory=utcnow)
    done_at: datetime | None = None
