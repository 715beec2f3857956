"""The package's shape: a thin core, layers above it that import downwards only, no cycles,
one atomic-write helper, and an `import minde` that loads nothing of the reproduction."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "minde"
# the thin core the paper describes (docs/method.md §1-§7), plus its small internal helpers
CORE = {"minde", "minde.sde", "minde.importance", "minde.masks", "minde.network", "minde.estimators",
        "minde.estimation", "minde.training", "minde.compiled", "minde.checkpoint", "minde.api", "minde.ensemble", "minde.diagnostics", "minde.config", "minde.data", "minde.utils",
        "minde._io"}
# rank of each layer: a module may import modules of its own rank or lower
LAYERS = {"core": 0, "minde.bench": 1, "minde.repro": 2, "minde.plots": 3, "front": 4}
FRONT = {"minde.cli", "minde.datafiles", "minde.__main__"}  # user-facing commands at the top level: may use every layer


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        parts = path.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _layer(mod: str) -> int:
    if mod in FRONT:
        return LAYERS["front"]
    for prefix in ("minde.bench", "minde.repro", "minde.plots"):
        if mod == prefix or mod.startswith(prefix + "."):
            return LAYERS[prefix]
    assert mod in CORE, f"{mod} is in no layer: add it to CORE, FRONT or a subpackage"
    return LAYERS["core"]


def _imports(mod: str) -> set[str]:
    """Every minde module that ``mod`` imports, at module level or inside functions."""
    path = MODULES[mod]
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "minde"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "minde":
                continue
            subs = {f"{target}.{a.name}" for a in node.names} & set(MODULES)
            found |= subs or {target}
    return {m for m in found if m in MODULES and m != mod}


GRAPH = {m: _imports(m) for m in MODULES}


def test_every_module_has_a_layer_and_imports_point_down():
    bad = [(m, d) for m, deps in GRAPH.items() for d in deps if _layer(d) > _layer(m)]
    assert not bad, f"imports that point up a layer: {bad}"


def test_core_imports_nothing_from_the_layers_above():
    bad = {m: sorted(d for d in GRAPH[m] if d not in CORE) for m in CORE}
    assert not any(bad.values()), bad


def test_no_import_cycles():
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(GRAPH[m]):
            if state.get(d) == 1:
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


def test_cycle_detection_is_not_vacuous():
    """The walker sees function-level imports (where the old sweep <-> cluster cycle hid)."""
    assert "minde.repro.cluster" in GRAPH["minde.repro.sweep"]
    assert "minde.repro.units" in GRAPH["minde.repro.cluster"]


def test_import_minde_loads_no_reproduction_dependency():
    heavy = ("pandas", "matplotlib", "dask", "distributed", "jax", "papermill", "bmi", "scipy")
    code = ("import sys, minde; minde.MINDE; minde.estimate_mi; "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_one_atomic_write_helper():
    users = sorted(str(p.relative_to(PKG.parent)) for p in PKG.rglob("*.py")
                   if "os.replace" in p.read_text() or "mkstemp" in p.read_text())
    assert users == ["minde/_io.py"]
