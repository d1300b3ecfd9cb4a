"""The size and layering rules of src/perfguard (docs/design.md), checked on the code:
no module over 450 lines, no class over 300, and imports that run one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "perfguard"
MODULES = sorted(SOURCE.rglob("*.py"))

# Layers, lowest first: a module may import its own layer and the layers below it.
EDGES = {
    "asgi", "wsgi", "otel", "prometheus", "pytest_plugin", "_cli", "__main__", "__init__",
    "django", "httpx", "requests", "aiohttp", "_http_names",  # the web integrations
    "celery", "sqlalchemy",  # tasks and SQL
    "_promtext", "alertmanager",  # monitoring
}  # fmt: skip
FACADE = {"_tracker", "_persistence", "_autosave", "_reporting", "_hostwide", "_losses"}
STORES = {"_stores"}


def dotted(path: Path) -> str:
    parts = path.relative_to(SOURCE).with_suffix("").parts
    return ".".join(parts)


def layer_of(module: str) -> int:
    top = module.split(".")[0]
    if top in EDGES:
        return 3
    if top in FACADE:
        return 2
    if top in STORES:
        return 1
    return 0  # the core: values, statistics, detection, recording


def perfguard_imports(path: Path) -> set[str]:
    """perfguard modules `path` imports at run time (TYPE_CHECKING blocks excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = dotted(path).split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1] if node.level > 1 else package
            target = ".".join([*base, node.module] if node.module else base)
            if node.module:
                found.add(target)
            else:
                found.update(f"{target}.{alias.name}".strip(".") for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("perfguard."):
            found.add(node.module.removeprefix("perfguard."))  # type: ignore[union-attr]
    return found


@pytest.mark.parametrize("path", MODULES, ids=dotted)
def test_no_module_over_450_lines(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 450


@pytest.mark.parametrize("path", MODULES, ids=dotted)
def test_no_class_over_300_lines(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    sizes = {
        node.name: (node.end_lineno or node.lineno) - node.lineno + 1
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
    }
    assert {name: size for name, size in sizes.items() if size > 300} == {}


@pytest.mark.parametrize("path", MODULES, ids=dotted)
def test_imports_run_one_way(path: Path) -> None:
    """The core never imports stores, the facade or the edges; stores never import the
    facade or the edges; the facade never imports an edge."""
    here = layer_of(dotted(path))
    upward = sorted(m for m in perfguard_imports(path) if layer_of(m) > here)
    assert upward == []


def test_the_layering_check_sees_imports() -> None:
    """A guard for the guard: a known upward import would be found."""
    imports = perfguard_imports(SOURCE / "_tracker.py")
    assert "_registry" in imports and "_stores" in imports
    assert layer_of("_stores.json_file") == 1 and layer_of("_cli.main") == 3
    assert perfguard_imports(SOURCE / "_stores" / "shards.py") >= {"_hooks", "_stores.files"}
