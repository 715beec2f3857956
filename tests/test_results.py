"""Tests of the results store (minde/results.py): atomic checksummed records, aggregation."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from minde.repro import results as res

REPO = Path(__file__).resolve().parents[1]


def _record(method: str = "minde_c", seed: int = 0, status: str = "ok", **kw) -> res.UnitRecord:
    """A small valid record."""
    est = {v: 0.4 + 0.01 * i for i, v in enumerate(res.method_variants(method))} if status == "ok" else {}
    base = dict(task="1v1-normal-0.75", method=method, n_train=100, n_test=50, seed=seed,
                budget="smoke", status=status, estimates=est, truth=0.41333928659223396,
                seconds=1.5, timestamp="2026-01-01T00:00:00+00:00")
    base.update(kw)
    return res.UnitRecord(**base)


def test_roundtrip_preserves_every_field(tmp_path: Path) -> None:
    rec = _record(extra={"stderr": float("nan"), "settings": {"steps": 200}})
    path = res.write_unit("exp", rec, tmp_path)
    assert path == tmp_path / "exp" / "smoke" / "units" / "1v1-normal-0.75__minde_c__n100__s0.json"
    back = res.load_unit(path)
    assert back is not None and back.key == rec.key and back.ok
    assert back.estimates == rec.estimates and back.truth == rec.truth
    assert back.extra == {"stderr": None, "settings": {"steps": 200}}  # NaN stored as null
    assert json.loads(path.read_text())["checksum"]


def test_atomic_write_leaves_no_temp_and_keeps_old_on_failure(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "a" / "f.json"
    res.atomic_write_text(target, "old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(res.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        res.atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.json"]  # temp file removed


@pytest.mark.parametrize("damage", ["truncate", "garble", "edit_estimate", "empty"])
def test_corrupt_record_is_reported_and_treated_as_missing(tmp_path: Path, damage: str) -> None:
    good = res.write_unit("exp", _record(seed=0), tmp_path)
    bad = res.write_unit("exp", _record(seed=1), tmp_path)
    text = bad.read_text()
    if damage == "truncate":
        bad.write_text(text[: len(text) // 2])
    elif damage == "garble":
        bad.write_bytes(b"\x00\xff" + text.encode()[2:])
    elif damage == "edit_estimate":
        bad.write_text(text.replace('"minde_c": 0.4', '"minde_c": 0.9'))
        assert bad.read_text() != text
    else:
        bad.write_text("")
    with pytest.warns(res.CorruptRecordWarning, match=str(bad.name)):
        units = res.load_units("exp", "smoke", tmp_path)
    assert list(units) == [res.UnitRecord.from_json(good.read_text()).key]


def test_record_under_wrong_name_is_ignored(tmp_path: Path) -> None:
    path = res.write_unit("exp", _record(seed=0), tmp_path)
    path.rename(path.with_name("1v1-normal-0.75__minde_c__n100__s7.json"))
    with pytest.warns(res.CorruptRecordWarning, match="does not match its location"):
        assert res.load_units("exp", "smoke", tmp_path) == {}


def test_temp_files_are_not_records(tmp_path: Path) -> None:
    res.write_unit("exp", _record(seed=0), tmp_path)
    units = tmp_path / "exp" / "smoke" / "units"
    (units / ".x.json.abc.tmp").write_text("{partial")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(res.load_units("exp", "smoke", tmp_path)) == 1
    assert res.clean_stale_temps("exp", "smoke", tmp_path) == 1
    assert not list(units.glob(".*.tmp"))


def test_aggregate_tidy_rows_and_csv(tmp_path: Path) -> None:
    res.write_unit("exp", _record("minde_c", seed=1), tmp_path)
    res.write_unit("exp", _record("minde_c", seed=0), tmp_path)
    res.write_unit("exp", _record("cca", seed=0, status="failed", error="ValueError: x"), tmp_path)
    res.write_unit("other", _record("cca", seed=0), tmp_path)  # another experiment: not included
    df = res.aggregate("exp", "smoke", tmp_path)
    assert list(df.columns) == res.TIDY_COLUMNS
    assert len(df) == 2 * 2 + 1
    assert list(df["variant"]) == ["cca", "minde_c", "minde_c", "minde_c_sigma", "minde_c_sigma"]
    assert list(df["seed"]) == [0, 0, 1, 0, 1]
    failed = df[df["status"] == "failed"].iloc[0]
    assert math.isnan(failed["estimate"]) and failed["error"] == "ValueError: x"
    ok = df[df["variant"] == "minde_c"].iloc[0]
    assert ok["abs_error"] == pytest.approx(abs(0.4 - 0.41333928659223396), abs=1e-12)
    csv = pd.read_csv(tmp_path / "exp" / "smoke" / "results.csv")
    assert len(csv) == len(df) and list(csv.columns) == res.TIDY_COLUMNS
    assert not df.duplicated(["task", "method", "variant", "n_train", "seed"]).any()


def test_meta_json(tmp_path: Path) -> None:
    path = res.write_meta("exp", "smoke", tmp_path, device=["cpu"])
    meta = json.loads(path.read_text())
    assert meta["budget"] == "smoke" and meta["device"] == ["cpu"]
    assert set(res.PACKAGES) <= set(meta["versions"]) and "git_rev" in meta


def test_results_module_needs_no_torch(tmp_path: Path) -> None:
    """Import the results store and aggregate without loading torch, jax or bmi."""
    res.write_unit("exp", _record(), tmp_path)
    code = (
        "import sys\n"
        "import minde.repro.results as m\n"
        f"df = m.aggregate('exp', 'smoke', {str(tmp_path)!r})\n"
        "assert len(df) == 2, df\n"
        "bad = [k for k in ('torch', 'jax', 'bmi') if k in sys.modules]\n"
        "assert not bad, bad\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": ""})
    assert out.returncode == 0, out.stderr
