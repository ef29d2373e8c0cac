"""The layout's rules, read from the code's own imports: no cycles in shared/, and each folder imports only what its
``__init__`` docstring allows. A change that breaks a rule fails here, naming the module and the import."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SDKS = ("azure", "httpx", "aiohttp", "h11")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, at any depth (a function-level import couples modules too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path).rsplit(".", 0 if path.name == "__init__.py" else 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                base = ".".join(anchor[: len(anchor) - node.level + 1] + ([base] if base else []))
            yield base
            # ``from shared.api import devices`` imports the module shared.api.devices
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in (ROOT / "shared").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {imported for imported in _imports(path) if imported in modules and imported != name}
    return graph


GRAPH = _graph()


def _all_imports(module: str) -> set[str]:
    path = ROOT / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = ROOT / module.replace(".", "/") / "__init__.py"
    return set(_imports(path))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _in(module: str, *packages: str) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def _offending(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{module} imports {imported}"
        for module in GRAPH
        if _in(module, layer)
        for imported in _all_imports(module)
        if _in(imported, *forbidden)
    )


class TestImportGraph:
    def test_the_graph_sees_the_package(self):
        """Guards the rules below against passing vacuously on an empty or misread graph."""
        assert "shared.usecases.delivery" in GRAPH
        assert "shared.domain.records" in GRAPH["shared.usecases.delivery"]
        assert "shared.composition.services" in GRAPH["shared.composition.wiring"]

    def test_there_is_no_import_cycle_in_shared(self):
        assert _cycles(GRAPH) == []

    def test_a_cycle_would_be_found(self):
        assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


LAYERS = ("shared.usecases", "shared.ports", "shared.adapters", "shared.api", "shared.triggers", "shared.composition")


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        pytest.param("shared.domain", (*LAYERS, *SDKS, "shared.notification_hubs.client"), id="domain is pure"),
        pytest.param(
            "shared.usecases",
            ("shared.api", "shared.adapters", "shared.composition", "shared.triggers", *SDKS),
            id="use cases see ports and domain only",
        ),
        pytest.param("shared.usecases", ("shared.notification_hubs.errors",), id="use cases catch the app's errors"),
        pytest.param("shared.ports", (*LAYERS[2:], "shared.usecases", *SDKS), id="ports are abstract"),
        pytest.param(
            "shared.adapters",
            ("shared.usecases", "shared.api", "shared.composition", "shared.triggers"),
            id="adapters implement ports",
        ),
        pytest.param("shared.api", ("shared.adapters", *SDKS), id="the HTTP layer reaches adapters via the root"),
        pytest.param("shared.triggers", ("shared.adapters", *SDKS), id="triggers reach adapters via the root"),
        pytest.param("shared", ("local", "tests", "bench", "function_app"), id="shared stands alone"),
        pytest.param("shared", ("azure.functions",), id="only function_app speaks azure.functions"),
    ],
)
def test_each_layer_imports_only_what_it_may(layer: str, forbidden: tuple[str, ...]):
    assert _offending(layer, forbidden) == []


def test_only_the_composition_root_constructs_adapters():
    importers = {
        module
        for module, imported in GRAPH.items()
        if any(_in(target, "shared.adapters") for target in imported) and not _in(module, "shared.adapters")
    }
    assert importers == {"shared.composition.wiring"}
