"""Peak memory of the largest paper unit: 100 000 samples, 50 x 50, hidden 256, batch 256.

    PYTHONPATH=$PWD python benchmarks/peak_memory.py [--steps 1,300,600] [--kinds c,j] [--device auto]

Each measurement is a fresh subprocess: it draws the data (100 000 training and 10 000 test
rows of a 50 x 50 Gaussian pair, float32), fits MINDE at the paper budget's settings (batch 256
and hidden 256 by the rules of docs/method.md §6-§7, lr 2e-3, EMA 0.999) for a shortened number
of steps, then estimates with the paper's 10 Monte Carlo passes. It prints the process's peak
resident memory (ru_maxrss) after the data, after training and after estimation, and with CUDA
``torch.cuda.max_memory_allocated`` of training and of estimation. Nothing in a step keeps
memory from earlier steps (randomness is pre-drawn in chunks of at most 256 steps, 16 MB of
inputs), so the peak of a shortened run is the peak of the full 293 250-step run, apart from
the per-step loss record (4 bytes a step: 1.2 MB at the end); two step counts show it. A
1-step run keeps training's peak low, so its last column is what estimation alone needs.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

from _timing import load

CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np, torch, minde

    steps, kind, device = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    n, m, d = 100_000, 10_000, 50

    def peak():  # MiB; ru_maxrss is in KiB on Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rng = np.random.default_rng(0)
    x = rng.standard_normal((n + m, d), dtype=np.float32)
    y = (0.5 * x + rng.standard_normal((n + m, d), dtype=np.float32)).astype(np.float32)
    out = {"steps": steps, "kind": kind, "rss_data": peak()}
    est = minde.MINDE(kind, budget="paper", steps=steps, device=device, progress=False)
    cuda = est.device.type == "cuda"
    t0 = time.perf_counter()
    est.fit(x[:n], y[:n])
    out.update(rss_train=peak(), train_s=time.perf_counter() - t0, settings=est.settings.__dict__,
               hidden=est.hidden_used, device=str(est.device))
    if cuda:
        out["cuda_train"] = torch.cuda.max_memory_allocated() / 2**20
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    r = est.estimate(x[n:], y[n:])
    out.update(rss_estimate=peak(), estimate_s=time.perf_counter() - t0, mi=r.mi)
    if cuda:
        out["cuda_estimate"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(out))
""")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", default="1,300,600", help="shortened step counts (comma list)")
    ap.add_argument("--kinds", default="c,j", help="MINDE kinds to measure")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    print(f"# peak_memory: 100 000 x (50 + 50) float32, paper settings; {load()}")
    print(f"{'kind':>4} {'steps':>6} {'device':>6} {'MiB data':>9} {'MiB train':>10} {'MiB estim.':>10} "
          f"{'CUDA MiB tr/est':>16} {'train s':>8} {'est. s':>7}")
    for kind in args.kinds.split(","):
        for steps in (int(s) for s in args.steps.split(",")):
            run = subprocess.run([sys.executable, "-c", CHILD, str(steps), kind, args.device],
                                 capture_output=True, text=True, env=env, check=True)
            r = json.loads(run.stdout.strip().splitlines()[-1])
            cuda = (f"{r['cuda_train']:.0f}/{r['cuda_estimate']:.0f}" if "cuda_train" in r else "-")
            print(f"{kind:>4} {steps:>6} {r['device']:>6} {r['rss_data']:>9.0f} {r['rss_train']:>10.0f} "
                  f"{r['rss_estimate']:>10.0f} {cuda:>16} {r['train_s']:>8.1f} {r['estimate_s']:>7.1f}",
                  flush=True)
    print(f"# settings: {json.dumps(r['settings'])}, hidden {r['hidden']}")
    print(f"# {load()}")


if __name__ == "__main__":
    main()
