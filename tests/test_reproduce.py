"""Tests of the papermill runner ``python -m minde.reproduce`` (docs/method.md §8-§13)."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from minde.repro import reproduce
from minde.repro.experiments import EXPERIMENTS, declared_outputs


def _write_nb(path, code: str) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('budget = "quick"  # smoke | quick | paper\nscheduler = None  # dask\n'
                                       'workers = None  # dask')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_list_prints_every_notebook_and_outputs(capsys):
    assert reproduce.main(["--list", "--budget", "smoke"]) == 0
    out = capsys.readouterr().out
    for stem in ("00_quickstart", "fig01_high_mi_benchmark", "tab01_benchmark_table"):
        assert stem in out
    assert "figures/smoke/tab01_summary.csv" in out
    assert "figures/smoke/fig08_training_size.png" in out


def test_unknown_budget_fails_before_any_work(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert reproduce.main(["--budget", "huge", "--runs", str(runs), "--notebooks", str(tmp_path)]) == 2
    assert "unknown budget 'huge'" in capsys.readouterr().err
    assert not runs.exists()
    with pytest.raises(ValueError, match="valid budgets: smoke, quick, paper"):
        reproduce.run_all("huge", nb_dir=tmp_path, runs_dir=runs)
    assert not runs.exists()


def test_declared_outputs_cover_every_committed_notebook():
    stems = {p.stem for p in reproduce.find_notebooks(Path(__file__).resolve().parents[1] / "notebooks")}
    assert stems - {"fig02_consistency_mnist"} <= set(EXPERIMENTS)
    for stem in stems & set(EXPERIMENTS):
        assert declared_outputs(stem, "smoke"), stem


@pytest.mark.timeout(300)
def test_failing_notebook_does_not_stop_the_others(tmp_path, capsys):
    nbs, runs = tmp_path / "nbs", tmp_path / "runs"
    nbs.mkdir()
    _write_nb(nbs / "a_fails.ipynb", "raise RuntimeError('boom')")
    _write_nb(nbs / "b_ok.ipynb", "import os\nopen('wrote.txt', 'w').write(budget)")  # cwd = nbs
    _write_nb(nbs / "ablation_ema.ipynb", "x = 1")  # declared outputs, writes none
    result = reproduce.run_all("smoke", nb_dir=nbs, runs_dir=runs, root=tmp_path)
    status = {r.name: r.status for r in result}
    assert status == {"a_fails": "failed", "b_ok": "ok", "ablation_ema": "missing-outputs"}
    assert "boom" in result[0].error
    assert (nbs / "wrote.txt").read_text() == "smoke"  # parameter injected, cwd = notebook dir
    assert (runs / "smoke" / "b_ok.ipynb").exists()
    table = reproduce.format_table(result, tmp_path)
    assert "MISSING: figures/smoke/ablation_ema.pdf" in table
    assert reproduce.main(["--budget", "smoke", "--notebooks", str(nbs), "--runs", str(runs),
                           "--only", "b_ok"]) == 0
    assert reproduce.main(["--budget", "smoke", "--notebooks", str(nbs), "--runs", str(runs),
                           "--only", "a_*"]) == 1
