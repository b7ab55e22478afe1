"""The conversation engine: one incoming event, one transaction, one step of one flow.

A flow is declared once: its steps (what each asks and how it takes each kind of input) and
its edges (step, outcome) -> next step. A step's handler returns an outcome; the engine
follows the edge and asks the next step's question. The engine itself answers /cancel,
/help and /menu from any step, re-asks with a hint when the input is of the wrong kind,
refuses stale and forged buttons, and turns every refusal of the workflow into a clear
answer with nothing changed.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from handlers.i18n import N_, gettext
from handlers.messages import (
    CAPTION_MAX,
    PAYLOAD_MAX_BYTES,
    Choice,
    Event,
    FileOut,
    Out,
    Sender,
    split_text,
)
from storage.clock import utcnow
from storage.db import Database
from storage.files import AttachmentStore
from storage.models import ChannelAccount, Conversation, Person, attached, held, table_of
from workflow.core import Ctx, Workflow, local_time
from workflow.errors import WorkflowError
from workflow.numbering import number_text
from workflow.reach import KNOWN_REACHABLE
from workflow.roles import Role
from workflow.texts import LIST_SEPARATORS, Text, date_text, time_text

log = logging.getLogger(__name__)

END = "END"  # an edge that ends the flow
TEXT_MAX = 10_000  # longest text the engine passes on to a step

Handler = Callable[..., str | None]

# Built once: every event runs them, and SQLAlchemy reuses a statement object's compiled form
# without building the expression again.
_conversations = table_of(Conversation).c
_accounts = table_of(ChannelAccount).c
_PERSON_KEYS = [column.key for column in table_of(Person).c]  # named as the model's
# The conversation, locked, and the person the account belongs to: a statement on the
# session's connection, the person's columns made into the object the ORM would have loaded
# (``storage.models.attached``) at a third of what loading it through the session costs.
_CONVERSATION = (
    select(
        _conversations.id,
        _conversations.flow,
        _conversations.step,
        _conversations.data,
        _conversations.version,
        _accounts.unreachable,
        *table_of(Person).c,  # read by place: the names repeat the conversation's
    )
    .select_from(
        table_of(Conversation)
        .outerjoin(
            table_of(ChannelAccount),
            and_(
                _accounts.channel == _conversations.channel,
                _accounts.external_id == _conversations.external_id,
            ),
        )
        .outerjoin(table_of(Person), table_of(Person).c.id == _accounts.person_id)
    )
    .where(_conversations.channel == bindparam("channel"))
    .where(_conversations.external_id == bindparam("external_id"))
    .with_for_update(of=table_of(Conversation))
)
_NEW_CONVERSATION = insert(table_of(Conversation)).values(
    channel=bindparam("channel"),
    external_id=bindparam("external_id"),
    data={},
    version=0,
    updated_at=bindparam("now"),
)
_WRITE_CONVERSATION = (
    update(table_of(Conversation))
    .where(_conversations.id == bindparam("conv_id"))
    .values(
        person_id=bindparam("new_person_id"),
        flow=bindparam("new_flow"),
        step=bindparam("new_step"),
        data=bindparam("new_data"),
        version=bindparam("new_version"),
        updated_at=bindparam("new_updated_at"),
    )
)


@dataclass
class Step:
    """One question of a flow and how it takes each kind of input.

    Each handler returns an outcome (looked up in the flow's edges) or None to stay on the
    step without asking again (it said what it had to say).
    """

    prompt: Callable[[Turn], None]
    text: Handler | None = None  # (turn, text)
    choice: Handler | None = None  # (turn, value)
    file: Handler | None = None  # (turn, FileIn)
    contact: Handler | None = None  # (turn, phone, is_self)
    hint: str = N_("请按提示回复。")  # said (translated) when the input is of the wrong kind


@dataclass
class Flow:
    name: str
    start: str
    steps: dict[str, Step]
    edges: dict[tuple[str, str], str]
    roles: frozenset[Role] | None = None  # who may start it; None: anyone bound
    # what /cancel says on leaving it (a message id): drafts are named only by flows that keep
    # them
    cancelled: str = N_("已取消。")

    def next_step(self, step: str, outcome: str) -> str:
        try:
            return self.edges[(step, outcome)]
        except KeyError:
            raise KeyError(f"flow {self.name}: no edge from {step!r} on {outcome!r}") from None

    def mermaid(self) -> str:
        """The flow drawn as a Mermaid state diagram, from the edges themselves."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.start}"]
        for (source, outcome), target in self.edges.items():
            target = "[*]" if target == END else target
            lines.append(f"    {source} --> {target}: {outcome}")
        return "\n".join(lines) + "\n"


@dataclass
class Turn:
    """Everything a step handler needs for the event it is handling."""

    engine: Engine
    session: Session
    conv: ConversationState
    person: Person | None
    ctx: Ctx
    out: list[Out] = field(default_factory=list)
    # What a step worked out and the next step's question asks again within the same event
    # (never stored: it ends with the event).
    scratch: dict = field(default_factory=dict)
    # The person the account is bound to, when they have been deactivated: ``person`` is
    # None then, and they are told so in their language (never asked for an invite code).
    deactivated: Person | None = None
    # What ``say_read`` and ``send_file_read`` are to say once the event has committed: (its
    # place in ``out``, what reads it).
    reads: list[tuple[Out, Callable[[Ctx], list[Out]]]] = field(default_factory=list)

    # ------------------------------------------------------------- state
    @property
    def data(self) -> dict:
        return self.conv.data

    @property
    def keep(self) -> dict:
        """Data that outlives the flow: drafts a person may leave and come back to."""
        return self.conv.data.setdefault("_keep", {})

    def _kept(self) -> dict:
        keep = self.conv.data.get("_keep")
        return {"_keep": keep} if keep else {}

    @property
    def locale(self) -> str:
        person = self.person or self.deactivated
        return person.locale if person else "zh"

    @property
    def store(self) -> AttachmentStore:
        return self.engine.store

    def has_role(self, role: Role) -> bool:
        return self.person is not None and role.value in self.person.role_set

    # ------------------------------------------------------------- saying
    def t(self, message: str | Text, **params) -> str:
        """A text in the person's language: a message id and its params, or a workflow Text
        (a refusal's ``exc.text``, a label from workflow's tables)."""
        if isinstance(message, Text):
            return message.render(self.gettext, self.locale)
        return gettext(self.locale, message, **params)

    def gettext(self, message: str) -> str:
        """One message id in the person's language, unformatted (see workflow.texts)."""
        return gettext(self.locale, message)

    def number(self, year: int, number: int | None) -> str:
        """A proposal number, with its year as numbers restart every year, as the person
        reads it: 2026年度第28号, No. 28 of 2026 (未编号 without one)."""
        return self.t(number_text(year, number))

    def date(self, day: date | None) -> str:
        """A day as the person reads it: 2026年9月14日, 14 Sep 2026 ("" for None)."""
        return date_text(day, self.locale)

    def time(self, moment: datetime | None) -> str:
        """A stored moment in local time as the person reads it: 2026年9月14日 09:30,
        14 Sep 2026 09:30 ("" for None)."""
        return time_text(local_time(self.ctx, moment), self.locale)

    def join(self, items: Iterable[str]) -> str:
        """Names in a row as the person reads them: 区教育局、区卫健委 or 区教育局, 区卫健委."""
        return LIST_SEPARATORS.get(self.locale, ", ").join(items)

    def say(
        self,
        text: str,
        choices: Iterable[Choice] = (),
        *,
        expects: str | None = None,
        columns: int = 1,
    ) -> None:
        choices = list(choices)
        self.out.extend(_outs(text, choices, expects=expects, columns=columns))
        step_choices = [c for c in choices if "|" in c.payload]
        if step_choices:
            offered = self.data.setdefault("_offered", [])
            offered.extend([c.label, c.payload.split("|", 1)[1]] for c in step_choices)

    def say_read(self, compose: Callable[[Ctx], str]) -> None:
        """Say, here among what the step says, what ``compose`` reads: a heavy report that
        changes nothing (a year's statistics, its ledger). It runs once the event's transaction has
        committed, in a read transaction of its own with a context of the same person and
        moment: on SQLite an update holds the one writer's lock from its first statement,
        and everyone's updates would wait for the report. What the event changes (the
        conversation moving on) still commits as one; the report reads the database as it
        is then. A refusal it raises is said in its place."""
        self._read_later(lambda ctx: _outs(compose(ctx), [], expects=None))

    def send_file(self, file: FileOut, caption: str) -> None:
        """Send a file (an export) with a short caption."""
        self.out.append(_file_out(file, caption))

    def send_file_read(self, compose: Callable[[Ctx], tuple[FileOut, str]]) -> None:
        """Send the file (and its caption) ``compose`` reads, read as ``say_read`` reads."""
        self._read_later(lambda ctx: [_file_out(*compose(ctx))])

    def _read_later(self, read: Callable[[Ctx], list[Out]]) -> None:
        placeholder = Out(text="", expects="none")
        self.out.append(placeholder)
        self.reads.append((placeholder, read))

    def choice(self, label: str, value: str) -> Choice:
        """A button for the step now being asked; its payload carries the state version."""
        payload = f"{self.conv.version}|{value}"
        if len(payload.encode()) > PAYLOAD_MAX_BYTES:
            raise ValueError(f"choice payload too long: {payload!r}")
        return Choice(label=label, payload=payload)

    # ------------------------------------------------------------- moving
    def start(self, flow: str, data: dict | None = None, step: str | None = None) -> None:
        """Leave the current flow and begin ``flow`` (its first step unless ``step``)."""
        target = self.engine.flows[flow]
        self.conv.flow = flow
        self.conv.step = step or target.start
        self.conv.data = {**(data or {}), **self._kept()}
        self.engine.prompt(self)

    def finish(self) -> None:
        """Leave the flow; the person is back at the menu."""
        self.conv.flow = None
        self.conv.step = None
        self.conv.data = self._kept()


@dataclass
class ConversationState:
    """One person's conversation on one channel, as a step sees and changes it: read at the
    start of an event (its row locked) and written back once at the end, with the new
    version. A plain object, not one the ORM tracks: nothing of it is flushed halfway."""

    id: int
    channel: str
    external_id: str
    person_id: int | None
    flow: str | None
    step: str | None
    data: dict
    version: int


class Engine:
    """Runs flows for people on every channel; synchronous, one event per call."""

    def __init__(self, db: Database, workflow: Workflow, store: AttachmentStore) -> None:
        self.db = db
        self.workflow = workflow
        self.store = store
        self.flows: dict[str, Flow] = {}
        self.actions: dict[str, Callable[[Turn, list[str]], None]] = {}
        self.commands: dict[str, Callable[[Turn, str], None]] = {}
        self.menu: Callable[[Turn], None] = lambda turn: turn.say(turn.t("请选择要办理的事项。"))
        self.unbound: Callable[[Turn, Event], None] = lambda turn, event: turn.say(
            turn.t("请先绑定账号。")
        )

    # ------------------------------------------------------------- registration
    def add_flow(self, flow: Flow) -> None:
        for (source, _outcome), target in flow.edges.items():
            assert source in flow.steps, (flow.name, source)
            assert target == END or target in flow.steps, (flow.name, target)
        self.flows[flow.name] = flow

    def add_action(self, prefix: str, handler: Callable[[Turn, list[str]], None]) -> None:
        """A global button (carried by notices): ``prefix:arg:arg``, valid at any step."""
        self.actions[prefix] = handler

    def add_command(self, name: str, handler: Callable[[Turn, str], None]) -> None:
        self.commands[name] = handler

    def takes_text(self, flow: str | None, step: str | None) -> bool:
        """Whether a conversation at this step takes free text (a title, a reply…)."""
        found = self.flows.get(flow or "")
        return found is not None and step in found.steps and found.steps[step].text is not None

    # ------------------------------------------------------------- handling
    def handle(
        self,
        sender: Sender,
        event: Event,
        *,
        within: Callable[[Session, Person | None], None] | None = None,
    ) -> list[Out]:
        """Handle one event in one transaction; returns what to send back.

        ``within`` runs last inside that transaction: a channel records there that the
        update is done, so the update and its effects commit together or not at all. If it
        raises, nothing of the event is kept.
        """
        if "\x00" in event.text:  # no database stores it, and no one means to type it
            event = dataclasses.replace(event, text=event.text.replace("\x00", ""))
        with self.db.session() as session:
            turn, offered = self._turn(session, sender)
            try:
                self._dispatch(turn, event, offered)
            except WorkflowError as exc:
                # The refusal changes nothing, except what it says must be kept.
                turn = self._undo(session, sender, turn, keep=getattr(exc, "commit_anyway", False))
                turn.say(turn.t(exc.text), expects="none")
                self._recover(turn)
            except Exception:
                log.exception("a step failed; its changes are rolled back")
                turn = self._undo(session, sender, turn, keep=False)
                turn.say(
                    turn.t("抱歉，处理时出了问题，已撤销这一步。请重试，或发送 /menu 返回菜单。")
                )
                self._recover(turn)
            self._write(session, turn.conv)
            if within is not None:
                within(session, turn.person)
        self._read(turn)
        return turn.out

    def _read(self, turn: Turn) -> None:
        """What the turn's ``say_read`` asked for, read now that its transaction is over."""
        for placeholder, read in turn.reads:
            with self.db.read_session() as session:
                ctx = dataclasses.replace(turn.ctx, session=session)
                try:
                    outs = read(ctx)
                except WorkflowError as exc:
                    outs = _outs(turn.t(exc.text), [], expects=None)
                except Exception:
                    log.exception("a report failed to be read")
                    outs = _outs(turn.t("抱歉，读取时出了问题，请稍后重试。"), [], expects=None)
            at = next(i for i, out in enumerate(turn.out) if out is placeholder)
            turn.out[at : at + 1] = outs
        turn.reads.clear()

    def _turn(self, session: Session, sender: Sender) -> tuple[Turn, list]:
        """The sender's conversation (locked) and who they are; (the turn, the choices the
        last answer offered).

        What the step changes in the conversation is kept in memory and written once, by
        ``_write``, with the new version; the session's flushes before the step's queries
        never write it halfway.
        """
        conv, person = self._conversation(session, sender)
        deactivated = person if person is not None and not person.active else None
        person = None if deactivated else person
        conv.person_id = person.id if person else None
        conv.version += 1
        offered = conv.data.pop("_offered", [])
        ctx = self.workflow.ctx(session, person)
        return Turn(self, session, conv, person, ctx, deactivated=deactivated), offered

    def _undo(self, session: Session, sender: Sender, turn: Turn, *, keep: bool) -> Turn:
        """After a refusal or a failure: the turn to answer with, nothing of the step kept
        (the transaction is rolled back and everything read again) unless ``keep``."""
        if keep:
            turn.out.clear()
            turn.reads.clear()
            turn.conv.data.pop("_offered", None)
            return turn
        session.rollback()
        turn, _offered = self._turn(session, sender)
        return turn

    def _write(self, session: Session, conv: ConversationState) -> None:
        session.connection().execute(
            _WRITE_CONVERSATION,
            {
                "conv_id": conv.id,
                "new_person_id": conv.person_id,
                "new_flow": conv.flow,
                "new_step": conv.step,
                "new_data": conv.data,
                "new_version": conv.version,
                "new_updated_at": utcnow(),
            },
        )

    def _recover(self, turn: Turn) -> None:
        """Ask the current question again after a refusal; never let that fail the event."""
        nested = turn.session.begin_nested()
        try:
            self._reprompt(turn)
            nested.commit()
        except Exception:
            log.exception("could not ask the current step again; back to the menu")
            nested.rollback()
            turn.session.expire_all()
            turn.finish()  # back to the menu; kept drafts stay

    def _conversation(
        self, session: Session, sender: Sender
    ) -> tuple[ConversationState, Person | None]:
        params = {"channel": sender.channel, "external_id": sender.external_id}
        row = session.connection().execute(_CONVERSATION, params).first()
        if row is None:
            try:  # a first event; another process may be creating the same row right now
                with session.begin_nested():
                    session.execute(_NEW_CONVERSATION, {**params, "now": utcnow()})
            except IntegrityError:
                pass
            row = session.connection().execute(_CONVERSATION, params).one()
        conv_id, flow, step, data, version, unreachable, person_id = row[:7]
        person: Person | None = None
        if person_id is not None:
            person = (
                session.get(Person, person_id)  # read again after a rollback: the same object
                if held(session, Person, person_id)
                else attached(session, Person, dict(zip(_PERSON_KEYS, row[6:], strict=True)))
            )
        if unreachable is False:  # read in this transaction: nothing to make reachable again
            session.info[KNOWN_REACHABLE] = (sender.channel, sender.external_id)
        else:
            session.info.pop(KNOWN_REACHABLE, None)
        state = ConversationState(
            conv_id,
            sender.channel,
            sender.external_id,
            None,
            flow,
            step,
            dict(data or {}),
            version,
        )
        return state, person

    def _dispatch(self, turn: Turn, event: Event, offered: list) -> None:
        if event.kind == "text":
            text = event.text.strip()
            if len(text) > TEXT_MAX:
                turn.say(
                    turn.t(
                        "消息太长了（{n} 字），请分几条发送，每条不超过 {max} 字。",
                        n=len(text),
                        max=TEXT_MAX,
                    )
                )
                self._reprompt(turn)
                return
            if event.numbered and offered:
                picked = _pick(text, offered)
                if picked is not None:
                    event = Event(kind="choice", payload=f"{turn.conv.version - 1}|{picked}")
        if turn.deactivated is not None:
            # Their conversation and drafts are kept as they were, for if they come back.
            turn.say(
                turn.t("您的账号已停用，不能再通过提案通办理事项。如有疑问，请联系提案委。"),
                expects="none",
            )
            return
        if turn.person is None:
            self.unbound(turn, event)
            return
        if event.kind == "command":
            self._command(turn, *event.command)
            return
        if event.kind == "choice" and "|" not in event.payload:
            self._action(turn, event.payload)
            return
        flow = self.flows.get(turn.conv.flow or "")
        if flow is None or turn.conv.step not in flow.steps:
            if event.kind == "choice":
                self._stale(turn)
                return
            self.menu(turn)
            return
        step = flow.steps[turn.conv.step]
        if event.kind == "choice":
            version, _, value = event.payload.partition("|")
            if version != str(turn.conv.version - 1):
                self._stale(turn)
                return
            if not any(value == v for _label, v in offered):
                turn.say(turn.t("这个选项无效，没有做任何更改。"))
                self._reprompt(turn)
                return
            if step.choice is None:
                self._wrong_kind(turn, step)
                return
            outcome = step.choice(turn, value)
        elif event.kind == "text" and step.text:
            if not event.text.strip():
                turn.say(turn.t("内容不能为空。") + turn.t(step.hint))
                self._reprompt(turn)
                return
            outcome = step.text(turn, event.text.strip())
        elif event.kind == "file" and step.file and event.file is not None:
            outcome = step.file(turn, event.file)
        elif event.kind == "contact" and step.contact:
            outcome = step.contact(turn, event.phone or "", event.contact_is_self)
        else:
            self._wrong_kind(turn, step)
            return
        self._follow(turn, flow, outcome)

    def _follow(self, turn: Turn, flow: Flow, outcome: str | None) -> None:
        if outcome is None or turn.conv.flow != flow.name or turn.conv.step is None:
            return  # stayed, or the handler moved to another flow itself
        target = flow.next_step(turn.conv.step, outcome)
        if target == END:
            turn.finish()
            self.menu(turn)
            return
        turn.conv.step = target
        self.prompt(turn)

    def prompt(self, turn: Turn) -> None:
        flow, step = turn.conv.flow, turn.conv.step
        if flow is None or step is None:  # not in a flow: nothing to ask
            raise LookupError("the conversation is not at a step")
        self.flows[flow].steps[step].prompt(turn)

    def _reprompt(self, turn: Turn) -> None:
        """Ask the current step's question again (or show the menu outside a flow)."""
        flow = self.flows.get(turn.conv.flow or "")
        if turn.person is None:
            return
        if flow is None or turn.conv.step not in flow.steps:
            self.menu(turn)
            return
        self.prompt(turn)

    def _wrong_kind(self, turn: Turn, step: Step) -> None:
        turn.say(turn.t("这一步需要：") + turn.t(step.hint))
        self.prompt(turn)

    def _stale(self, turn: Turn) -> None:
        turn.say(turn.t("这个按钮已过期，没有做任何更改。当前这一步是："))
        self._reprompt(turn)

    def _command(self, turn: Turn, name: str, args: str) -> None:
        if name == "/cancel":
            had_flow = turn.conv.flow not in (None, "menu")  # the menu is no step to leave
            left = self.flows.get(turn.conv.flow or "")
            turn.finish()
            turn.say(
                turn.t(left.cancelled if left is not None else N_("已取消。"))
                if had_flow
                else turn.t("当前没有进行中的操作。")
            )
            self.menu(turn)
            return
        if name == "/menu":
            turn.finish()
            self.menu(turn)
            return
        if name == "/help":
            flow = self.flows.get(turn.conv.flow or "")
            if flow is not None and turn.conv.step in flow.steps:
                turn.say(
                    turn.t(flow.steps[turn.conv.step].hint)
                    + "\n"
                    + turn.t("发送 /cancel 取消当前操作，/menu 返回菜单。")
                )
                self.prompt(turn)
                return
            self.commands.get("/help", lambda t, a: self.menu(t))(turn, args)
            return
        handler = self.commands.get(name)
        if handler is None:
            turn.say(turn.t("没有这个命令。发送 /help 查看可用的命令。"))
            self._reprompt(turn)
            return
        handler(turn, args)

    def _action(self, turn: Turn, payload: str) -> None:
        prefix, *args = payload.split(":")
        handler = self.actions.get(prefix)
        if handler is None or not all(args):
            turn.say(turn.t("无法识别这个操作，没有做任何更改。"))
            self._reprompt(turn)
            return
        handler(turn, args)


def _outs(text: str, choices: list[Choice], *, expects: str | None, columns: int = 1) -> list[Out]:
    """A text as the messages that say it: split where too long, the choices on the last."""
    *parts, last = split_text(text)
    return [Out(text=part, expects="none", continued=True) for part in parts] + [
        Out(
            text=last,
            choices=choices,
            expects=expects or ("choice" if choices else "text"),
            columns=columns,
        )
    ]


def _file_out(file: FileOut, caption: str) -> Out:
    return Out(text=caption[:CAPTION_MAX], expects="none", file=file)


def _bare(label: str) -> str:
    """A choice's words as a person types them: without a leading emoji or symbol and
    without the details after them (使用我的姓名（高远） → 使用我的姓名, ✏️ 提出修改意见 →
    提出修改意见, B类：所提问题… → B类)."""
    words = unicodedata.normalize("NFKC", label).strip()
    while words and unicodedata.category(words[0])[0] not in "LN":
        words = words[1:]
    return re.split(r"[(:]", words, maxsplit=1)[0].strip()


def _pick(text: str, offered: list) -> str | None:
    """The value of the offered choice a typed text names: its number, its label, or its
    words without their details when only one choice has them."""
    if text.isascii() and text.isdigit() and 1 <= int(text) <= len(offered):  # not ① or ²
        return offered[int(text) - 1][1]
    for label, value in offered:
        if text == label:
            return value
    typed = _bare(text)
    named = [value for label, value in offered if typed and _bare(label) == typed]
    return named[0] if len(named) == 1 else None
