"""Who a step's turn is for, typed: the person is there in flows, commands and actions.

The engine runs them only for a bound, active person (an unbound sender reaches
``Engine.unbound`` alone).
"""

from __future__ import annotations

from handlers.engine import Turn
from storage.models import Person, pk


def me(turn: Turn) -> Person:
    """The person the turn is for, in a flow, command or action (never unbound there)."""
    assert turn.person is not None, "flows, commands and actions run for bound people only"
    return turn.person


def my_id(turn: Turn) -> int:
    return pk(me(turn))


def resume(turn: Turn) -> None:
    """After a global action (a notice's button): ask the person's current question again,
    or show the menu outside a flow."""
    flow = turn.engine.flows.get(turn.conv.flow or "")
    if flow is None or turn.conv.step not in flow.steps:
        turn.engine.menu(turn)
        return
    turn.engine.prompt(turn)
