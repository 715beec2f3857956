"""``minde sweep --verify``: committed records are recomputed from the code and compared."""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from minde.repro import results as res
from minde.repro import sweep, verify
from minde.repro.verify import format_table, run_verify, select_records

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "data" / "results" / "benchmark" / "quick" / "units"
CHEAP = [f"{t}__cca__n10000__s0.json" for t in ("1v1-normal-0.75", "student-identity-1-1-1",
                                                "multinormal-dense-2-2-0.5")]


@pytest.fixture(autouse=True)
def _private_sample_cache(tmp_path_factory, monkeypatch) -> None:
    monkeypatch.setenv("MINDE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "sample-cache"))


def _copy(root: Path, names: list[str] = CHEAP) -> Path:
    """Committed quick records (cheap CCA units) copied under a private results root."""
    units = root / "benchmark" / "quick" / "units"
    units.mkdir(parents=True)
    for name in names:
        shutil.copy(COMMITTED / name, units / name)
    return units


def _verify(root: Path, *extra: str) -> int:
    return sweep.main(["--verify", "benchmark", "--budget", "quick", "--out", str(root), *extra])


def test_committed_cheap_records_verify_and_an_altered_one_fails(tmp_path: Path, capsys) -> None:
    units = _copy(tmp_path)
    assert _verify(tmp_path, "--sample", "3") == 0
    out = capsys.readouterr().out
    assert "all 3 estimate(s) reproduced" in out and "recomputed" in out and "|diff|" in out
    rec = res.load_unit(units / CHEAP[1])
    rec.estimates["cca"] += 1e-3  # altered, and saved with a valid checksum
    res.write_unit("benchmark", rec, tmp_path)
    assert res.load_units("benchmark", "quick", tmp_path)[rec.key].estimates == rec.estimates
    assert _verify(tmp_path, "--sample", "3") == 1
    assert "1 of 3 estimate(s) differ from their records" in capsys.readouterr().err
    code, df = run_verify("benchmark", "quick", str(tmp_path), sample=3)
    assert code == 1 and dict(zip(df["unit"], df["ok"])) == {
        "1v1-normal-0.75 cca n=10000 s=0": True, "student-identity-1-1-1 cca n=10000 s=0": False,
        "multinormal-dense-2-2-0.5 cca n=10000 s=0": True}


def test_bitwise_agreement_is_reported_not_required(tmp_path: Path, capsys) -> None:
    """A record stamped with this machine's fingerprint is reported bit-identical; one ulp off is
    noted but passes (the tolerance decides); the exit status never depends on the CPU."""
    units = _copy(tmp_path, CHEAP[:1])
    rec = res.load_unit(units / CHEAP[0])
    code, df = run_verify("benchmark", "quick", str(tmp_path))
    assert code == 0 and not df["expected"].any()  # committed on another machine
    rec.estimates["cca"] = float(df["recomputed"].iloc[0])  # as if made here
    rec.machine, rec.versions = res.machine_info(), res.package_versions()
    rec.fingerprint = res.environment_fingerprint()
    res.write_unit("benchmark", rec, tmp_path)
    code, df = run_verify("benchmark", "quick", str(tmp_path))
    assert code == 0 and df["bitwise"].all() and df["expected"].all()
    rec.estimates["cca"] = math.nextafter(rec.estimates["cca"], 1.0)
    res.write_unit("benchmark", rec, tmp_path)
    code, df = run_verify("benchmark", "quick", str(tmp_path))
    assert code == 0 and not df["bitwise"].any() and df["ok"].all()
    assert "same environment fingerprint, yet not bit-identical" in df["note"].iloc[0]
    rec.fingerprint = "0" * 16  # another machine: bit equality is not expected, and not noted
    res.write_unit("benchmark", rec, tmp_path)
    code, df = run_verify("benchmark", "quick", str(tmp_path))
    assert code == 0 and not df["expected"].any() and "other environment" in df["note"].iloc[0]


def _record(method: str, seed: int, estimates: dict[str, float], **extra: float) -> res.UnitRecord:
    return res.UnitRecord(task="t", method=method, n_train=100, n_test=50, seed=seed, budget="quick",
                          estimates=estimates, extra=dict(extra))


def test_tolerances_follow_each_estimate_uncertainty() -> None:
    """MINDE: 4 combined Monte Carlo standard errors; CCA/KDE: 1e-6 relative, KSG also 5/n_test; SGD-trained
    baselines: a quarter of the committed spread over seeds, else 2 % relative."""
    rec = _record("minde_c", 0, {"minde_c": 1.0, "minde_c_sigma": 0.9}, mi_stderr=0.03, mi_sigma_stderr=0.01)
    new = _record("minde_c", 0, {"minde_c": 1.0, "minde_c_sigma": 0.9}, mi_stderr=0.04, mi_sigma_stderr=0.01)
    assert verify.tolerance(rec, new, "minde_c") == pytest.approx((4 * 0.05, "4 MC se"))
    assert verify.tolerance(rec, new, "minde_c_sigma")[0] == pytest.approx(4 * 0.01 * math.sqrt(2))
    cca, ksg = _record("cca", 0, {"cca": 2.0}), _record("ksg", 0, {"ksg": 2.0})
    assert verify.tolerance(cca, cca, "cca")[0] == pytest.approx(2e-6)
    assert verify.tolerance(ksg, ksg, "ksg")[0] == pytest.approx(2e-6 + 5 / 50)
    seeds = {r.key: r for r in (_record("infonce", s, {"infonce": v}) for s, v in enumerate((0.5, 0.6, 0.7)))}
    lone = _record("infonce", 0, {"infonce": 0.5})
    assert verify.tolerance(lone, lone, "infonce", seeds) == pytest.approx((0.25 * 0.1, "0.25 seed sd"))
    assert verify.tolerance(lone, lone, "infonce", {})[0] == pytest.approx(0.02 * 0.5)


def test_selection_is_reproducible_and_filtered_by_time(tmp_path: Path, capsys) -> None:
    recs = res.load_units("benchmark", "quick")
    a, b = select_records(recs, 5, 60, 0), select_records(recs, 5, 60, 0)
    assert [r.key for r in a] == [r.key for r in b] and all(r.seconds <= 60 for r in a)
    assert [r.key for r in select_records(recs, 5, 60, 1)] != [r.key for r in a]
    assert all(r.method == "cca" for r in select_records(recs, 50, 0.1, 0))
    _copy(tmp_path, CHEAP[:1])
    assert _verify(tmp_path, "--max-seconds", "0") == 2  # nothing that cheap
    assert "no finished records with seconds <= 0" in capsys.readouterr().err


@pytest.mark.slow
def test_committed_quick_benchmark_records_are_reproduced(capsys) -> None:
    """What the second test tier runs: `--verify benchmark --budget quick --sample 3 --max-seconds 60`.

    Every recomputed estimate must agree with its record within its tolerance, on whatever CPU
    this runs: the records were made on another machine, so bit-identical results are not expected.
    """
    assert len(list(COMMITTED.glob("*.json"))) >= 100
    code, df = run_verify("benchmark", "quick", sample=3, max_seconds=60)  # what the command runs
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err + ("" if df is None else format_table(df[~df["ok"]]))
