"""The public surface of agents/ is exactly its sorted __all__."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from fnforge import agents


def test_all_does_list_sorted_public_names() -> None:
    public = sorted(n for n in vars(agents) if not n.startswith("_") and n != "annotations")
    assert agents.__all__ == sorted(agents.__all__) == public


def test_openai_is_imported_only_by_client_module() -> None:
    importers = set()
    for path in sorted(Path(agents.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "openai" or n.startswith("openai.") for n in names):
                importers.add(path.name)
    assert importers == {"_client.py"}


def test_agents_does_not_read_environment() -> None:
    package = Path(agents.__file__).parent
    readers = [p.name for p in package.glob("*.py") if re.search(r"os\.environ|getenv\(", p.read_text())]
    assert readers == []
