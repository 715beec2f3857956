"""A plain (non-editable) install works outside this checkout and never writes into itself."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_installed_package_runs_from_elsewhere_and_writes_nothing_inside(tmp_path):
    target, work, src = tmp_path / "site", tmp_path / "work", tmp_path / "src"
    work.mkdir()
    # build from a copy, so the build's own scratch folders stay out of the checkout
    shutil.copytree(ROOT / "minde", src / "minde", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(src)], check=True, capture_output=True, text=True)
    assert (target / "minde" / "__init__.py").is_file()
    before = _files(target)
    # bytecode caching is Python's, not ours: keep it out so the comparison sees only our writes
    env = {k: v for k, v in os.environ.items() if k not in ("MINDE_HOME", "MINDE_CACHE_DIR")}
    env.update(PYTHONPATH=str(target), PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    code = ("import numpy as np, minde; assert minde.__file__.startswith(%r), minde.__file__; "
            "rng = np.random.default_rng(0); x = rng.normal(size=(600, 1)); "
            "y = x + rng.normal(size=(600, 1)); "
            "r = minde.estimate_mi(x, y, budget='smoke', steps=50, progress=False); print(r.mi)"
            % str(target))
    subprocess.run([sys.executable, "-c", code], cwd=work, env=env, check=True, timeout=300)
    sweep = [sys.executable, "-m", "minde", "sweep", "--experiment", "smoke", "--budget", "smoke",
             "--tasks", "1v1-normal-0.75", "--methods", "cca", "--seeds", "0", "--no-progress"]
    subprocess.run(sweep, cwd=work, env=env, check=True, timeout=300, capture_output=True)
    assert _files(target) == before, sorted(_files(target) - before)
    # results and the sample cache went to the working folder (the project root fallback)
    assert list((work / "data" / "results" / "smoke" / "smoke" / "units").glob("*.json"))
    assert (work / "data" / "cache").is_dir()
