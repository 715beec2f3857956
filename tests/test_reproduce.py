"""Tests of the papermill runner ``minde reproduce`` (docs/method.md §8-§13)."""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from minde.repro import reproduce
from minde.repro.experiments import EXPERIMENTS, declared_outputs

REPO = Path(__file__).resolve().parents[1]


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


def test_kernels_use_ipc_where_available():
    """IPC transport: ipykernel only warns about unencrypted connections over TCP. Each kernel's
    sockets have a prefix of their own, absolute, in jupyter's runtime folder."""
    from jupyter_core.paths import jupyter_runtime_dir

    cfg, other = reproduce.kernel_config(), reproduce.kernel_config()
    if os.name == "posix":
        assert cfg.KernelManager.transport == "ipc"
        prefix = Path(cfg.KernelManager.ip)
        assert prefix.is_absolute() and prefix.parent == Path(jupyter_runtime_dir()).resolve()
        assert cfg.KernelManager.ip != other.KernelManager.ip
    else:
        assert "KernelManager" not in cfg


@pytest.mark.timeout(300)
def test_two_runners_in_one_folder_at_once(tmp_path):
    """Two runner processes start kernels for notebooks of one folder at the same moment: each
    notebook runs in its own kernel, and no socket file is left in the folder."""
    import subprocess
    import sys

    nbs = tmp_path / "nbs"
    nbs.mkdir()
    for name in ("a_one", "b_two"):
        _write_nb(nbs / f"{name}.ipynb", f"import os, time\ntime.sleep(3)\nopen('{name}.txt', 'w').write(str(os.getpid()))")
    cmd = [sys.executable, "-m", "minde", "reproduce", "--budget", "smoke", "--notebooks", str(nbs), "--no-report"]
    procs = [subprocess.Popen(cmd + ["--runs", str(tmp_path / f"runs_{name}"), "--only", name], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for name in ("a_one", "b_two")]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    pids = {(nbs / f"{name}.txt").read_text() for name in ("a_one", "b_two")}
    assert len(pids) == 2  # two kernels, not one answering both runners
    assert sorted(p.name for p in nbs.iterdir()) == ["a_one.ipynb", "a_one.txt", "b_two.ipynb", "b_two.txt"]


@pytest.mark.notebooks
@pytest.mark.core
@pytest.mark.timeout(600)
def test_runner_is_quiet_and_executed_notebook_has_no_tqdm_warning(tmp_path, monkeypatch, capfd):
    """One real notebook at the smoke budget: no 'Kernel is running over TCP without encryption' on the
    terminal (the kernel's stderr is the runner's), no TqdmWarning in the executed notebook."""
    monkeypatch.setenv("MINDE_HOME", str(tmp_path))  # its results and figures stay in tmp_path
    runs = reproduce.run_all("smoke", only="00_quickstart", nb_dir=REPO / "notebooks",
                             runs_dir=tmp_path / "runs", root=tmp_path)
    assert [(r.name, r.status) for r in runs] == [("00_quickstart", "ok")], runs
    captured = capfd.readouterr()
    executed = (tmp_path / "runs" / "smoke" / "00_quickstart.ipynb").read_text(encoding="utf-8")
    for where, text in (("terminal", captured.out + captured.err), ("executed notebook", executed)):
        assert "without encryption" not in text, where
        assert "TqdmWarning" not in text, where
    assert "verdict: " in executed and "checks pass at the smoke budget" in executed


def test_params_reach_every_selected_notebook_and_rename_declared_outputs(tmp_path, capsys):
    assert reproduce.parse_params(["n_train=10000", "seeds=[0, 1, 2]", "finished_only=true", "x=a b"]) == {
        "n_train": 10000, "seeds": [0, 1, 2], "finished_only": True, "x": "a b"}
    for bad in ("n_train", "1x=2", "budget=paper"):
        with pytest.raises(ValueError, match="--param"):
            reproduce.parse_params([bad])
    assert reproduce.main(["-p", "nonsense"]) == 2 and "NAME=VALUE" in capsys.readouterr().err
    paper = [p.relative_to(tmp_path).as_posix() for p in declared_outputs("tab01_benchmark_table", "paper",
                                                                          tmp_path, 10_000)]
    assert paper == ["figures/tab01_benchmark_table_n10000.pdf", "figures/tab01_benchmark_table_n10000.png",
                     "figures/tab01_benchmark_table_n10000.csv", "figures/tab01_summary_n10000.csv"]
    nbs, runs = tmp_path / "nbs", tmp_path / "runs"
    nbs.mkdir()
    for name in ("a_one", "b_two", "c_not_selected"):
        _write_nb(nbs / f"{name}.ipynb", f"open('{name}.txt', 'w').write(repr((n_train, seeds)))")
    assert reproduce.main(["--budget", "smoke", "--notebooks", str(nbs), "--runs", str(runs), "--only",
                           "a_*,two", "-p", "n_train=10000", "-p", "seeds=[0, 1, 2]"]) == 0
    assert (nbs / "a_one.txt").read_text() == (nbs / "b_two.txt").read_text() == "(10000, [0, 1, 2])"
    assert not (nbs / "c_not_selected.txt").exists()
