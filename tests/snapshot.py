"""A picture of the whole database, to prove that a refused call changed nothing."""

from __future__ import annotations

import re

from storage.models import SQLModel

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def snapshot(db) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order, read as committed."""
    tables: dict[str, list[tuple]] = {}
    with db.read_engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = conn.execute(table.select().order_by(*table.primary_key.columns)).all()
            tables[table.name] = [tuple(row) for row in rows]
    return tables


def counts(shot: dict[str, list[tuple]]) -> dict[str, int]:
    return {name: len(rows) for name, rows in shot.items()}


def assert_unchanged(db, before: dict[str, list[tuple]]) -> None:
    """The database holds exactly what it held in ``before``: same counts, same rows."""
    after = snapshot(db)
    assert counts(after) == counts(before), "row counts changed"
    changed = [name for name in before if before[name] != after[name]]
    assert not changed, f"rows changed in: {', '.join(changed)}"


def shot(db) -> dict[str, list[tuple]]:
    """Every row except the conversation state (which changes with every event)."""
    rows = snapshot(db)
    rows.pop("conversation")
    return rows


def assert_same(db, before: dict[str, list[tuple]]) -> None:
    """Nothing but the conversation state changed since ``before`` (a ``shot``)."""
    after = shot(db)
    changed = [name for name in before if before[name] != after[name]]
    assert not changed, f"rows changed in: {', '.join(changed)}"


def is_chinese(message: str) -> bool:
    return bool(CHINESE.search(message))
