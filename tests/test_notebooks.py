"""Every notebook runs through the runner at the smoke budget and writes its declared files (docs/method.md §8-§13)."""
from __future__ import annotations

from pathlib import Path

import pytest

from minde.repro import reproduce
from minde.repro.experiments import EXPERIMENTS


@pytest.mark.notebooks
@pytest.mark.timeout(900)
def test_every_notebook_at_smoke_writes_its_declared_files(private_home):
    """Every notebook recomputes its smoke results in a private project root (nothing cached)."""
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    runs = reproduce.run_all("smoke", nb_dir=notebooks, runs_dir=private_home / "runs", root=private_home)
    assert runs, "no notebooks found"
    print(reproduce.format_table(runs))
    failed = {r.name: (r.status, r.error, [str(p) for p in r.missing]) for r in runs if r.status != "ok"}
    assert not failed, failed
    for r in runs:
        if r.name in EXPERIMENTS:
            assert r.outputs and not r.missing, r.name
            assert all(private_home in p.parents for p in r.outputs), r.outputs


def _parameter_names(path) -> list[str]:
    """Names assigned at the start of a line in the notebook's cell tagged ``parameters``."""
    import nbformat

    cells = [c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: expected one cell tagged 'parameters', found {len(cells)}"
    return [line.split("=", 1)[0].strip() for line in cells[0].source.splitlines()
            if line and not line.startswith((" ", "#")) and "=" in line]


def test_papermill_reads_every_parameter_of_every_notebook(caplog):
    """papermill must parse each parameter line (an unparsable comment silently drops it from
    ``--help-notebook`` and logs "Unable to parse line")."""
    from pathlib import Path

    import papermill

    notebooks = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        caplog.clear()
        inferred = list(papermill.inspect_notebook(str(path)))
        assert inferred == _parameter_names(path), path.name
        assert "Unable to parse" not in caplog.text, (path.name, caplog.text)
