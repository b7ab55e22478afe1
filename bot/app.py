"""The composition root: settings, database and workflow built once and passed down."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from bot.settings import Settings
from handlers.engine import Engine
from storage.db import Database
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
        current = current_revision(self.db.engine)
        if current is None:
            raise NotInitialised("数据库尚未初始化，请先运行 proposalbot init。")
        if current != head_revision():
            raise NotInitialised("数据库结构不是最新版本，请先运行 proposalbot init 升级。")


def build_app(settings: Settings | None = None) -> App:
    settings = settings or Settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return App(
        settings=settings,
        db=Database(settings.database_url),
        workflow=Workflow(rules=settings.rules()),
        store=AttachmentStore(settings.data_dir / "attachments"),
    )
