"""Each flow module keeps a Mermaid diagram beside it that matches its declared edges."""

from __future__ import annotations

import pytest

from handlers.diagrams import diagram_path, module_diagram
from handlers.flows import flow_modules


@pytest.mark.parametrize("module", flow_modules(), ids=lambda m: m.__name__)
def test_diagram_matches_the_flow(module):
    path = diagram_path(module)
    assert path.exists(), f"{path.name} is missing; run python -m handlers.diagrams"
    assert path.read_text(encoding="utf-8") == module_diagram(module), (
        f"{path.name} is out of date; run python -m handlers.diagrams"
    )
