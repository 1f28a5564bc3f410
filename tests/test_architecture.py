"""The package's layering, checked: no import cycle between cjml's modules.

The import graph is read from the source with :mod:`ast`, not from
``sys.modules``: every ``import cjml.x`` and ``from cjml.x import y`` in a
file counts, at the top, inside a function or under ``TYPE_CHECKING``, since
an import moved into a function hides a cycle without breaking it. ``from
cjml.x import y`` is an edge to the submodule ``cjml.x.y`` when there is one,
else to ``cjml.x``; the parent packages Python imports on the way are not
edges. The package ``cjml`` itself is a module like any other: it names every
public module, so a module that imports ``cjml`` (say, for ``cjml.__version__``)
closes a cycle; import from the module that defines the name instead.
"""

from __future__ import annotations

import ast
import re
from collections import deque
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Imports that close a cycle in files being restructured under issue 21 (one
# event reader in cjml/io/, scoring split into cjml/scoring/). Each entry is
# (importer, imported): the lead removes it once that file is fixed, and
# test_allowed_cycles_are_still_there fails as soon as an entry is no longer
# needed. Keep this list empty otherwise.
ALLOWED: set[tuple[str, str]] = set()

# Packages CONTRIBUTING.md names that other branches of issue 21 are building;
# the lead removes each once it is merged (the test says when).
PENDING: set[str] = set()


def find_modules(package_dir: Path) -> dict[str, Path]:
    """Every module of the package at ``package_dir``, by dotted name."""
    base = package_dir.parent
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(base).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def import_graph(package_dir: Path) -> dict[str, dict[str, int]]:
    """For each module, the package's modules it imports and the line of the first import."""
    modules = find_modules(package_dir)
    top = package_dir.name

    def owner(name: str) -> str | None:  # the module a dotted name lives in
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = node.module or ""
                if node.level:  # relative: from .x import y, from .. import y
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(anchor + ([source] if source else []))
                targets = [
                    f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                    for alias in node.names
                ]
            else:
                continue
            for target in targets:
                if target != top and not target.startswith(top + "."):
                    continue
                imported = owner(target)
                if imported is not None and imported != name:
                    line = edges.get(imported, node.lineno)
                    edges[imported] = min(line, node.lineno)
        graph[name] = edges
    return graph


def find_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One shortest cycle per strongly connected group of modules (empty when acyclic)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    cycles = []
    for group in groups:
        start = min(group)
        came_from: dict[str, str] = {}
        queue = deque([start])
        while queue:  # breadth first: the shortest way back to start
            v = queue.popleft()
            if start in graph[v]:
                path = [v]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                cycles.append([*reversed(path), start])
                break
            for w in sorted(graph[v]):
                if w in group and w not in came_from and w != start:
                    came_from[w] = v
                    queue.append(w)
    return sorted(cycles)


def describe(cycle: list[str], graph: dict[str, dict[str, int]], modules: dict[str, Path]) -> str:
    """A cycle in words, with the file and line of each import."""
    steps = [
        f"{a} ({modules[a].relative_to(ROOT)}:{graph[a][b]} imports {b})"
        for a, b in zip(cycle, cycle[1:], strict=False)
    ]
    return " -> ".join(steps)


def test_cjml_has_no_import_cycle():
    graph = import_graph(ROOT / "cjml")
    for importer, imported in ALLOWED:
        graph.get(importer, {}).pop(imported, None)
    cycles = find_cycles(graph)
    modules = find_modules(ROOT / "cjml")
    assert not cycles, (
        "Import cycles (move the shared piece to the module it belongs in, or "
        "a small module both import; an import inside a function still "
        "counts):\n" + "\n".join(describe(c, graph, modules) for c in cycles)
    )


def _reaches(graph: dict[str, dict[str, int]], source: str, target: str) -> bool:
    seen, todo = {source}, [source]
    while todo:
        for w in graph.get(todo.pop(), {}):
            if w == target:
                return True
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return False


@pytest.mark.parametrize(("importer", "imported"), sorted(ALLOWED))
def test_allowed_cycles_are_still_there(importer, imported):
    graph = import_graph(ROOT / "cjml")
    assert imported in graph.get(importer, {}), (
        f"{importer} no longer imports {imported}: remove the entry from ALLOWED"
    )
    assert _reaches(graph, imported, importer), (
        f"{importer} -> {imported} closes no cycle any more: remove it from ALLOWED"
    )


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "pkg"


def test_a_cycle_through_an_import_inside_a_function_is_found_and_named(tmp_path):
    pkg = _package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import g\n",
            "pkg/b.py": "import os\n\n\ndef g():\n    from pkg import a\n    return a, os\n",
            "pkg/c.py": "from pkg.a import g\n",
        },
    )
    graph = import_graph(pkg)
    assert graph == {"pkg": {}, "pkg.a": {"pkg.b": 1}, "pkg.b": {"pkg.a": 5}, "pkg.c": {"pkg.a": 1}}
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.a"]]


def test_package_facade_relative_imports_and_submodules(tmp_path):
    pkg = _package(
        tmp_path,
        {
            "pkg/__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from pkg.sub import thing\n",
            "pkg/sub/__init__.py": "from .part import thing\n",
            "pkg/sub/part.py": "import pkg\nthing = pkg\n",
            "pkg/other.py": "from pkg.sub import part\nfrom . import sub\n",
        },
    )
    graph = import_graph(pkg)
    # "from pkg.sub import part" is the submodule; "from . import sub" the package
    assert graph["pkg.other"] == {"pkg.sub.part": 1, "pkg.sub": 2}
    assert graph["pkg.sub"] == {"pkg.sub.part": 1}
    # importing the package itself from inside it closes a cycle through its facade
    assert find_cycles(graph) == [["pkg", "pkg.sub", "pkg.sub.part", "pkg"]]


def test_an_acyclic_package_has_no_cycle(tmp_path):
    pkg = _package(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import x\n",
            "pkg/a.py": "from pkg.b import y as x\n",
            "pkg/b.py": "y = 1\n",
        },
    )
    assert find_cycles(import_graph(pkg)) == []


def test_contributing_names_only_files_that_exist():
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    named = set(
        re.findall(r"(?<![\w/.])((?:cjml|tests|benchmarks|notebooks)/[\w*./-]*[\w*/])", text)
    )
    assert {"cjml/panel/", "cjml/evaluation.py", "tests/test_architecture.py"} <= named
    exists = {p for p in named if "NAME" in p or any(ROOT.glob(p.rstrip("/")))}
    missing = named - exists
    assert missing <= PENDING, (
        f"CONTRIBUTING.md names files that do not exist: {sorted(missing - PENDING)}"
    )
    assert not PENDING & exists, f"{sorted(PENDING & exists)} exist now: remove them from PENDING"
