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
    assert abs(r.mi - TRUTH) < 0.03, f"MINDE-{kind.upper()}: {r.mi:.4f} vs {TRUTH:.4f}"
    assert abs(r.mi_sigma - TRUTH) < 0.03, f"MINDE-{kind.upper()}(σ): {r.mi_sigma:.4f} vs {TRUTH:.4f}"
    assert r.mi_stderr < 0.01


def test_training_loss_decreases(bivariate_normal):
    x, y, _, _ = bivariate_normal
    est = minde.MINDE("j", budget="smoke", steps=400, progress=False).fit(x, y)
    losses = est.train_result.losses[:, 0].numpy()
    assert losses.shape == (400,)
    assert losses[-100:].mean() < 0.8 * losses[:20].mean()


def test_lr_schedules():
    from minde.config import TrainSettings
    from minde.training import lr_factors

    assert lr_factors(TrainSettings(100, 8, 1e-3, 0.99, 1)) is None  # constant: the paper's recipe
    cos = lr_factors(TrainSettings(100, 8, 1e-3, 0.99, 1, "cosine", 10))
    assert cos[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])  # linear warm-up to 1
    assert cos[10] == pytest.approx(1.0) and cos[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(cos[10:], cos[11:]))  # decays monotonically
    lin = lr_factors(TrainSettings(11, 8, 1e-3, 0.99, 1, "linear", 0))
    assert lin == pytest.approx([1 - s / 10 for s in range(11)])


def test_paper_budget_keeps_the_paper_recipe():
    from minde.config import BUDGETS, resolve_settings

    s = resolve_settings(BUDGETS["paper"], 5, 10_000)
    assert (s.lr_schedule, s.warmup_steps, s.lr, s.batch_size, s.ema_decay) == ("constant", 0, 1e-3, 128, 0.999)
    assert BUDGETS["paper"].train_importance_sampling in (None, True)


def test_schedule_changes_training_and_bad_schedule_is_rejected():
    import minde

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 1)).astype(np.float32)
    y = (x + rng.normal(size=(400, 1))).astype(np.float32)
    kw = dict(budget="smoke", steps=60, progress=False)
    a = minde.MINDE("c", **kw).fit(x, y).train_result.losses
    b = minde.MINDE("c", lr_schedule="cosine", warmup=0.1, **kw).fit(x, y).train_result.losses
    assert bool((a[0] == b[0]).all()) and bool((a != b).any())  # same start, other updates
    with pytest.raises(ValueError, match="lr_schedule"):
        minde.MINDE("c", lr_schedule="step", **kw)
    with pytest.raises(ValueError, match="warmup"):
        minde.MINDE("c", warmup=1.5, **kw)


def test_training_t_sampling_is_independent_of_estimation():
    import minde

    m = minde.MINDE("c", budget="smoke", train_importance_sampling=False)
    assert m.importance_sampling and not m.train_importance_sampling
    assert type(m.train_sampler).__name__ == "UniformSampler"
    assert type(m.sampler).__name__ == "ImportanceSampler"


def test_quick_budget_uses_the_recipe_study_winner():
    """quick: 2x the paper's peak lr, 5% warm-up, cosine decay; t by importance in training for C only."""
    from minde.config import BUDGETS, resolve_settings

    quick = BUDGETS["quick"]
    small, large = resolve_settings(quick, 1, 10_000, kind="c"), resolve_settings(quick, 25, 10_000, kind="j")
    assert (small.lr_schedule, small.warmup_steps, small.lr, small.batch_size) == ("cosine", 500, 2e-3, 128)
    assert (large.lr, large.batch_size) == (4e-3, 256)
    assert resolve_settings(quick, 1, 10_000, kind="c", lr=5e-4, lr_schedule="constant").lr == 5e-4  # overrides win
    assert minde.MINDE("c").train_importance_sampling and not minde.MINDE("j").train_importance_sampling
    assert minde.MINDE("j", train_importance_sampling=True).train_importance_sampling
    with pytest.raises(ValueError, match="kind 'x'"):
        quick.train_importance("x")


def test_importance_sampling_ablation_switches_training_and_estimation_together(monkeypatch):
    """The ablation's arms differ in t-sampling in training and estimation, for both kinds, even
    though the quick budget trains MINDE-J with uniform t."""
    from minde.repro import ablations

    seen = []

    def fake_fit(task, kind, budget, seeds, device, **kw):
        m = minde.MINDE(kind, budget=budget, **kw)
        seen.append((kind, m.importance_sampling, m.train_importance_sampling))
        return []

    monkeypatch.setattr(ablations, "fit_task_seeds", fake_fit)
    ablations.run_importance_sampling("quick", ["1v1-normal-0.75"], ("c", "j"), (0,))
    assert seen == [("c", True, True), ("c", False, False), ("j", True, True), ("j", False, False)]


def test_short_training_lands_near_the_truth():
    """The first tier's accuracy check: 2 000 quick-recipe steps of MINDE-C on a bivariate normal
    land within 0.1 nats (a quarter of the truth) of 0.413; errors of a scale or a sign are far
    outside. The 0.03-nat check at the full quick budget is the slow test above."""
    rng = np.random.default_rng(2)
    z = rng.multivariate_normal([0, 0], [[1, 0.75], [0.75, 1]], size=9_000).astype(np.float32)
    r = minde.MINDE("c", budget="quick", steps=2_000, seed=0, progress=False).fit(
        z[:6_000, :1], z[:6_000, 1:]).estimate(z[6_000:, :1], z[6_000:, 1:])
    assert abs(r.mi - TRUTH) < 0.1 and abs(r.mi_sigma - TRUTH) < 0.1, (r.mi, r.mi_sigma, TRUTH)
