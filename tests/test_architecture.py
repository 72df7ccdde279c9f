"""The package's layering, read from the source: no import cycles, and the library never
imports the command line.

The import graph is built with :mod:`ast` from every module under ``src/deblurkit``, counting
every ``import`` statement wherever it is (module level, inside functions, under
``TYPE_CHECKING``): an import deferred into a function still ties the two modules together,
it only hides the cycle until that function runs.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "deblurkit"


def module_name(path: Path) -> str:
    """``src/deblurkit/a/b.py`` -> ``deblurkit.a.b``; a package's ``__init__.py`` -> the
    package."""
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {module_name(p): p for p in sorted((SOURCE / PACKAGE).rglob("*.py"))}


def imported_names(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Dotted names a module's import statements ask for (``from a import b`` gives ``a.b``,
    which :func:`import_graph` narrows to ``a`` when ``b`` is not a module)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against this module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


@functools.cache
def import_graph() -> dict[str, frozenset[str]]:
    """``module -> modules of the package it imports`` (the most specific module each import
    names)."""
    modules = all_modules()
    graph: dict[str, frozenset[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = set()
        for wanted in imported_names(tree, name, path.name == "__init__.py"):
            while wanted and wanted not in modules:
                wanted = wanted.rpartition(".")[0]
            if wanted and wanted != name and wanted.startswith(PACKAGE):
                targets.add(wanted)
        graph[name] = frozenset(targets)
    return graph


def find_cycles(graph: Mapping[str, AbstractSet[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component of more than one
    module (Tarjan's algorithm, iterative), sorted.

    Example:
        >>> find_cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}})
        [['a', 'b', 'a']]
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(_cycle_in(graph, set(c)) for c in components)


def _cycle_in(graph: Mapping[str, AbstractSet[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the first module of a strongly connected component."""
    start = min(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & component):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else \
                        [start, start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle in {sorted(component)}")  # pragma: no cover


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    # deblurkit.cli._common imports the restorer inside make_restorer only
    assert "deblurkit.inference.restorer" in graph["deblurkit.cli._common"]
    assert len(graph) > 50


def test_find_cycles_names_the_modules():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


#: The command line's modules, and the one module that runs it (``python -m deblurkit``).
COMMAND_LINE = (f"{PACKAGE}.cli", f"{PACKAGE}.__main__")


def test_the_library_never_imports_the_command_line():
    offenders = sorted(f"{m} -> {t}" for m, targets in import_graph().items()
                       if not m.startswith(COMMAND_LINE)
                       for t in targets if t.startswith(f"{PACKAGE}.cli"))
    assert not offenders, offenders


def test_inference_and_export_do_not_import_each_other():
    graph = import_graph()
    for source, other in (("inference", "export"), ("export", "inference")):
        offenders = sorted(f"{m} -> {t}" for m, targets in graph.items()
                           if m.startswith(f"{PACKAGE}.{source}")
                           for t in targets if t.startswith(f"{PACKAGE}.{other}"))
        assert not offenders, offenders
