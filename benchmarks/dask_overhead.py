"""What going through Dask costs per sweep unit, measured in one run.

Runs the same sweep of cheap units (closed-form CCA on cached 1v1 samples, a few ms each) in-process
and on an embedded Dask cluster of one worker, at two sweep sizes. The fixed cost (cluster start,
worker imports) cancels in the difference between the sizes, so

    per-unit overhead = [(T_dask(2N) - T_dask(N)) - (T_local(2N) - T_local(N))] / N

and the fixed cost is T_dask(N) - T_local(N) - N * overhead. Also times starting and stopping an
empty cluster. Usage: ``python benchmarks/dask_overhead.py [--units N] [--workers W]``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import load  # noqa: E402

from minde.bench.tasks import sample  # noqa: E402
from minde.repro.cluster import dask_client  # noqa: E402
from minde.repro.sweep import run_sweep  # noqa: E402

TASK, N_TRAIN, N_TEST = "1v1-normal-0.75", 2_000, 1_000


def timed_sweep(n_units: int, workers: int | None) -> float:
    """Wall seconds of a fresh sweep of ``n_units`` CCA units (seeds 0..n-1)."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run_sweep("overhead", "smoke", [TASK], ["cca"], seeds=range(n_units), n_train=N_TRAIN,
                  n_test=N_TEST, out=out, workers=workers, progress=False, echo=lambda s: None)
        return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=60, help="N: the smaller sweep size")
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    print(f"# {load()}")
    for s in range(2 * a.units):  # fill the sample cache so no unit pays for bmi/jax
        sample(TASK, N_TRAIN, N_TEST, s)
    start = time.perf_counter()
    with dask_client(workers=a.workers):
        up = time.perf_counter() - start
    total = time.perf_counter() - start
    rows = {}
    for n in (a.units, 2 * a.units):
        rows[("local", n)] = timed_sweep(n, None)
        rows[("dask", n)] = timed_sweep(n, a.workers)
    n = a.units
    per_unit_local = (rows[("local", 2 * n)] - rows[("local", n)]) / n
    per_unit_dask = (rows[("dask", 2 * n)] - rows[("dask", n)]) / n
    overhead = per_unit_dask - per_unit_local
    fixed = rows[("dask", n)] - rows[("local", n)] - n * overhead
    print(f"{'sweep':<8}{'units':>7}{'wall s':>10}")
    for (where, k), t in rows.items():
        print(f"{where:<8}{k:>7}{t:>10.2f}")
    print(f"empty cluster of {a.workers} worker(s): start {up:.2f} s, start + stop {total:.2f} s")
    print(f"per unit: in-process {1e3 * per_unit_local:.1f} ms, through Dask {1e3 * per_unit_dask:.1f} ms "
          f"-> Dask overhead {1e3 * overhead:.1f} ms per unit")
    print(f"fixed cost of a Dask sweep (cluster start/stop, worker imports): {fixed:.2f} s")


if __name__ == "__main__":
    main()
