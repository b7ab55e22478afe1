"""Where an update's time goes: CPU seconds spent in the product's main steps, measured by
wrapping them for the duration of a measurement (``time.thread_time`` around each call, so a
thread waiting for a lock or for the database server costs nothing), and the process's CPU
time over the same span."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass
class Costs:
    cpu: dict[str, float] = field(default_factory=dict)  # step → CPU seconds
    wall: dict[str, float] = field(default_factory=dict)  # step → seconds from call to return
    calls: dict[str, int] = field(default_factory=dict)
    process_cpu: float = 0.0
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, cpu: float, wall: float) -> None:
        with self._lock:
            self.cpu[name] = self.cpu.get(name, 0.0) + cpu
            self.wall[name] = self.wall.get(name, 0.0) + wall
            self.calls[name] = self.calls.get(name, 0) + 1


# (label, module, attribute path): the steps whose cost is counted. A label starting with
# NESTED is a part of the step above it.
NESTED = "↳ "
STEPS = [
    ("engine: the update's transaction (engine.handle)", "handlers.engine", "Engine.handle"),
    (f"{NESTED}similar-proposal check, inside it", "handlers.similar", "similar_proposals"),
    (
        "durable intake: storing updates still being handled at the next fetch (inbox.store_many)",
        "bot.telegram.inbox",
        "store_many",
    ),
    (
        "dispatcher: claim (a read, then a write transaction when something is due)",
        "bot.dispatcher",
        "Dispatcher.claim",
    ),
    ("dispatcher: settle", "bot.dispatcher", "Dispatcher.settle_sent"),
]


def _wrap(costs: Costs, name: str, fn: Callable) -> Callable:
    def wrapped(*args, **kwargs):
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            costs.add(name, time.thread_time() - cpu, time.perf_counter() - wall)

    wrapped.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapped


@contextlib.contextmanager
def counting() -> Iterator[Costs]:
    """Count the steps' costs inside the block (the product's functions are put back after)."""
    import importlib

    costs = Costs()
    undo = []
    importlib.import_module("handlers.flows")  # every flow module, with what it imported
    for name, module_name, path in STEPS:
        module = importlib.import_module(module_name)
        owner, _, attr = path.rpartition(".")
        target = getattr(module, owner) if owner else module
        original = getattr(target, attr)
        wrapped = _wrap(costs, name, original)
        # A function imported by name elsewhere (``from m import f``) is replaced there too.
        holders = [target]
        if not owner:
            holders += [
                m
                for m in list(sys.modules.values())
                if m is not module and getattr(m, attr, None) is original
            ]
        for holder in holders:
            setattr(holder, attr, wrapped)
            undo.append((holder, attr, original))
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        yield costs
    finally:
        costs.process_cpu = time.process_time() - cpu
        costs.seconds = time.perf_counter() - wall
        for target, attr, original in reversed(undo):
            setattr(target, attr, original)
