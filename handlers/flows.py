"""Every flow the bot runs, installed on an engine in one place.

Each module of this package that defines ``install(engine)`` adds its flows, commands and
notice actions; ``home`` comes first (the menu and binding), the others in name order.
"""

from __future__ import annotations

import importlib
import pkgutil

import handlers
from handlers.engine import Engine
from storage.db import Database
from storage.files import AttachmentStore
from workflow.core import Workflow

NOT_FLOWS = {"diagrams", "engine", "flows", "i18n", "messages"}


def flow_modules() -> list:
    names = sorted(
        m.name for m in pkgutil.iter_modules(handlers.__path__) if m.name not in NOT_FLOWS
    )
    names.sort(key=lambda n: n != "home")
    modules = [importlib.import_module(f"handlers.{name}") for name in names]
    return [m for m in modules if hasattr(m, "install")]


def build_engine(db: Database, workflow: Workflow, store: AttachmentStore) -> Engine:
    engine = Engine(db, workflow, store)
    for module in flow_modules():
        module.install(engine)
    return engine
