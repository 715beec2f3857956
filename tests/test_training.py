"""Training to a tolerance at the quick budget (docs/method.md §7; marker slow, CI runs it)."""
import numpy as np
import pytest

import minde

TRUTH = -0.5 * np.log(1 - 0.75**2)  # 0.4133 nats


@pytest.fixture(scope="module")
def bivariate_normal():
    rng = np.random.default_rng(1)
    z = rng.multivariate_normal([0, 0], [[1, 0.75], [0.75, 1]], size=20_000).astype(np.float32)
    return z[:10_000, :1], z[:10_000, 1:], z[10_000:, :1], z[10_000:, 1:]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["c", "j"])
def test_quick_budget_recovers_bivariate_normal_mi(kind, bivariate_normal):
    x, y, xt, yt = bivariate_normal
    r = minde.MINDE(kind, budget="quick", seed=0, progress=False).fit(x, y).estimate(xt, yt)
    assert abs(r.mi - TRUTH) < 0.05, f"MINDE-{kind.upper()}: {r.mi:.4f} vs {TRUTH:.4f}"
    assert abs(r.mi_sigma - TRUTH) < 0.10, f"MINDE-{kind.upper()}(σ): {r.mi_sigma:.4f} vs {TRUTH:.4f}"
    assert r.mi_stderr < 0.01


def test_training_loss_decreases(bivariate_normal):
    x, y, _, _ = bivariate_normal
    est = minde.MINDE("j", budget="smoke", steps=400, progress=False).fit(x, y)
    losses = est.train_result.losses[:, 0].numpy()
    assert losses.shape == (400,)
    assert losses[-100:].mean() < 0.8 * losses[:20].mean()
