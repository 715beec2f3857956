"""Model-steps/s of K stacked score networks vs the single-model loop (docs/method.md §7).

    PYTHONPATH=$PWD python benchmarks/ensemble_throughput.py            # K 1..16, 3 configs
    PYTHONPATH=$PWD python benchmarks/ensemble_throughput.py --quick    # K 1, 8; hidden 64, 256

Training K models one after the other (the single-model loop) delivers the K = 1 rate in
model-steps/s; training them as one K-batch delivers K x (K-batch steps/s). All rates of a config
are measured in one run, interleaved over repeats (best kept), so their ratios are comparable on
a shared machine. Also prints estimation throughput: test samples/s through ``MINDE.estimate``
(kind "c", one Monte Carlo pass) for K models at once.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from _timing import CONFIGS, load, now, steps_for, train_rate

import minde
from minde.training import default_group_size


def training_table(configs, ks, repeats: int, seconds: float, device: str) -> None:
    """Print model-steps/s per (config, K) and the ratio to K = 1: one K-batch, and the default.

    "batch": all K models in one batched computation; "default": ``train_score_net``'s default
    grouping (on a CPU, groups of ``default_group_size`` models one after the other).
    """
    print("\n## training: model-steps/s (ratio to the single-model loop, K = 1)")
    print(f"{'hidden':>6} {'batch':>5} {'D':>4} {'mode':>7} | "
          + " | ".join(f"{'K=' + str(k):>17}" for k in ks))
    for hidden, batch, dim in configs:
        best: dict[tuple[str, int], float] = {}
        for _ in range(repeats):  # interleave K (and modes) within each repeat
            for k in ks:
                n = steps_for(hidden, k, seconds)
                modes = {"batch": k}
                if default_group_size(k, batch, hidden, torch.device(device)) < k:
                    modes["default"] = None
                for mode, group in modes.items():
                    rate = k * train_rate(k, hidden, batch, dim, n, device=device, group_size=group)
                    best[mode, k] = max(best.get((mode, k), 0.0), rate)
        base = best["batch", 1]
        for mode in ("batch", "default"):
            cells = [f"{best.get((mode, k), best['batch', k]):>9.1f} "
                     f"({best.get((mode, k), best['batch', k]) / base:>4.2f}x)" for k in ks]
            print(f"{hidden:>6} {batch:>5} {dim:>4} {mode:>7} | " + " | ".join(cells), flush=True)


def estimate_rate(k: int, hidden: int, dim: int, n_test: int, device: str) -> float:
    """Test samples/s through MINDE.estimate for K models (one MC pass, kind "c")."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(n_test, dim // 2)), rng.normal(size=(n_test, dim - dim // 2))
    est = minde.MINDE("c", budget="smoke", steps=5, mc_iter=1, hidden=hidden, n_seeds=k,
                      progress=False, device=device).fit(x, y)
    est.estimate(x[:512], y[:512])  # warm-up
    start = now()
    est.estimate(x, y)
    return n_test / (now() - start)


def estimation_table(configs, ks, repeats: int, n_test: int, device: str) -> None:
    """Print samples/s and model-samples/s of estimation per (config, K)."""
    print("\n## estimation: test samples/s through MINDE.estimate (x K = model-samples/s)")
    print(f"{'hidden':>6} {'D':>4} | " + " | ".join(f"{'K=' + str(k):>19}" for k in ks))
    for hidden, _, dim in configs:
        best = {k: max(estimate_rate(k, hidden, dim, n_test, device) for _ in range(repeats))
                for k in ks}
        cells = [f"{best[k]:>8.0f} ({k * best[k]:>8.0f})" for k in ks]
        print(f"{hidden:>6} {dim:>4} | " + " | ".join(cells), flush=True)


def profile_step(k: int, hidden: int, batch: int, dim: int, steps: int, top: int = 14) -> None:
    """Where the time of a training step goes: torch.profiler's self CPU time per operator."""
    from torch.profiler import ProfilerActivity, profile

    train_rate(k, hidden, batch, dim, max(20, steps // 4))  # warm-up outside the profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        rate = train_rate(k, hidden, batch, dim, steps)
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    print(f"\n## profile: K={k}, hidden {hidden}, batch {batch}, D {dim} ({rate:.0f} steps/s under "
          f"the profiler); self CPU time per operator, share of the total")
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:top]:
        print(f"{e.key[:44]:<44} {100 * e.self_cpu_time_total / total:5.1f}%  "
              f"{e.count / (steps + max(5, steps // 10)):7.1f} calls/step")


def main() -> None:
    """Parse options, print both tables and the machine load before and after."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="K 1 and 8, hidden 64 and 256, 1 s runs")
    ap.add_argument("--ks", type=int, nargs="+", default=None, help="model counts (first should be 1)")
    ap.add_argument("--hidden", type=int, nargs="+", default=None, help="subset of 64 128 256")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved repeats (best kept)")
    ap.add_argument("--seconds", type=float, default=None, help="target seconds per timed run")
    ap.add_argument("--n-test", type=int, default=10_000, help="test rows for estimation")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-estimate", action="store_true", help="skip the estimation table")
    ap.add_argument("--profile", type=int, nargs="*", default=None, metavar="K",
                    help="also profile one step at hidden 64 for these K (default 1 8)")
    args = ap.parse_args()
    ks = args.ks or ([1, 8] if args.quick else [1, 2, 4, 8, 16])
    hiddens = args.hidden or ([64, 256] if args.quick else [64, 128, 256])
    seconds = args.seconds or (1.0 if args.quick else 1.5)
    configs = [c for c in CONFIGS if c[0] in hiddens]
    print(f"# ensemble_throughput: start, {load()}")
    training_table(configs, ks, args.repeats, seconds, args.device)
    if not args.no_estimate:
        estimation_table(configs, ks, 1 if args.quick else args.repeats, args.n_test, args.device)
    if args.profile is not None and args.device == "cpu":
        for k in args.profile or [1, 8]:
            profile_step(k, 64, 128, 2, 400)
    print(f"\n# end, {load()}")


if __name__ == "__main__":
    main()
