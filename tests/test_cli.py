"""The ``minde`` command line on generated files: formats, JSON record, accuracy, every input error."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minde.cli import main

ROOT = Path(__file__).resolve().parents[1]
RHO = 0.75
TRUTH = -0.5 * math.log(1 - RHO**2)  # 0.4133 nats
SMOKE = ["--budget", "smoke", "--kind", "c", "--no-progress", "--folds", "0"]  # one split: one model


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m minde ARGS`` in a subprocess importing this checkout's minde."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "minde", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def gaussian(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n rows of a bivariate normal with correlation RHO: x (n,), y (n,)."""
    z = np.random.default_rng(seed).multivariate_normal([0, 0], [[1, RHO], [RHO, 1]], size=n)
    return z[:, 0], z[:, 1]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """One folder with the same 400-row sample (X 2-D: signal + noise column, Y 1-D) in every format."""
    d = tmp_path_factory.mktemp("cli")
    x, y = gaussian(400)
    noise = np.random.default_rng(1).normal(size=400)
    table = np.c_[x, noise, y]
    np.save(d / "xy.npy", table)
    np.save(d / "x.npy", table[:, :2])
    np.save(d / "y.npy", y)
    np.savez(d / "xy.npz", x=table[:, :2], y=y, other=y[:10])
    header = "id,a,noise,b"
    rows = [f"s{i},{a!r},{b!r},{c!r}" for i, (a, b, c) in enumerate(table)]
    (d / "xy.csv").write_text("\n".join([header, *rows]) + "\n")
    (d / "xy.tsv").write_text("\n".join(r.replace(",", "\t") for r in [header, *rows]) + "\n")
    (d / "noheader.csv").write_text("\n".join(",".join(map(repr, r)) for r in table) + "\n")
    return d


def estimate_json(d: Path, *args: str) -> dict:
    """Run ``minde estimate ... --json`` at the smoke budget and parse stdout."""
    proc = run_cli("estimate", *args, *SMOKE, "--json", cwd=d)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def reference(files) -> dict:
    """Estimates of the .npy form, which every other form must reproduce."""
    return estimate_json(files, "xy.npy", "--y", "2")["estimates"]


_SLOW = pytest.mark.slow  # each form is a process of its own: the first tier runs three of them


@pytest.mark.parametrize("args, x_cols, y_cols", [
    pytest.param(["xy.npy", "--x", "0:2", "--y", "2"], ["0", "1"], ["2"], marks=_SLOW),
    pytest.param(["xy.npy", "--y", "-1"], ["0", "1"], ["2"], marks=_SLOW),  # --x: the other columns
    (["xy.npz"], ["x[0]", "x[1]"], ["y[0]"]),  # default arrays x and y
    (["xy.csv", "--x", "a,noise", "--y", "b"], ["a", "noise"], ["b"]),  # by header names
    pytest.param(["xy.csv", "--x", "1:3", "--y", "3"], ["a", "noise"], ["b"], marks=_SLOW),  # index ranges
    pytest.param(["noheader.csv", "--x", "0,1"], ["0", "1"], ["2"], marks=_SLOW),  # no header row detected
    pytest.param(["xy.tsv", "--x", "a,noise", "--y", "b"], ["a", "noise"], ["b"], marks=_SLOW),
    (["x.npy", "--y-file", "y.npy"], ["0", "1"], ["0"]),  # two-file form
])
def test_formats_give_the_same_columns_and_estimate(files, reference, args, x_cols, y_cols):
    rec = estimate_json(files, *args)
    assert rec["data"]["x_columns"] == x_cols and rec["data"]["y_columns"] == y_cols
    assert (rec["data"]["n_rows"], rec["data"]["n_train"], rec["data"]["n_test"]) == (400, 360, 40)
    # the same numbers in every format and the same seed -> the same estimate
    assert math.isfinite(rec["estimates"]["minde_c"]["mi"])
    for variant in ("minde_c", "minde_c_sigma"):
        assert rec["estimates"][variant]["mi"] == pytest.approx(reference[variant]["mi"], abs=1e-5)


def test_json_record_fields_and_bits(files):
    rec = estimate_json(files, "xy.npy", "--y", "2", "--n-seeds", "2", "--bits")
    assert set(rec) >= {"estimates", "entropies", "data", "settings", "timings", "versions", "unit"}
    assert rec["unit"] == "bits"
    # two models: the cross-model estimates are reported beside the paper's; MINDE-C answers with its own
    assert set(rec["estimates"]) == {"minde_c", "minde_c_sigma", "minde_c_cross", "minde_c_sigma_cross"}
    assert rec["answer"]["c"]["variant"] == "minde_c"
    assert rec["answer"]["c"]["mi"] == rec["estimates"]["minde_c"]["mi"]
    assert rec["estimates"]["minde_c_cross"]["mi"] == pytest.approx(
        rec["results_nats"]["c"]["cross"]["mi"] / math.log(2), rel=1e-9)
    e, raw = rec["estimates"]["minde_c"], rec["results_nats"]["c"]
    assert len(e["per_seed"]) == 2 and e["seed_std"] > 0  # two models, two different estimates
    assert e["mi"] == pytest.approx(raw["mi"] / math.log(2), rel=1e-9)
    assert set(rec["entropies"]["c"]) == {"H(X)", "H(X|Y)"}
    assert rec["settings"]["resolved"]["c"]["n_seeds"] == 2 and rec["settings"]["budget"] == "smoke"
    assert {"minde", "torch", "numpy", "python"} <= set(rec["versions"])
    assert rec["timings"]["total"] >= rec["timings"]["train_c"] > 0


def test_json_is_strict_when_a_standard_error_is_undefined(files):
    rec = estimate_json(files, "xy.npy", "--y", "2")  # smoke: 2 passes, defined
    assert rec["estimates"]["minde_c"]["stderr"] > 0
    from minde.cli import _strict_json
    assert _strict_json({"a": [float("nan"), 1.0], "b": float("inf")}) == {"a": [None, 1.0], "b": None}


def test_text_report_and_atomic_out(files, tmp_path):
    out = tmp_path / "report.json"
    proc = run_cli("estimate", "xy.npz", "--budget", "smoke", "--kind", "both", "--json",
                   "--out", out, cwd=files)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and f"wrote {out}" in proc.stderr
    assert "step" in proc.stderr  # the progress bar went to stderr
    rec = json.loads(out.read_text())
    assert set(rec["estimates"]) == {"minde_c", "minde_c_sigma", "minde_j", "minde_j_sigma", "minde_j_cross",
                                     "minde_j_sigma_cross"}
    # below 5 000 rows the default cross-fits 5 folds on 320 rows each and scores all 400 rows:
    # one model per fold for MINDE-C, two for MINDE-J, whose answer is their cross-model estimate
    assert (rec["data"]["n_rows"], rec["data"]["n_train"], rec["data"]["n_test"]) == (400, 320, 400)
    assert rec["settings"]["folds"] == 5 and rec["settings"]["resolved"]["j"]["folds"] == 5
    assert rec["settings"]["test_size"] is None and len(rec["estimates"]["minde_c"]["per_seed"]) == 5
    assert len(rec["estimates"]["minde_j"]["per_seed"]) == 10
    assert {k: a["variant"] for k, a in rec["answer"].items()} == {"c": "minde_c", "j": "minde_j_cross"}
    assert rec["answer"]["j"]["mi"] == rec["estimates"]["minde_j_cross"]["mi"]
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind
    text = run_cli("estimate", "xy.npz", *SMOKE, "--n-seeds", "2", cwd=files)
    assert text.returncode == 0, text.stderr
    for needle in ("answer, MINDE-C: I = ", "MINDE-C cross-model", "MINDE-C(σ)", "seed std", "H(X|Y) =", "nats"):
        assert needle in text.stdout


@pytest.mark.slow
def test_known_gaussian_within_tolerance_at_quick_budget(tmp_path):
    x, y = gaussian(11_000, seed=3)
    np.savetxt(tmp_path / "g.csv", np.c_[x, y], delimiter=",", header="x,y", comments="")
    proc = run_cli("estimate", "g.csv", "--x", "x", "--y", "y", "--kind", "c", "--budget", "quick",
                   "--json", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    est = json.loads(proc.stdout)["estimates"]
    for variant in ("minde_c", "minde_c_sigma"):
        assert abs(est[variant]["mi"] - TRUTH) < 0.1, f"{variant}: {est[variant]['mi']:.4f} vs {TRUTH:.4f}"


def _bad_files(d: Path) -> None:
    """Files with one defect each."""
    x, y = gaussian(100)
    table = np.c_[x, y]
    with_nan = table.copy()
    with_nan[[3, 7, 50], 1] = np.nan
    np.save(d / "nan.npy", with_nan)
    lines = ["a,b"] + [f"{p!r},{q!r}" for p, q in table]
    lines[5] = "0.1,"  # empty cell on file line 6
    (d / "missing.csv").write_text("\n".join(lines) + "\n")
    lines = ["a,b"] + [f"{p!r},{q!r}" for p, q in table]
    lines[9] = "0.1,abc"
    (d / "text.csv").write_text("\n".join(lines) + "\n")
    np.save(d / "x100.npy", x)
    np.save(d / "y99.npy", y[:99])
    np.save(d / "tiny.npy", table[:10])
    np.save(d / "three.npy", np.c_[table, x])
    np.save(d / "cube.npy", np.zeros((5, 2, 2)))
    np.save(d / "const.npy", np.c_[x, np.ones_like(x)])
    (d / "data.parquet").write_text("x")
    (d / "ragged.csv").write_text("a,b\n1,2\n3\n")


ERRORS = [  # (argv, exit status, pieces of the message)
    (["estimate", "absent.npy"], 2, ["not found", "absent.npy"]),
    (["estimate", "data.parquet"], 2, ["unknown extension", ".parquet", ".csv"]),
    (["estimate", "xy.csv", "--x", "a", "--y", "nope"], 2, ["unknown column 'nope'", "id, a, noise, b"]),
    (["estimate", "xy.npy", "--x", "7", "--y", "0"], 2, ["column index 7 out of range", "3 column"]),
    (["estimate", "xy.npz", "--x", "z"], 2, ["no array 'z'", "x, y, other"]),
    (["estimate", "xy.npz", "--x", "other"], 2, ["different numbers of rows", "10", "400"]),
    (["estimate", "nan.npy"], 2, ["NaN", "3 of 100 rows", "3, 7, 50"]),
    (["estimate", "missing.csv"], 2, ["missing", "1 of 100 rows", "line(s) 6"]),
    (["estimate", "text.csv"], 2, ["not numeric", "'abc'", "line 10"]),
    (["estimate", "xy.csv", "--x", "id", "--y", "b"], 2, ["column 'id'", "not numeric", "'s0'"]),
    (["estimate", "x100.npy", "--y-file", "y99.npy"], 2, ["different numbers of rows", "100", "99"]),
    (["estimate", "x100.npy", "--y-file", "absent.csv"], 2, ["--y-file", "not found"]),
    (["estimate", "tiny.npy"], 2, ["too few rows: 10"]),
    (["estimate", "three.npy"], 2, ["3 column(s)", "--x"]),
    (["estimate", "cube.npy"], 2, ["shape (5, 2, 2)"]),
    (["estimate", "const.npy", "--budget", "smoke"], 2, ["zero-variance"]),
    (["estimate", "ragged.csv"], 2, ["line 3 has 1 fields, expected 2"]),
    (["estimate", "xy.npy", "--y", "2", "--x", "1:2,2"], 2, ["share column"]),
    (["estimate", "xy.npy", "--y", "2", "--test-size", "1.5"], 2, ["--test-size"]),
    (["estimate", "xy.npy", "--y", "2", "--n-seeds", "0"], 2, ["--n-seeds must be >= 1"]),
    (["estimate", "xy.npy", "--y", "2", "--folds", "1"], 2, ["--folds must be an integer >= 2"]),
    (["estimate", "xy.npy", "--y", "2", "--folds", "300"], 2, ["too few rows: 400 for 300 folds"]),
    (["estimate", "xy.npy", "--y", "2", "--folds", "3", "--n-seeds", "2"], 2, ["--folds", "--n-seeds"]),
    (["estimate", "xy.npy", "--y", "2", "--seeds", "0-2"], 2, ["--n-seeds K", "list of seeds"]),
    (["estimate", "xy.npy", "--y", "2", "--device", "tpu9"], 2, ["device"]),
    (["estimate", "xy.npy", "--y", "2", "--out", "no/such/dir/r.json"], 2, ["folder does not exist"]),
    (["estimate", "xy.npy", "--kind", "q"], 2, ["invalid choice: 'q'"]),
    (["sample", "no-such-task", "--n", "10", "--out", "s.npz"], 2, ["unknown task id"]),
    (["sample", "1v1-normal-0.75", "--n", "10", "--out", "s.csv"], 2, [".npz"]),
]


@pytest.mark.parametrize("argv, status, pieces", ERRORS, ids=[" ".join(e[0][:3]) for e in ERRORS])
def test_input_errors_name_the_problem(files, capsys, monkeypatch, argv, status, pieces):
    _bad_files(files)
    monkeypatch.chdir(files)
    code = main(argv + ["--no-progress"] if argv[0] == "estimate" else argv)
    err = capsys.readouterr().err
    assert code == status
    assert "Traceback" not in err and "minde: error:" in err
    for piece in pieces:
        assert piece in err, f"{piece!r} not in {err!r}"


def test_errors_exit_2_from_a_real_process(files):
    _bad_files(files)
    for args in (["estimate", "absent.npy"], ["estimate", "nan.npy"], ["estimate", "xy.npy", "--kind", "q"]):
        proc = run_cli(*args, cwd=files)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and "minde: error:" in proc.stderr
        assert proc.stdout == ""


def test_tasks_and_sample_round_trip(tmp_path):
    proc = run_cli("tasks", "--group", "benchmark", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {r["id"]: r for r in json.loads(proc.stdout)}
    assert len(rows) == 40
    assert rows["1v1-normal-0.75"]["mi"] == pytest.approx(TRUTH, abs=1e-6)
    proc = run_cli("sample", "1v1-normal-0.75", "--n", "300", "--seed", "4", "--out", "s.npz", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp_path / "s.npz") as data:
        assert data["x"].shape == (300, 1) and data["y"].shape == (300, 1)
        assert abs(np.corrcoef(data["x"][:, 0], data["y"][:, 0])[0, 1] - RHO) < 0.1
    table = run_cli("tasks", "--group", "highmi", cwd=tmp_path)
    assert table.returncode == 0 and "highmi-sparse-5-5-s2" in table.stdout


def test_the_reproduction_commands_run_through_minde(capsys):
    """``minde sweep|reproduce|report|recipes`` hand their arguments to the reproduction layer unchanged."""
    from minde.cli import REPRO_COMMANDS, main

    assert main(["--help"]) == 0
    listed = capsys.readouterr().out
    for name in REPRO_COMMANDS:
        assert name in listed
        assert main([name, "--help"]) == 0
        assert f"usage: minde {name}" in capsys.readouterr().out
    assert main(["report"]) == 2  # its own usage error: --budget is required
    assert "--budget" in capsys.readouterr().err
