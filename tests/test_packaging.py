"""The install files agree with each other (pyproject, constraints, environment.yml)."""
import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pins(lines):
    out = {}
    for line in lines:
        m = re.match(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*==\s*([^\s;#]+)", line)
        if m:
            out[re.sub(r"\[.*\]", "", m.group(1)).lower()] = m.group(2)
    return out


def test_pins_are_consistent():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    py_pins = _pins(project["dependencies"] + extras["repro"])
    constraints = _pins((ROOT / "constraints.txt").read_text().splitlines())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    env_pins = _pins(pip_section)
    assert constraints["torch"] == "2.13.0"
    for name in ("torch", "jax", "jaxlib", "benchmark-mi"):
        assert py_pins[name] == constraints[name] == env_pins[name], name
    assert "-e .[repro,dev]" in pip_section and "-c constraints.txt" in pip_section
    assert any(str(d).startswith("python=3.11") for d in env["dependencies"])
    assert "bmi" not in py_pins  # the unrelated PyPI package must never be installed
    assert not any(d.split("[")[0].strip().lower() == "jupyter" for d in project["dependencies"])
    assert "pytest" in " ".join(extras["dev"])
    # the core needs only these; everything of the reproduction is an extra
    assert sorted(_names(project["dependencies"])) == ["numpy", "torch", "tqdm"]


def _names(reqs):
    return {re.split(r"[\s<>=!\[;]", r.strip(), maxsplit=1)[0].lower() for r in reqs}


# import name -> distribution that provides it
_DIST = {"yaml": "pyyaml", "bmi": "benchmark-mi", "distributed": "dask", "jaxlib": "jaxlib"}


def _third_party_imports(folder: str) -> set[str]:
    import ast
    out = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                out |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                out.add(node.module.split(".")[0])
    local = {"minde"} | {p.stem for p in (ROOT / folder).glob("*.py")}  # the folder's own modules
    return {m for m in out - local if m not in sys.stdlib_module_names}


def test_every_import_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    declared = _names(project["dependencies"] + extras["repro"] + extras["dev"])
    for folder in ("minde", "tests", "benchmarks"):
        missing = {_DIST.get(m, m) for m in _third_party_imports(folder)} - declared
        assert not missing, f"{folder}/ imports undeclared packages: {sorted(missing)}"
    core = {"torch", "numpy", "tqdm"}
    for path in (ROOT / "minde").glob("*.py"):
        if path.stem in ("cli", "datafiles", "sweep", "reproduce", "report", "__main__"):
            continue
        # top-level (core) modules import only the core dependencies at module level
        import ast
        tree = ast.parse(path.read_text())
        for node in tree.body:
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and not node.level else [])
            for n in names:
                top = n.split(".")[0]
                assert top in core | {"minde"} or top in sys.stdlib_module_names, (path.name, n)


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()
    assert "make reproduce" in (ROOT / "README.md").read_text()


def test_public_api_resolves_and_torch_free_modules_stay_torch_free():
    import subprocess
    import sys
    code = ("import sys, minde.repro.results, minde.repro.store, minde.plots.figures, minde.plots.consistency; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    import minde
    for name in minde.__all__:
        assert getattr(minde, name) is not None
