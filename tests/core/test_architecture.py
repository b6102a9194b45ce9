"""The package rules of core/ and gui/ (DESIGN.md conventions 1 and 8, issue 9): no Qt in
the engine, no eager heavy imports, dependencies between packages pointing one way, and
no import circle between files, counting the imports made inside functions too."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core"
FORBIDDEN = ("PySide6", "pyqtgraph", "gui", "shiboken6")

# Which engine packages each package may import (itself always). Read as: graph uses
# common; torchbridge uses graph; training uses torchbridge; cli uses everything.
CORE_ALLOWED = {
    "common": set(),
    "graph": {"common"},
    "dataflow": {"common", "graph"},
    "pipeline": {"common"},
    "torchbridge": {"common", "graph"},
    "training": {"common", "graph", "torchbridge"},
    "profiling": {"common", "graph", "torchbridge"},
    "transformer": {"common", "graph", "torchbridge"},
    "cli": {"common", "graph", "dataflow", "pipeline", "torchbridge", "training", "profiling",
            "transformer"},
}
GUI_WORKSPACES = {"design", "training", "dataflow", "pipeline", "profiling", "transformer"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path):
    """Every module ``path`` imports, at the top or inside a function, made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[:len(package) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            yield base
            for alias in node.names:  # "from core.graph import io" imports core.graph.io
                yield f"{base}.{alias.name}"


def project_files(top: str) -> dict[str, Path]:
    return {module_name(p): p for p in (ROOT / top).rglob("*.py")}


def import_graph(top: str) -> dict[str, set[str]]:
    """File → the project files it imports (only modules that exist as files)."""
    files = project_files(top)
    return {name: {m for m in imported_modules(path) if m in files and m != name}
            for name, path in files.items()}


def package_of(module: str, top: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == top and len(parts) > 2 else None


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one file (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = [0]

    def visit(root):
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_finds_a_planted_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_core_never_imports_qt_or_gui():
    offenders = [(str(p.relative_to(CORE)), m) for p in CORE.rglob("*.py")
                 for m in imported_modules(p) if m.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_every_core_module_lives_in_a_known_package():
    packages = {p.name for p in CORE.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(CORE_ALLOWED)
    loose = [p.name for p in CORE.glob("*.py") if p.name != "__init__.py"]
    assert loose == []


@pytest.mark.parametrize("top", ["core", "gui"])
def test_no_import_circle_between_files(top):
    assert cycles(import_graph(top)) == []


def test_core_packages_depend_one_way():
    wrong = sorted((name, target) for name, targets in import_graph("core").items()
                   for target in targets
                   if (src := package_of(name, "core")) and (dst := package_of(target, "core"))
                   and dst != src and dst not in CORE_ALLOWED[src])
    assert wrong == []


def test_gui_workspaces_do_not_import_each_other():
    wrong = sorted((name, target) for name, targets in import_graph("gui").items()
                   for target in targets
                   if (src := package_of(name, "gui")) in GUI_WORKSPACES | {"widgets"}
                   and (dst := package_of(target, "gui")) not in (None, src, "widgets"))
    assert wrong == []


def test_every_package_says_what_it_holds_and_may_import():
    for init in list(CORE.glob("*/__init__.py")) + list((ROOT / "gui").glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert "import" in doc.lower(), f"{init.relative_to(ROOT)} docstring: {doc!r}"


def test_analysis_does_not_import_torch():
    code = ("import sys; from core.graph.presets import load_preset; "
            "from core.graph.analysis import analyze; from core.cli.parser import build_parser; "
            "build_parser(); analyze(load_preset('resnet18')); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
