"""Reliability: determinism across processes and bounded memory at estimation (issue 9)."""
import json
import subprocess
import sys
import textwrap

import pytest

RUN = textwrap.dedent("""
    import json, sys, numpy as np, minde
    seed = int(sys.argv[1])
    rng = np.random.default_rng(0)
    z = rng.multivariate_normal([0, 0], [[1, .75], [.75, 1]], size=600)
    r = minde.MINDE("j", budget="smoke", steps=60, mc_iter=2, seed=seed, progress=False)
    r = r.fit(z[:500, :1], z[:500, 1:]).estimate(z[500:, :1], z[500:, 1:])
    print(json.dumps([r.mi, r.mi_sigma, r.entropies]))
""")


def _run(seed: int) -> list:
    out = subprocess.run([sys.executable, "-c", RUN, str(seed)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def test_same_seed_is_bit_identical_across_processes():
    a, b, c = _run(7), _run(7), _run(8)
    assert a == b
    assert a[0] != c[0]


PEAK = textwrap.dedent("""
    import resource, sys, numpy as np, minde
    batch = int(sys.argv[1])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200_000, 5)).astype(np.float32)
    y = (x[:, :2] + rng.normal(size=(200_000, 2))).astype(np.float32)
    est = minde.MINDE("c", budget="smoke", steps=5, mc_iter=1, progress=False,
                      eval_batch_size=batch).fit(x[:2000], y[:2000])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    est.estimate(x, y)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((after - before) / 1024)
""")


@pytest.mark.slow
def test_estimation_on_200k_rows_runs_in_bounded_memory():
    """Batched estimation adds < 300 MB of peak memory for 200k test rows; unbatched would not."""
    grow = float(subprocess.run([sys.executable, "-c", PEAK, "8192"], capture_output=True,
                                text=True, check=True).stdout)
    assert grow < 300, f"peak memory grew by {grow:.0f} MB"
