"""Eager against compiled training (``minde.compiled``), side by side in one run (docs/performance.md).

    PYTHONPATH=$PWD python benchmarks/compile_speed.py              # hidden 64/128/256, K = 1 and 8
    PYTHONPATH=$PWD python benchmarks/compile_speed.py --quick      # hidden 64 only
    PYTHONPATH=$PWD python benchmarks/compile_speed.py --compile-times   # cold and warm compile

Training model-steps/s of K models trained as one batch, eager and compiled, interleaved over
repeats (best kept), so the ratios are comparable on a shared machine. ``--compile-times`` runs
two fresh processes on one empty inductor cache: the first compiles cold, the second loads the
cached kernels; each prints the seconds from its first training step's call to the end of that
step, against a step's usual time.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from _timing import CONFIGS, load, steps_for, train_rate

FIRST_STEP = """
import time, torch
torch.set_num_threads(1)
from minde.compiled import loss_function
from minde.network import ScoreNet
net = ScoreNet({dim}, 2, {hidden}, {k})
params = {{n: p.detach().clone().requires_grad_() for n, p in net.params.items()}}
g = torch.Generator().manual_seed(0)
z, t = torch.randn({k}, {dim}, {batch}, generator=g), torch.rand({k}, 2, {batch}, generator=g)
eps, w = torch.randn({k}, {dim}, {batch}, generator=g), torch.ones({k}, {dim}, 1)
f = loss_function(True, {hidden}, {batch})
start = time.perf_counter()
torch.autograd.grad(f(params, z, t, eps, w).sum(), list(params.values()))
print(time.perf_counter() - start)
"""


def compile_times(configs) -> None:
    """Cold and warm first-step seconds per config, in fresh processes sharing one new cache."""
    print("\n## compile: seconds to the end of the first compiled step (fresh process)")
    print(f"{'hidden':>6} {'batch':>5} {'D':>4} {'K':>3} | {'cold':>6} {'warm':>6}")
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    for hidden, batch, dim in configs:
        for k in (1, 8):
            with tempfile.TemporaryDirectory() as cache:
                env["TORCHINDUCTOR_CACHE_DIR"] = cache
                code = FIRST_STEP.format(dim=dim, hidden=hidden, k=k, batch=batch)
                cold, warm = (float(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                                   capture_output=True, text=True).stdout.split()[-1])
                              for _ in range(2))
            print(f"{hidden:>6} {batch:>5} {dim:>4} {k:>3} | {cold:>6.1f} {warm:>6.1f}", flush=True)


def main() -> None:
    """Print the eager/compiled table (and the compile times with --compile-times)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="hidden 64 only")
    ap.add_argument("--ks", default="1,8", help="models per batch, e.g. 1,2,4,8")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0, help="rough duration of one measurement")
    ap.add_argument("--compile-times", action="store_true")
    args = ap.parse_args()
    configs = CONFIGS[:1] if args.quick else CONFIGS
    print(f"# {load()}; one torch thread; {time.strftime('%Y-%m-%d %H:%M')}")
    if args.compile_times:
        compile_times(configs)
        return
    ks = [int(v) for v in args.ks.split(",")]
    print("\n## training: model-steps/s, eager and compiled (ratio compiled / eager)")
    print(f"{'hidden':>6} {'batch':>5} {'D':>4} {'K':>3} | {'eager':>8} {'compiled':>9} {'ratio':>6}")
    for hidden, batch, dim in configs:
        for k in ks:
            n = steps_for(hidden, k, args.seconds)
            best = {False: 0.0, True: 0.0}
            for _ in range(args.repeats):
                for comp in (False, True):
                    rate = train_rate(k, hidden, batch, dim, n, group_size=k, compile=comp) * k
                    best[comp] = max(best[comp], rate)
            print(f"{hidden:>6} {batch:>5} {dim:>4} {k:>3} | {best[False]:>8.0f} {best[True]:>9.0f} "
                  f"{best[True] / best[False]:>5.2f}x", flush=True)


if __name__ == "__main__":
    main()
