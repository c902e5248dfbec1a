"""The plugin's modules import one another without a circle (lazy imports included)."""
import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.once  # the plugin's own logic: runs on one TAO release (tests/unit/conftest.py)

PACKAGE = Path(__file__).resolve().parents[2] / "tao_sparse4d_fix"


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path, modules):
    """Every plugin module ``path`` imports, at module level or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:  # from a package import a submodule: an edge to the submodule
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return {name for name in found if name in modules}


def test_no_import_circle():
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {name: imports(path, paths) - {name} for name, path in paths.items()}
    done, active = set(), []

    def visit(name):
        if name in active:
            raise AssertionError("import circle: " + " -> ".join(active[active.index(name):] + [name]))
        if name in done:
            return
        active.append(name)
        for imported in sorted(graph[name]):
            visit(imported)
        active.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    assert "tao_sparse4d_fix.runtime.status" in graph and graph["tao_sparse4d_fix.runtime.status"] == set()


def test_no_patch_imports_another_patch():
    patches = {module_name(path) for path in (PACKAGE / "runtime" / "patches").glob("*.py") if path.stem not in ("__init__", "_base")}
    for path in (PACKAGE / "runtime" / "patches").glob("*.py"):
        if path.stem != "__init__":
            assert not imports(path, patches) - {module_name(path)}, path.name
