"""The import graph of ``src/`` has no cycles: every module can be understood by reading downward.

The layer rules themselves are import-linter contracts in ``pyproject.toml`` (``lint-imports``); this test
guards what a layers contract cannot see, a cycle between modules of the same package.
"""

from __future__ import annotations

import grimp


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that import each other, directly or not."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    return [sorted(group) for group in _strongly_connected(graph) if len(group) > 1]


def _package_graph(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    """Modules folded into their top-level subpackage (``fhir_bonemet.fhir.intake.read`` → ``fhir``)."""

    def package(module: str) -> str:
        parts = module.split(".")
        return parts[1] if len(parts) > 1 else parts[0]

    folded: dict[str, set[str]] = {package(m): set() for m in modules}
    for module, imported in modules.items():
        folded[package(module)].update(package(i) for i in imported if package(i) != package(module))
    return folded


def _module_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("fhir_bonemet")
    return {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_through_others() -> None:
    assert _cycles(_module_graph()) == []


def test_no_two_packages_import_each_other() -> None:
    # fhir_bonemet/__init__.py holds only the version; it is the root, not a sibling of the packages.
    packages = _package_graph(_module_graph())
    packages.pop("fhir_bonemet", None)
    for imported in packages.values():
        imported.discard("fhir_bonemet")
    assert _cycles(packages) == []
