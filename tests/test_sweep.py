"""Tests of the sweep command (minde/sweep.py): validation, dry run, resume, failures, kill."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from minde.repro import results as res
from minde.repro import sweep, units
from minde.training import TrainingDivergedError

REPO = Path(__file__).resolve().parents[1]
TASK = "1v1-normal-0.75"
TRUTH = 0.41333928659223396  # -0.5 log(1 - 0.75^2)


@pytest.fixture(autouse=True)
def _private_sample_cache(tmp_path_factory, monkeypatch) -> None:
    """Keep task samples of these tests out of data/cache (subprocesses inherit the variable)."""
    monkeypatch.setenv("MINDE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "sample-cache"))


def _argv(out: Path, *extra: str, exp: str = "t", methods: str = "minde_c,cca",
          seeds: str = "0") -> list[str]:
    """A smoke-budget sweep command line writing under ``out``."""
    return ["--experiment", exp, "--budget", "smoke", "--tasks", TASK, "--methods", methods,
            "--seeds", seeds, "--out", str(out), "--no-progress", *extra]


def _unit_files(out: Path, exp: str = "t") -> dict[str, str]:
    """name -> content of every unit record."""
    d = out / exp / "smoke" / "units"
    return {p.name: p.read_text() for p in sorted(d.glob("*.json"))} if d.is_dir() else {}


@pytest.mark.parametrize("spec, seeds", [("0-4", [0, 1, 2, 3, 4]), ("0,2,5", [0, 2, 5]),
                                         ("3", [3]), ("0-1,7,1", [0, 1, 7]), (" 2 - 3 ".replace(" ", ""), [2, 3])])
def test_parse_seeds(spec: str, seeds: list[int]) -> None:
    assert sweep.parse_seeds(spec) == seeds


@pytest.mark.parametrize("spec", ["4-0", "a-b", "-1", "", "1,,x", "0-"])
def test_parse_seeds_rejects(spec: str) -> None:
    with pytest.raises(sweep.SweepArgumentError, match="--seeds"):
        sweep.parse_seeds(spec)


def test_resolve_tasks_groups_and_high_mi_strengths() -> None:
    from minde.bench.tasks import list_tasks

    assert len(sweep.resolve_tasks("benchmark")) == 40
    picked = sweep.resolve_tasks(("highmi:2,10", "1v1-normal-0.75"))
    want = [t.id for t in list_tasks("highmi") if t.strength in (2.0, 10.0)]
    assert picked == want + ["1v1-normal-0.75"] and len(want) > 0
    assert sweep.resolve_tasks("highmi:2,10") == want
    with pytest.raises(sweep.SweepArgumentError, match="highmi:x"):
        sweep.resolve_tasks("highmi:x")


def test_table_1_reads_the_plans_of_figures_3_4() -> None:
    from minde.repro.experiments import get_plan

    for budget in ("smoke", "quick", "paper"):
        assert get_plan("tab01_benchmark_table", budget) == get_plan("fig03_benchmark_tasks", budget)


@pytest.mark.parametrize("extra, needles", [
    (["--budget", "huge"], ["'huge'", "smoke, quick, paper"]),
    (["--methods", "minde_x,cca"], ["minde_x", "minde_c", "cca", "all"]),
    (["--methods", "minde_c_sigma"], ["minde_c_sigma", "come with their minde_c"]),
    (["--tasks", "no-such-task"], ["no-such-task"]),
    (["--seeds", "4-0"], ["4-0"]),
    (["--seeds", "a-b"], ["a-b"]),
    (["--n-train", "0"], ["--n-train", "'0'"]),
    (["--n-train", "ten"], ["--n-train", "ten"]),
    (["--n-test", "-5"], ["--n-test", "-5"]),
    (["--experiment", "../x"], ["--experiment", "../x"]),
    (["--workers", "0"], ["--workers", "0"]),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], ["either --workers"]),
    (["--scheduler", "/no/such/file.json"], ["/no/such/file.json", "tcp://HOST:PORT"]),
])
def test_bad_arguments_exit_2_naming_the_value(tmp_path: Path, capsys, extra, needles) -> None:
    out = tmp_path / "res"
    argv = _argv(out)
    for flag, value in zip(extra[::2], extra[1::2]):  # later flags override earlier ones
        argv += [flag, value]
    assert sweep.main(argv) == 2
    err = capsys.readouterr().err
    for needle in needles:
        assert needle in err, err
    assert not out.exists()  # validated before any work


def test_unwritable_out(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert sweep.main(_argv(blocker / "sub")) == 2
    assert "not a directory" in capsys.readouterr().err


def test_dry_run_writes_nothing(tmp_path: Path, capsys) -> None:
    assert sweep.main(_argv(tmp_path, "--dry-run", seeds="0-2")) == 0
    text = capsys.readouterr().out
    assert "6 units, 0 done" in text and "6 to run" in text
    assert f"{TASK} minde_c n=2000 seed=2" in text
    assert list(tmp_path.iterdir()) == []


def test_smoke_sweep_then_resume_and_recompute(tmp_path: Path, capsys) -> None:
    assert sweep.main(_argv(tmp_path)) == 0
    df = res.aggregate("t", "smoke", tmp_path, write=False)
    assert sorted(df["variant"]) == ["cca", "minde_c", "minde_c_sigma"]
    assert (df["status"] == "ok").all() and np.isfinite(df["estimate"]).all()
    assert (df["truth"] == TRUTH).all() and (df["n_test"] == 1000).all()
    cca = df.set_index("variant").loc["cca", "estimate"]
    assert abs(cca - TRUTH) < 0.1  # closed form on 3000 samples
    assert abs(df.set_index("variant").loc["minde_c", "estimate"] - TRUTH) < 0.35  # 200 steps
    assert (tmp_path / "t" / "smoke" / "results.csv").is_file()
    assert (tmp_path / "t" / "smoke" / "meta.json").is_file()
    before = _unit_files(tmp_path)
    capsys.readouterr()
    assert sweep.main(_argv(tmp_path)) == 0  # resume: nothing to do
    assert "2 done" in capsys.readouterr().out and _unit_files(tmp_path) == before
    with pytest.warns(UserWarning, match="another n_test"):
        sweep.main(_argv(tmp_path, "--n-test", "500", methods="cca"))
    assert _unit_files(tmp_path) == before
    assert sweep.main(_argv(tmp_path, "--recompute", methods="cca")) == 0
    after = _unit_files(tmp_path)
    name = f"{TASK}__cca__n2000__s0.json"
    assert after[name] != before[name]  # recomputed (new seconds/timestamp)
    assert {k: v for k, v in after.items() if k != name} == {k: v for k, v in before.items() if k != name}


def test_failed_unit_recorded_and_retried_only_on_request(tmp_path: Path, monkeypatch, capsys) -> None:
    def diverge(unit, data):
        raise TrainingDivergedError(step=17, model=0, lr=1e-3)

    monkeypatch.setattr(units, "_run_baseline", diverge)
    assert sweep.main(_argv(tmp_path, methods="cca", seeds="0-1")) == 1
    recs = res.load_units("t", "smoke", tmp_path)
    assert len(recs) == 2 and all(r.status == "failed" for r in recs.values())
    rec = next(iter(recs.values()))
    assert rec.diverged_step == 17 and rec.error.startswith("TrainingDivergedError: ")
    assert "FAILED" in capsys.readouterr().err
    monkeypatch.undo()
    assert sweep.main(_argv(tmp_path, methods="cca", seeds="0-1")) == 1  # kept, not retried
    assert "2 failed (kept" in capsys.readouterr().out
    df = sweep.run_sweep("t", "smoke", TASK, "cca", "0-1", out=tmp_path, retry_failed=True,
                         progress=False)
    assert (df["status"] == "ok").all() and len(df) == 2


def test_run_sweep_returns_requested_units_only(tmp_path: Path) -> None:
    sweep.run_sweep("t", "smoke", TASK, "cca", "0-2", out=tmp_path, progress=False)
    df = sweep.run_sweep("t", "smoke", [TASK], ["cca"], [1], out=tmp_path, progress=False)
    assert list(df["seed"]) == [1]
    assert len(res.aggregate("t", "smoke", tmp_path)) == 3
    table = sweep.summary_table(res.aggregate("t", "smoke", tmp_path))
    assert table.loc["cca", "units"] == 3 and table.loc["cca", "failed"] == 0


def _wait_for(pred, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Poll ``pred`` until true; fail on timeout or if ``proc`` exits first."""
    end = time.monotonic() + timeout
    while not pred():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"process exited early with {proc.returncode}: {proc.stderr.read()}")
        if time.monotonic() > end:
            pytest.fail("timed out")
        time.sleep(0.05)


@pytest.mark.slow
def test_killed_sweep_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    # groups of 2 seeds (records come in pairs), so that a kill can land between groups
    argv = [sys.executable, "-m", "minde.repro.sweep",
            *_argv(tmp_path, "--group-size", "2", methods="minde_c", seeds="0-3")]
    env = {**os.environ, "PYTHONPATH": str(REPO), "MINDE_NUM_THREADS": "1"}
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: len(_unit_files(tmp_path)) >= 1, 120, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = _unit_files(tmp_path)
    assert 1 <= len(first) < 4, "the sweep must be killed mid-way"
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{len(first)} done" in done.stdout
    final = _unit_files(tmp_path)
    assert len(final) == 4
    assert all(final[k] == v for k, v in first.items())  # finished units not recomputed
    df = res.aggregate("t", "smoke", tmp_path)
    df = df[~df["variant"].map(res.is_joint_variant)]  # the seed groups' joint evaluations
    assert len(df) == 8 and sorted(set(df["seed"])) == list(range(4))
    assert not df.duplicated(["task", "method", "variant", "n_train", "seed"]).any()
    assert not list((tmp_path / "t" / "smoke" / "units").glob(".*.tmp"))


def test_records_of_another_recipe_are_recomputed(tmp_path: Path, monkeypatch, capsys) -> None:
    """A finished MINDE record trained with other settings than the budget's now is rerun;
    baselines and records of the current settings are kept."""
    import dataclasses

    from minde import config

    assert sweep.main(_argv(tmp_path)) == 0
    plan = sweep.plan_sweep("t", "smoke", TASK, "minde_c,cca", "0", n_train=2000, n_test=1000, out=tmp_path)
    assert (plan.done, plan.outdated, plan.todo) == (2, 0, [])
    changed = dataclasses.replace(config.BUDGETS["smoke"], lr_schedule="cosine", warmup=0.1)
    monkeypatch.setitem(config.BUDGETS, "smoke", changed)
    capsys.readouterr()
    plan = sweep.plan_sweep("t", "smoke", TASK, "minde_c,cca", "0", n_train=2000, n_test=1000, out=tmp_path)
    assert plan.done == 1 and plan.outdated == 1 and [u.method for u in plan.todo] == ["minde_c"]
    out = capsys.readouterr().out
    assert "lr_schedule 'constant' (now 'cosine')" in out and "warmup_steps 0 (now 20)" in out


def test_notebook_sweep_can_replace_sizes_and_compute_nothing(tmp_path: Path, capsys, monkeypatch) -> None:
    """sweep_results(n_train=..., finished_only=True): the paper-protocol rendering of a partial sweep."""
    from minde.repro.experiments import get_plan, output_stem, sweep_results

    task = get_plan("fig03_benchmark_tasks", "smoke").tasks[0]
    empty = sweep_results("fig03_benchmark_tasks", "smoke", root=tmp_path, n_train=500, finished_only=True)
    assert empty.empty and not (tmp_path / "benchmark").exists()  # nothing computed, nothing written
    sweep.run_sweep("benchmark", "smoke", task, "cca", "1", n_train=500, out=tmp_path, progress=False)
    capsys.readouterr()
    df = sweep_results("fig03_benchmark_tasks", "smoke", root=tmp_path, n_train=500, seeds=[1],
                       finished_only=True)
    assert list(zip(df["task"], df["method"], df["n_train"], df["seed"])) == [(task, "cca", 500, 1)]
    assert capsys.readouterr().out.count("\n") == 1  # one summary line, not the list of units to run
    assert output_stem("fig03_benchmark_tasks_1_20", 10_000) == "fig03_benchmark_tasks_1_20_n10000"
    # a MINDE record of an earlier recipe is not a finished unit
    sweep.run_sweep("benchmark", "smoke", task, "minde_c", "1", n_train=500, out=tmp_path, progress=False)
    both = sweep_results("fig03_benchmark_tasks", "smoke", root=tmp_path, n_train=500, seeds=[1], finished_only=True)
    assert sorted(set(both["method"])) == ["cca", "minde_c"]
    import dataclasses

    from minde import config

    monkeypatch.setitem(config.BUDGETS, "smoke", dataclasses.replace(config.BUDGETS["smoke"], lr_scale=3.0))
    capsys.readouterr()
    only = sweep_results("fig03_benchmark_tasks", "smoke", root=tmp_path, n_train=500, seeds=[1], finished_only=True)
    assert sorted(set(only["method"])) == ["cca"] and "earlier recipe" in capsys.readouterr().out
    assert output_stem("x", None) == "x"


def test_an_epoch_rule_sets_the_steps_of_minde_units_and_reruns_records_with_other_steps(tmp_path: Path) -> None:
    """--epochs: a MINDE unit trains for ceil(epochs x n_train / batch) steps (at most the cap),
    its record says so, a rerun with the same rule keeps it, and one with another rule retrains
    it; baselines are untouched."""
    from minde.repro.units import EpochRule, outdated_records

    rule = EpochRule(2, cap=5)
    assert rule.steps("1v1-normal-0.75", "minde_c", 200, "smoke") == 4  # 2 x 200 / 128 -> 4 (batch 128)
    assert rule.steps("1v1-normal-0.75", "minde_c", 1000, "smoke") == 5  # 16, capped
    assert rule.steps("1v1-normal-0.75", "cca", 1000, "smoke") is None
    with pytest.raises(units.SweepArgumentError, match="epochs"):
        EpochRule(0)
    kw = dict(n_train="200,1000", n_test=100, out=tmp_path, progress=False)
    df = sweep.run_sweep("e", "smoke", "1v1-normal-0.75", "minde_c,cca", "0", epochs=rule, **kw)
    assert (df["status"] == "ok").all()
    recs = res.load_units("e", "smoke", tmp_path)
    steps = {k[2]: r.extra["settings"]["steps"] for k, r in recs.items() if k[1] == "minde_c"}
    assert steps == {200: 4, 1000: 5}
    assert not outdated_records(recs, "smoke", rule)
    from minde.repro.verify import _unit  # --verify recomputes a record with the steps its plan gave it

    assert {k[2]: _unit(r).steps for k, r in recs.items() if k[1] == "minde_c"} == {200: 4, 1000: 5}
    assert set(outdated_records(recs, "smoke")) == {k for k in recs if k[1] == "minde_c"}  # the budget's 200 steps
    plan = sweep.plan_sweep("e", "smoke", "1v1-normal-0.75", "minde_c,cca", "0", out=tmp_path,
                            n_train="200,1000", n_test=100, epochs=rule)
    assert plan.todo == [] and plan.done == 4
    plan = sweep.plan_sweep("e", "smoke", "1v1-normal-0.75", "minde_c,cca", "0", out=tmp_path,
                            n_train="200,1000", n_test=100, epochs=EpochRule(3))
    assert sorted((u.n_train, u.steps) for u in plan.todo) == [(200, 5), (1000, 24)]


def test_the_cli_takes_an_epoch_rule(tmp_path: Path, capsys) -> None:
    base = ["--experiment", "e", "--budget", "smoke", "--tasks", "1v1-normal-0.75", "--methods", "minde_c",
            "--n-train", "300", "--out", str(tmp_path), "--dry-run"]
    with pytest.raises(SystemExit):
        sweep.main(base + ["--max-steps", "10"])
    assert "--max-steps caps --epochs" in capsys.readouterr().err
    assert sweep.main(base + ["--epochs", "0"]) == 2
    assert "--epochs" in capsys.readouterr().err
    assert sweep.main(base + ["--epochs", "4", "--max-steps", "7"]) == 0


def test_a_doe_record_keeps_its_fitting_recipe_and_goes_stale_when_the_budget_changes(tmp_path: Path,
                                                                                       monkeypatch) -> None:
    """A DoE unit's record keeps the settings it was fitted with; a record without them, or with
    another step count than the budget now gives, is stale: the sweep refits it, and only it."""
    import dataclasses

    from minde.bench import baselines
    from minde.repro.units import outdated_records

    kw = dict(n_train=300, n_test=100, out=tmp_path, progress=False)
    df = sweep.run_sweep("e", "smoke", "1v1-normal-0.75", "doe_gauss,cca", "0", **kw)
    assert (df["status"] == "ok").all()
    recs = res.load_units("e", "smoke", tmp_path)
    key = ("1v1-normal-0.75", "doe_gauss", 300, 0)
    assert recs[key].extra["settings"]["n_steps"] == baselines.BASELINE_BUDGETS["smoke"].doe_steps
    assert not outdated_records(recs, "smoke")
    assert outdated_records({key: dataclasses.replace(recs[key], extra={})}, "smoke") == {
        key: "no fitting settings recorded"}
    monkeypatch.setitem(baselines.BASELINE_BUDGETS, "smoke",
                        dataclasses.replace(baselines.BASELINE_BUDGETS["smoke"], doe_steps=7))
    assert list(outdated_records(recs, "smoke")) == [key]
    plan = sweep.plan_sweep("e", "smoke", "1v1-normal-0.75", "doe_gauss,cca", "0", out=tmp_path, n_train=300,
                            n_test=100)
    assert [u.method for u in plan.todo] == ["doe_gauss"] and plan.done == 1
