"""The composition root: settings, database and workflow built once and passed down."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from bot.settings import Settings
from handlers.engine import Engine
from storage.db import Database, sqlite_file
from storage.files import AttachmentStore
from storage.migrate import current_revision, head_revision, upgrade
from workflow.core import Workflow
from workflow.errors import WorkflowError


class NotInitialised(WorkflowError):
    code = "not_initialised"


@dataclass
class App:
    settings: Settings
    db: Database
    workflow: Workflow
    store: AttachmentStore

    @functools.cached_property
    def engine(self) -> Engine:
        """The conversation engine with every flow installed."""
        from handlers.flows import build_engine

        return build_engine(self.db, self.workflow, self.store)

    def init_schema(self) -> str | None:
        """Upgrade the database to the newest schema (Alembic); returns the revision."""
        upgrade(self.db.engine)
        return current_revision(self.db.engine)

    def require_schema(self) -> None:
        """Refuse a database that is not at the newest schema. A SQLite file that is not
        there (or empty, as a database is before its first migration) is refused before
        anything connects to it: SQLite would create it, and the folder it is in."""
        path = sqlite_file(self.db.engine.url)
        if path is not None and not path.exists():
            raise NotInitialised(
                "数据库尚未初始化（{path} 不存在），请先运行 proposalbot init。", path=str(path)
            )
        if path is not None and path.is_file() and path.stat().st_size == 0:
            raise NotInitialised(
                "数据库尚未初始化（{path} 是空的），请先运行 proposalbot init。", path=str(path)
            )
        current = current_revision(self.db.engine)
        if current is None:
            raise NotInitialised("数据库尚未初始化，请先运行 proposalbot init。")
        if current != head_revision():
            raise NotInitialised("数据库结构不是最新版本，请先运行 proposalbot init 升级。")


class Redact(logging.Filter):
    """Replaces a secret (the bot token, the puppet service token) wherever it would appear
    in a log line."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, "<token>"), None
        return True


def quiet_libraries(settings: Settings) -> None:
    """Keep secrets and what people send out of the logs.

    httpx logs every request URL, which carries the bot token; python-telegram-bot logs whole
    updates at DEBUG, invite codes and phone numbers included. Wechaty's puppet service
    writes its token into a warning and into the URL it fetches its endpoint from; its
    loggers are the process's once ``bot.wechat`` is imported (``compat.adopt_loggers``).
    """
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    telegram = logging.getLogger("telegram")
    telegram.setLevel(max(logging.INFO, logging.getLogger().getEffectiveLevel()))
    secrets = [settings.telegram_token, settings.wechaty_puppet_service_token]
    for secret in (s.get_secret_value() for s in secrets if s is not None):
        for handler in logging.getLogger().handlers:
            if not any(isinstance(f, Redact) and f.secret == secret for f in handler.filters):
                handler.addFilter(Redact(secret))


def build_app(settings: Settings | None = None) -> App:
    settings = settings or Settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet_libraries(settings)
    return App(
        settings=settings,
        db=Database(settings.database_url),
        workflow=Workflow(rules=settings.rules(), calendar=settings.work_calendar()),
        store=AttachmentStore(settings.data_dir / "attachments"),
    )
