"""Committed numbers come from the code: recompute a sample of unit records and compare (docs/method.md §8).

    minde sweep --verify EXPERIMENT --budget B [--sample K] [--max-seconds S]
        [--seed-select N] [--out DIR]

Among the finished records of ``OUT/EXPERIMENT/B/units`` whose unit took at most S seconds, K
are chosen reproducibly (the keys sorted, then ``numpy.random.default_rng(N)`` picks K without
replacement). Each is recomputed exactly as its record describes it (task, method, n_train,
n_test, seed, budget, with the data drawn from its seed); a MINDE unit that was trained inside a
seed group (``extra.group_seeds``) is recomputed in that same group.

A recomputed estimate agrees with its record when it lies within a tolerance derived from the
estimate's own uncertainty (:func:`tolerance`):

- MINDE: ``Z_MC`` (4) combined Monte Carlo standard errors, sqrt(se_record² + se_recomputed²).
  Another CPU's rounding, amplified by 10 000 training steps, moved committed MINDE records by
  at most 0.4 standard errors where it was measured;
- baselines that are deterministic given the data (CCA, KSG, KDE): ``DETERMINISTIC_REL_TOL``
  (1e-6) relative. The data are float32 draws of bmi's JAX samplers, whose last bits differ
  between CPUs (CCA on multinormal-dense-2-2-0.5 moved by 3e-8 relative where it was measured).
  KSG counts neighbours, and such a move can change a count by one, which moves the estimate by
  at most 1/n_test: KSG is also allowed ``KSG_COUNT_CHANGES`` (5) / n_test;
- baselines trained by stochastic gradients (MINE, InfoNCE, NWJ, DV, DoE): ``SEED_FRACTION``
  (a quarter) of the spread (standard deviation) of the committed records of the same unit over
  its seeds, which is what a change of training randomness does to them; with fewer than two
  seeds committed, ``TRAINED_REL_TOL`` (2e-2) relative. Another CPU moved an InfoNCE record by
  5e-3 relative where it was measured.

Bit-identical agreement is a report, not a test: the column ``bitwise`` says whether the numbers
are equal to the last bit, and the environment fingerprint (CPU model and instruction-set flags,
torch/numpy/jax versions, thread count; ``results.environment_fingerprint``) says whether that is
to be expected. A record whose fingerprint matches this machine's but does not come out bit for
bit is noted, and still passes within its tolerance. An altered record fails wherever it runs.

Nothing is written. The exit status is 0 when every recomputed estimate agrees, 1 otherwise.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from minde.repro import results as res
from minde.repro.units import Unit, run_group, run_unit

__all__ = ["Z_MC", "DETERMINISTIC_REL_TOL", "KSG_COUNT_CHANGES", "TRAINED_REL_TOL", "SEED_FRACTION", "tolerance",
           "select_records", "verify_records", "format_table", "main_verify", "run_verify"]

Z_MC = 4.0  # MINDE: allowed difference in combined Monte Carlo standard errors
DETERMINISTIC_REL_TOL = 1e-6  # CCA, KSG, KDE: relative tolerance (float32 data, last bits differ)
KSG_COUNT_CHANGES = 5  # KSG: neighbour counts that may change by one, each worth <= 1/n_test nats
SEED_FRACTION = 0.25  # SGD-trained baselines: allowed fraction of the committed spread over seeds
TRAINED_REL_TOL = 2e-2  # SGD-trained baselines with fewer than two committed seeds: relative
DETERMINISTIC = ("cca", "ksg", "kde")


def select_records(records: dict[res.UnitKey, res.UnitRecord], sample: int, max_seconds: float | None,
                   seed: int = 0) -> list[res.UnitRecord]:
    """K finished records with ``seconds <= max_seconds``, chosen reproducibly (sorted keys, seeded RNG)."""
    keys = sorted(k for k, r in records.items()
                  if r.ok and (max_seconds is None or r.seconds <= max_seconds))
    if sample >= len(keys):
        return [records[k] for k in keys]
    pick = np.random.default_rng(seed).choice(len(keys), size=sample, replace=False)
    return [records[keys[i]] for i in sorted(pick)]


def _unit(rec: res.UnitRecord, seed: int | None = None) -> Unit:
    """The unit a record describes (optionally with another seed, for its group mates), with the
    steps its plan gave it when they were not the budget's (``EpochRule``)."""
    settings = rec.extra.get("settings", {}) if isinstance(rec.extra, dict) else {}
    steps = int(settings["steps"]) if settings.get("steps_rule") == "explicit" else None
    return Unit(rec.task, rec.method, int(rec.n_train), int(rec.n_test),
                int(rec.seed if seed is None else seed), rec.budget, rec.truth, steps)


def _recompute(rec: res.UnitRecord, cache: dict[tuple, list[res.UnitRecord]]) -> res.UnitRecord:
    """Rerun the unit of ``rec`` (in its seed group, if it was trained in one)."""
    seeds = [int(s) for s in rec.extra.get("group_seeds") or []]
    if len(seeds) < 2:
        return run_unit(_unit(rec))
    key = (rec.task, rec.method, int(rec.n_train), int(rec.n_test), rec.budget, tuple(seeds))
    if key not in cache:
        cache[key] = run_group([_unit(rec, s) for s in seeds])
    return cache[key][seeds.index(int(rec.seed))]


def _bitwise_expected(rec: res.UnitRecord, new: res.UnitRecord) -> tuple[bool, str]:
    """Is bit-identical recomputation expected (same environment fingerprint, on the CPU)? And why not."""
    if not rec.fingerprint:
        return False, f"record has no environment fingerprint (made on {rec.machine or 'an unrecorded CPU'})"
    if rec.fingerprint != new.fingerprint:
        return False, f"other environment (fingerprint {rec.fingerprint}, {rec.machine})"
    if str(rec.extra.get("device", "cpu")) != "cpu" or str(new.extra.get("device", "cpu")) != "cpu":
        return False, "not on the CPU"
    return True, ""


def _seed_spread(rec: res.UnitRecord, records: dict[res.UnitKey, res.UnitRecord], variant: str) -> float:
    """Standard deviation over seeds of the committed estimates of rec's unit (NaN below 2 seeds)."""
    values = [r.estimates[variant] for r in records.values()
              if (r.task, r.method, r.n_train, r.n_test, r.budget) == (rec.task, rec.method, rec.n_train,
                                                                       rec.n_test, rec.budget)
              and r.ok and math.isfinite(r.estimates.get(variant, math.nan))]
    return float(np.std(values, ddof=1)) if len(values) >= 2 else math.nan


def tolerance(rec: res.UnitRecord, new: res.UnitRecord, variant: str,
              records: dict[res.UnitKey, res.UnitRecord] | None = None) -> tuple[float, str]:
    """Allowed |recomputed - recorded| for one variant of ``rec`` and how it was derived (module doc)."""
    recorded = abs(rec.estimates.get(variant, math.nan))
    if rec.method in DETERMINISTIC:
        tol, rule = DETERMINISTIC_REL_TOL * max(recorded, 1e-12), f"rel {DETERMINISTIC_REL_TOL:g}"
        if rec.method == "ksg":
            tol, rule = tol + KSG_COUNT_CHANGES / rec.n_test, rule + f" + {KSG_COUNT_CHANGES}/n_test"
        return tol, rule
    key = "mi_sigma_stderr" if variant.endswith("_sigma") else "mi_stderr"
    se_a, se_b = rec.extra.get(key), new.extra.get(key)
    if se_a is not None and se_b is not None and math.isfinite(se_a) and math.isfinite(se_b):
        return Z_MC * math.hypot(se_a, se_b), f"{Z_MC:g} MC se"
    spread = _seed_spread(rec, records or {}, variant)
    if math.isfinite(spread) and spread > 0:
        return SEED_FRACTION * spread, f"{SEED_FRACTION:g} seed sd"
    return TRAINED_REL_TOL * max(recorded, 1e-12), f"rel {TRAINED_REL_TOL:g}"


def _settings_diff(rec: res.UnitRecord, new: res.UnitRecord) -> str:
    """Training settings that differ between the record and the recomputation (MINDE units)."""
    a, b = rec.extra.get("settings") or {}, new.extra.get("settings") or {}
    keys = sorted(k for k in set(a) & set(b) if a[k] != b[k] and k not in ("device",))
    return "; ".join(f"{k}: {a[k]!r} -> {b[k]!r}" for k in keys)


def verify_records(records: list[res.UnitRecord], echo: Callable[[str], None] = print,
                   committed: dict[res.UnitKey, res.UnitRecord] | None = None) -> pd.DataFrame:
    """Recompute each record's unit; one row per variant: unit, variant, recorded, recomputed,
    |diff|, tol (and how it was derived, ``rule``), |diff|/se (the record's Monte Carlo standard
    error, MINDE only), ok (within tol), bitwise (equal to the last bit), expected (same
    environment fingerprint, so bitwise equality was expected), note. ``committed``: all the
    records of the folder, for the seed spread of SGD-trained baselines."""
    rows: list[dict[str, Any]] = []
    cache: dict[tuple, list[res.UnitRecord]] = {}
    for rec in records:
        label = f"{rec.task} {rec.method} n={rec.n_train} s={rec.seed}"
        new = _recompute(rec, cache)
        expected, why = _bitwise_expected(rec, new)
        notes = [why] if why else []
        if new.status != "ok":
            notes.append(f"recomputation failed: {new.error}")
        if (diff := _settings_diff(rec, new)):
            notes.append(f"settings differ: {diff}")
        unit_rows = []
        for variant in res.method_variants(rec.method):
            a = rec.estimates.get(variant, math.nan)
            b = new.estimates.get(variant, math.nan)
            tol, rule = tolerance(rec, new, variant, committed)
            se = rec.extra.get("mi_sigma_stderr" if variant.endswith("_sigma") else "mi_stderr")
            unit_rows.append({"unit": label, "variant": variant, "recorded": a, "recomputed": b,
                              "|diff|": abs(b - a), "tol": tol, "rule": rule,
                              "|diff|/se": abs(b - a) / se if se else math.nan,
                              "ok": new.status == "ok" and math.isfinite(b) and abs(b - a) <= tol,
                              "bitwise": a == b, "expected": expected, "note": ""})
        if expected and not all(r["bitwise"] for r in unit_rows):
            notes.append("same environment fingerprint, yet not bit-identical")
        for r in unit_rows:
            r["note"] = "; ".join(notes)
        rows += unit_rows
        ok, bitwise = all(r["ok"] for r in unit_rows), all(r["bitwise"] for r in unit_rows)
        how = "bit-identical" if bitwise else "within tolerance" if ok else "outside tolerance"
        echo(f"  {label}: {'ok' if ok else 'MISMATCH'} ({how}; {new.seconds:.1f} s)")
    return pd.DataFrame(rows, columns=["unit", "variant", "recorded", "recomputed", "|diff|", "tol", "rule",
                                       "|diff|/se", "ok", "bitwise", "expected", "note"])


def format_table(df: pd.DataFrame) -> str:
    """The verification table: estimates to 17 significant digits, differences to 3."""
    fmt = {"recorded": "{:.17g}".format, "recomputed": "{:.17g}".format, "|diff|": "{:.3g}".format,
           "tol": "{:.3g}".format, "|diff|/se": "{:.2g}".format}
    with pd.option_context("display.width", 250, "display.max_colwidth", 70):
        return df.drop(columns="note").to_string(index=False, formatters=fmt)


def main_verify(experiment: str, budget: str, out: str | None = None, sample: int = 3,
                max_seconds: float | None = None, seed_select: int = 0) -> int:
    """``--verify``: exit 0 if every sampled record is reproduced, 1 on a mismatch, 2 on bad use."""
    return run_verify(experiment, budget, out, sample, max_seconds, seed_select)[0]


def run_verify(experiment: str, budget: str, out: str | None = None, sample: int = 3,
               max_seconds: float | None = None, seed_select: int = 0) -> tuple[int, pd.DataFrame | None]:
    """What ``--verify`` prints and returns: (exit status, the table or None on bad use)."""
    if sample < 1:
        print(f"minde sweep: error: --sample must be a positive integer, got {sample}",
              file=sys.stderr)
        return 2, None
    where = res.unit_dir(experiment, budget, out)
    recs = res.load_units(experiment, budget, out)
    chosen = select_records(recs, sample, max_seconds, seed_select)
    if not chosen:
        limit = "" if max_seconds is None else f" with seconds <= {max_seconds:g}"
        print(f"minde sweep: error: no finished records{limit} in {where}/units",
              file=sys.stderr)
        return 2, None
    print(f"verifying {len(chosen)} of {len(recs)} records in {where} (seed {seed_select}; this machine: "
          f"{res.machine_info()}, revision {res.git_revision() or 'unknown'})")
    df = verify_records(chosen, committed=recs)
    print(format_table(df))
    for unit, note in df.drop_duplicates("unit")[["unit", "note"]].itertuples(index=False):
        if note:
            print(f"note: {unit}: {note}")
    bad = df[~df["ok"]]
    if len(bad):
        print(f"{len(bad)} of {len(df)} estimate(s) differ from their records", file=sys.stderr)
        return 1, df
    exact = int(df["bitwise"].sum())
    print(f"all {len(df)} estimate(s) reproduced within tolerance ({exact} bit-identical; this machine's "
          f"environment fingerprint: {res.environment_fingerprint()})")
    return 0, df
