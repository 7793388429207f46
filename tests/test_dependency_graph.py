"""The packages import each other only along the graph docs/design.md draws (section "Dependency graph")."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"functions": "functions", "registry": "registry", "sandbox": "sandbox", "tasks": "tasks",
           "agents": "agents", "optimizer": "optimizer", "cli": "fnforge/cli"}


def documented_graph() -> dict[str, set[str]]:
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    section = text.split("## Dependency graph", 1)[1]
    block = re.search(r"```text\n(.*?)```", section, flags=re.S)
    assert block is not None, "docs/design.md: the Dependency graph section has no ```text block"
    graph = {}
    for line in block.group(1).splitlines():
        source, targets = (part.strip() for part in line.split("->"))
        graph[source] = set() if targets == "(nothing)" else {t.strip() for t in targets.split(",")}
    return graph


def _files(package: str) -> list[Path]:
    if package == "fnforge":
        return [ROOT / "fnforge" / "__init__.py"]
    return sorted((ROOT / FOLDERS[package]).rglob("*.py"))


def _imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            if node.module == "fnforge":
                names += [f"fnforge.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return [n for n in names if n.startswith("fnforge.")]


def _package_of(module: str) -> str:
    parts = module.split(".")
    return "cli" if parts[1] == "cli" else parts[1]


def actual_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for package in [*FOLDERS, "fnforge"]:
        targets = {_package_of(m) for path in _files(package) for m in _imported_modules(path)}
        graph[package] = {t for t in targets if t in FOLDERS and t != package}
    return graph


def test_imports_follow_the_documented_dependency_graph() -> None:
    assert actual_graph() == documented_graph()


def test_no_package_imports_another_packages_private_modules() -> None:
    reaches = [f"{path.relative_to(ROOT)}: {module}"
               for package in FOLDERS for path in _files(package) for module in _imported_modules(path)
               if _package_of(module) != package and any(p.startswith("_") for p in module.split(".")[2:])]
    assert not reaches, "\n".join(reaches)
