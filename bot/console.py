"""The console channel: a terminal chat as one roster person, with no chat account.

Choices are numbered lines: reply with the number or the label. Notices for the person are
shown as they are dispatched; their buttons are ``a1``, ``a2``… Type ``/file PATH`` to upload
a file and ``/quit`` (or Ctrl-D) to leave.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from bot.app import App
from bot.outbox import claim_for_person, render_notice
from handlers.engine import Engine
from handlers.messages import Event, FileIn, FileOut, Out, Sender, render_numbered
from storage.models import Person, pk
from workflow.invites import bind_account

CHANNEL = "console"
log = logging.getLogger(__name__)


class ConsoleChat:
    def __init__(self, app: App, engine: Engine, person: Person, console: Console) -> None:
        self.app = app
        self.engine = engine
        self.person = person
        self.console = console
        self.sender = Sender(CHANNEL, f"console-{person.id}", person.name)
        self.actions: dict[str, str] = {}
        self.lock = threading.Lock()
        with app.db.session() as session:
            bind_account(
                app.workflow.ctx(session, None), pk(person), CHANNEL, self.sender.external_id
            )

    def show(self, outs: list[Out]) -> None:
        with self.lock:
            for out in outs:
                self.console.print(render_numbered(out), markup=False, highlight=False)
                if out.file is not None:
                    path = self.save(out.file)
                    self.console.print(f"📎 {path}", markup=False, highlight=False)
                self.console.print()

    def save(self, file: FileOut) -> Path:
        """A file the bot sends is saved under ``<data dir>/exports``; never overwritten."""
        folder = self.app.settings.data_dir / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        name = Path(file.name).name or "file"
        path, n = folder / name, 1
        while path.exists():
            n += 1
            path = folder / f"{Path(name).stem}-{n}{Path(name).suffix}"
        path.write_bytes(file.data)
        return path

    def dispatch_notices(self) -> int:
        """Show the person's pending notices in their language, marking them sent; returns
        how many.

        They are shown before the claim commits: a crash in between shows them again
        rather than losing them.
        """
        with self.app.db.session() as session, self.lock:
            person = session.get(Person, self.person.id)
            locale = person.locale if person is not None else self.person.locale
            notices = claim_for_person(session, pk(self.person), self.app.workflow.clock())
            for notice in notices:
                text, actions = render_notice(notice, locale)
                self.console.print(f"🔔 {text}", markup=False, highlight=False)
                for action in actions:
                    key = f"a{len(self.actions) + 1}"
                    self.actions[key] = action["payload"]
                    self.console.print(f"   {key}. {action['label']}", markup=False)
                self.console.print()
            return len(notices)

    def event_for(self, line: str) -> Event | None:
        text = line.strip()
        if text in self.actions:
            return Event(kind="choice", payload=self.actions[text])
        if text == "/file" or text.startswith("/file "):
            typed = text[6:].strip()
            if not typed:
                self.console.print(
                    "请在 /file 后写上要上传的文件路径，例如：/file ~/材料/调研报告.pdf"
                )
                return None
            path = Path(typed).expanduser()
            if path.is_dir():
                self.console.print(f"这是一个文件夹，不是文件：{path}")
                return None
            if not path.is_file():
                self.console.print(f"找不到文件：{path}")
                return None
            try:
                data = path.read_bytes()
            except OSError as exc:  # no permission, a device that cannot be read…
                self.console.print(f"无法读取文件：{path}（{exc.strerror or exc}）")
                return None
            return Event(kind="file", file=FileIn(path.name, data))
        return Event.of_text(line.rstrip("\n"), numbered=True)

    def send(self, event: Event) -> None:
        try:
            outs = self.engine.handle(self.sender, event)
        except Exception as exc:  # the database failed; the transaction applied nothing
            log.debug("an event could not be handled", exc_info=True)
            log.warning("an event could not be handled: %s", exc)
            self.console.print("暂时无法处理这条消息，没有做任何更改，请稍后重试。")
            return
        self.show(outs)
        self.dispatch_notices()

    def run(self, read: Callable[[], str], poll_seconds: float = 1.0) -> None:
        stop = threading.Event()

        def poll() -> None:
            while not stop.wait(poll_seconds):
                self.dispatch_notices()

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        self.console.print(
            f"以 {self.person.name} 的身份进入对话。回复编号或文字；/file 路径 上传文件；/quit 退出。\n"
        )
        self.dispatch_notices()
        self.send(Event.of_text("/menu"))
        try:
            while True:
                try:
                    line = read()
                except EOFError:
                    break
                if line.strip() in ("/quit", "/exit"):
                    break
                event = self.event_for(line)
                if event is not None:
                    self.send(event)
        finally:
            stop.set()
            poller.join(timeout=poll_seconds + 1)
