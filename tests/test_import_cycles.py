"""No import cycles among voxgate's own modules, counting every import: at module level, under
``TYPE_CHECKING`` and inside functions. A cycle means two modules each need the other; the
shared part belongs in a module below both."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "plugins")


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imported_names(module: str, path: Path, known: set[str]) -> Iterator[str]:
    """Every dotted name ``module`` imports: ``from a import b`` is ``a.b`` where that is a
    module, else ``a`` (a package's own modules importing their siblings through it are not
    counted as importing the package)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                name = f"{base}.{alias.name}"
                yield name if name in known else base


def import_graph() -> dict[str, set[str]]:
    known = modules()

    def owner(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        targets = {owner(name) for name in imported_names(module, path, set(known))}
        graph[module] = {target for target in targets if target and target != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_graph_sees_imports_of_every_kind() -> None:
    graph = import_graph()
    assert "core.engines.base" in graph["core.engines"]  # from a package's __init__
    assert "core.engines.input_type" in graph["core.engines.services"]  # module level
    assert "core.runtime.generation" in graph["core.state.fleet"]  # under TYPE_CHECKING
    assert "plugins.llm_local.loaded_model" in graph["plugins.llm_local.engine"]  # in a function


def test_a_cycle_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_voxgate_modules_import_no_cycles() -> None:
    assert cycles(import_graph()) == []


def imports_of(folder: str) -> dict[str, set[str]]:
    """Module path -> the names it imports, for every file under ``folder``."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
        found[path.relative_to(ROOT).as_posix()] = names
    return found


#: Imports that still cross the line, each left to the branch working on that file.
PENDING = {
    ("tests/plugins/rag_chroma/test_eval_quality.py", "bench.bench_rag"),
}


def test_benches_and_tests_share_only_tests_support() -> None:
    """Benchmarks use the helpers in tests/support, never a test module; tests never import a
    benchmark."""
    crossing = {
        (path, name)
        for path, names in imports_of("bench").items()
        for name in names
        if name.startswith("tests") and not name.startswith(("tests.support", "tests.support."))
    }
    crossing |= {
        (path, name)
        for path, names in imports_of("tests").items()
        for name in names
        if name == "bench" or name.startswith("bench.")
    }
    assert crossing <= PENDING
