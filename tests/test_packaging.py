"""The install files agree with each other (pyproject, constraints, environment.yml)."""
import re
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
    py_pins = _pins(project["dependencies"])
    constraints = _pins((ROOT / "constraints.txt").read_text().splitlines())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    env_pins = _pins(pip_section)
    assert constraints["torch"] == "2.13.0"
    for name in ("torch", "jax", "jaxlib", "benchmark-mi"):
        assert py_pins[name] == constraints[name] == env_pins[name], name
    assert "-e .[dev]" in pip_section and "-c constraints.txt" in pip_section
    assert any(str(d).startswith("python=3.11") for d in env["dependencies"])
    assert "bmi" not in py_pins  # the unrelated PyPI package must never be installed
    assert not any(d.split("[")[0].strip().lower() == "jupyter" for d in project["dependencies"])
    assert "pytest" in " ".join(project["optional-dependencies"]["dev"])


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()
    assert "make reproduce" in (ROOT / "README.md").read_text()


def test_public_api_resolves_and_torch_free_modules_stay_torch_free():
    import subprocess
    import sys
    code = ("import sys, minde.results, minde.plotting, minde.consistency_results; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    import minde
    for name in minde.__all__:
        assert getattr(minde, name) is not None
