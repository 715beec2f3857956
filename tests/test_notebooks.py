"""Every notebook runs through the runner at the smoke budget and writes its declared files (docs/method.md §8-§13)."""
from __future__ import annotations

import pytest

from minde.repro import reproduce
from minde.repro.experiments import EXPERIMENTS


@pytest.mark.notebooks
@pytest.mark.timeout(900)
def test_every_notebook_at_smoke_writes_its_declared_files(tmp_path):
    runs = reproduce.run_all("smoke", runs_dir=tmp_path)
    assert runs, "no notebooks found"
    print(reproduce.format_table(runs))
    failed = {r.name: (r.status, r.error, [str(p) for p in r.missing]) for r in runs if r.status != "ok"}
    assert not failed, failed
    for r in runs:
        if r.name in EXPERIMENTS:
            assert r.outputs and not r.missing, r.name
