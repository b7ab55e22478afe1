"""Mermaid diagrams of the flows, drawn from their declared edges.

Each flow module ``handlers/<name>.py`` keeps ``handlers/<name>.mmd`` beside it; a test
checks that the file matches the edges. ``python -m handlers.diagrams`` rewrites them.
"""

from __future__ import annotations

from pathlib import Path

from handlers.engine import Engine


def module_diagram(module) -> str:
    engine = Engine(None, None, None)  # type: ignore[arg-type]  # only collects the flows
    module.install(engine)
    parts = [f"%% flow: {flow.name}\n{flow.mermaid()}" for flow in engine.flows.values()]
    return "\n".join(parts)


def diagram_path(module) -> Path:
    return Path(module.__file__).with_suffix(".mmd")


def main() -> None:  # pragma: no cover - a developer's tool
    from handlers.flows import flow_modules

    for module in flow_modules():
        diagram_path(module).write_text(module_diagram(module), encoding="utf-8")
        print(diagram_path(module))


if __name__ == "__main__":  # pragma: no cover
    main()
