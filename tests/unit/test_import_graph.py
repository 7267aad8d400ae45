"""Imports between the parts of `service/` point inward: no cycles, and the shared layers know no resource."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2] / "service"
# Packages that expose an HTTP resource; the layers below them must not know them.
RESOURCES = frozenset({"accounts", "auth", "clients", "integrations", "organizations", "webhooks"})
# Shared layers and what they must never import.
FORBIDDEN = {
    "web": RESOURCES,
    "db": RESOURCES,
    "events": RESOURCES,
    "settings": RESOURCES | {"app", "cli", "provisioning"},
}


def _module_name(root: pathlib.Path, path: pathlib.Path) -> list[str]:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imported(root: pathlib.Path, path: pathlib.Path) -> set[str]:
    """Every `service.*` module a file imports, absolute or relative, at any depth of the file."""
    here = _module_name(root, path)
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] == "service"}


def _top(root: pathlib.Path, module: str) -> str | None:
    """The part of the service a module belongs to: its package, or the top-level module itself."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    candidate = root / parts[1]
    if candidate.is_dir() or candidate.with_suffix(".py").is_file():
        return parts[1]
    return None


def package_graph(root: pathlib.Path = ROOT) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        source = _top(root, ".".join(_module_name(root, path)))
        if source is None:
            continue
        targets = {_top(root, name) for name in _imported(root, path)}
        graph.setdefault(source, set()).update(t for t in targets if t is not None and t != source)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path that returns to its start, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_the_service() -> None:
    graph = package_graph()
    assert {"app", "accounts", "web", "db", "events", "settings"} <= graph.keys()
    assert "accounts" in graph["app"]


def test_no_package_cycle() -> None:
    cycle = find_cycle(package_graph())
    assert cycle is None, " → ".join(cycle or [])


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_shared_layers_do_not_import_the_resources(layer: str) -> None:
    wrong = package_graph().get(layer, set()) & FORBIDDEN[layer]
    assert not wrong, f"{layer} imports {sorted(wrong)}"


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_relative_and_nested_imports_count(tmp_path: pathlib.Path) -> None:
    package = tmp_path / "service"
    (package / "web").mkdir(parents=True)
    (package / "accounts").mkdir()
    (package / "web" / "__init__.py").write_text("")
    (package / "accounts" / "__init__.py").write_text("")
    (package / "web" / "x.py").write_text("def f():\n    from ..accounts import routes\n")
    assert package_graph(package) == {"web": {"accounts"}, "accounts": set()}
