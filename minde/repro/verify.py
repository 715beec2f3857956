"""Committed numbers come from the code: recompute a sample of unit records and compare (docs/method.md §8).

    python -m minde.sweep --verify EXPERIMENT --budget B [--sample K] [--max-seconds S]
        [--seed-select N] [--out DIR]

Among the finished records of ``OUT/EXPERIMENT/B/units`` whose unit took at most S seconds, K
are chosen reproducibly (the keys sorted, then ``numpy.random.default_rng(N)`` picks K without
replacement). Each is recomputed exactly as its record describes it (task, method, n_train,
n_test, seed, budget, with the data drawn from its seed); a MINDE unit that was trained inside a
seed group (``extra.group_seeds``) is recomputed in that same group. Every variant's estimate must
then equal the record's:

- bit for bit when the record says it was made on this CPU type (``machine``), on the CPU and
  with the same package versions: the code is deterministic there;
- within ``REL_TOL`` (relative) otherwise, which includes records older than the ``machine``
  field.

Training amplifies the last-bit differences of another CPU's kernels (torch's matrix products
go through MKL, whose code paths depend on the CPU). The committed quick MINDE records were made
on another machine: the code of the commit that made them, run on this machine, gives exactly
what today's code gives here, while the records differ from it by 1e-7 relative on a Gaussian
task, 4e-5 on another and 0.4 Monte Carlo standard errors on a heavy-tailed Student-t task.
Such a record fails the check (the tolerance is not widened to hide it); the column ``|diff|/se``
sets the difference against the estimate's own Monte Carlo standard error. Only records that
carry this machine's CPU type verify MINDE bit for bit.

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

__all__ = ["REL_TOL", "select_records", "verify_records", "format_table", "main_verify", "run_verify"]

REL_TOL = 1e-6  # relative tolerance when the record was not made on this CPU type and versions
_PACKAGES = ("torch", "numpy", "jax", "jaxlib", "benchmark-mi")  # versions that change numbers


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
    """The unit a record describes (optionally with another seed, for its group mates)."""
    return Unit(rec.task, rec.method, int(rec.n_train), int(rec.n_test),
                int(rec.seed if seed is None else seed), rec.budget, rec.truth)


def _recompute(rec: res.UnitRecord, cache: dict[tuple, list[res.UnitRecord]]) -> res.UnitRecord:
    """Rerun the unit of ``rec`` (in its seed group, if it was trained in one)."""
    seeds = [int(s) for s in rec.extra.get("group_seeds") or []]
    if len(seeds) < 2:
        return run_unit(_unit(rec))
    key = (rec.task, rec.method, int(rec.n_train), int(rec.n_test), rec.budget, tuple(seeds))
    if key not in cache:
        cache[key] = run_group([_unit(rec, s) for s in seeds])
    return cache[key][seeds.index(int(rec.seed))]


def _same_platform(rec: res.UnitRecord, new: res.UnitRecord) -> tuple[bool, str]:
    """Is bit-exactness expected (same CPU type, CPU device, same versions)? And why not."""
    if not rec.machine:
        return False, "record has no machine info"
    if rec.machine != new.machine:
        return False, f"other CPU ({rec.machine})"
    if str(rec.extra.get("device", "cpu")) != "cpu" or str(new.extra.get("device", "cpu")) != "cpu":
        return False, "not on the CPU"
    diff = [p for p in _PACKAGES if rec.versions.get(p) != new.versions.get(p)]
    if diff:
        return False, "other versions of " + ", ".join(diff)
    return True, ""


def _settings_diff(rec: res.UnitRecord, new: res.UnitRecord) -> str:
    """Training settings that differ between the record and the recomputation (MINDE units)."""
    a, b = rec.extra.get("settings") or {}, new.extra.get("settings") or {}
    keys = sorted(k for k in set(a) & set(b) if a[k] != b[k] and k not in ("device",))
    return "; ".join(f"{k}: {a[k]!r} -> {b[k]!r}" for k in keys)


def _agree(recorded: float, recomputed: float, exact: bool) -> bool:
    if exact:
        return recorded == recomputed
    return math.isfinite(recomputed) and abs(recomputed - recorded) <= REL_TOL * max(abs(recorded), 1e-12)


def verify_records(records: list[res.UnitRecord],
                   echo: Callable[[str], None] = print) -> pd.DataFrame:
    """Recompute each record's unit; one row per variant: unit, variant, recorded, recomputed,
    |diff|, |diff|/se (the record's Monte Carlo standard error, MINDE only), mode (exact /
    rel 1e-06), ok, note."""
    rows: list[dict[str, Any]] = []
    cache: dict[tuple, list[res.UnitRecord]] = {}
    for rec in records:
        label = f"{rec.task} {rec.method} n={rec.n_train} s={rec.seed}"
        new = _recompute(rec, cache)
        exact, why = _same_platform(rec, new)
        notes = [why] if why else []
        if new.status != "ok":
            notes.append(f"recomputation failed: {new.error}")
        if (diff := _settings_diff(rec, new)):
            notes.append(f"settings differ: {diff}")
        for variant in res.method_variants(rec.method):
            a = rec.estimates.get(variant, math.nan)
            b = new.estimates.get(variant, math.nan)
            ok = new.status == "ok" and _agree(a, b, exact)
            se = rec.extra.get("mi_sigma_stderr" if variant.endswith("_sigma") else "mi_stderr")
            rows.append({"unit": label, "variant": variant, "recorded": a, "recomputed": b,
                         "|diff|": abs(b - a), "|diff|/se": abs(b - a) / se if se else math.nan,
                         "mode": "exact" if exact else f"rel {REL_TOL:g}", "ok": ok,
                         "note": "; ".join(notes)})
        echo(f"  {label}: {'ok' if all(r['ok'] for r in rows if r['unit'] == label) else 'MISMATCH'} "
             f"({new.seconds:.1f} s)")
    return pd.DataFrame(rows, columns=["unit", "variant", "recorded", "recomputed", "|diff|", "|diff|/se",
                                       "mode", "ok", "note"])


def format_table(df: pd.DataFrame) -> str:
    """The verification table: estimates to 17 significant digits, differences to 3."""
    fmt = {"recorded": "{:.17g}".format, "recomputed": "{:.17g}".format, "|diff|": "{:.3g}".format,
           "|diff|/se": "{:.2g}".format}
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
        print(f"python -m minde.sweep: error: --sample must be a positive integer, got {sample}",
              file=sys.stderr)
        return 2, None
    where = res.unit_dir(experiment, budget, out)
    recs = res.load_units(experiment, budget, out)
    chosen = select_records(recs, sample, max_seconds, seed_select)
    if not chosen:
        limit = "" if max_seconds is None else f" with seconds <= {max_seconds:g}"
        print(f"python -m minde.sweep: error: no finished records{limit} in {where}/units",
              file=sys.stderr)
        return 2, None
    print(f"verifying {len(chosen)} of {len(recs)} records in {where} (seed {seed_select}; this machine: "
          f"{res.machine_info()}, revision {res.git_revision() or 'unknown'})")
    df = verify_records(chosen)
    print(format_table(df))
    for unit, note in df.drop_duplicates("unit")[["unit", "note"]].itertuples(index=False):
        if note:
            print(f"note: {unit}: {note}")
    bad = df[~df["ok"]]
    if len(bad):
        print(f"{len(bad)} of {len(df)} estimate(s) differ from their records", file=sys.stderr)
        return 1, df
    print(f"all {len(df)} estimate(s) reproduced")
    return 0, df
