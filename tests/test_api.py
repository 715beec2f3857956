"""The MINDE estimator API: input handling, errors, determinism, results (docs/method.md §1-§7)."""
import numpy as np
import pandas as pd
import pytest
import torch

import minde
from minde.config import get_budget, resolve_settings

RNG = np.random.default_rng(0)
XY = RNG.multivariate_normal([0, 0], [[1, 0.75], [0.75, 1]], size=400)
X, Y = XY[:, :1], XY[:, 1:]


def _tiny(kind="c", **kw):
    kw.setdefault("steps", 30)
    kw.setdefault("mc_iter", 2)
    return minde.MINDE(kind, budget="smoke", progress=False, **kw)


@pytest.mark.parametrize("kind,keys", [("c", {"H(X)", "H(X|Y)"}), ("j", {"H(X,Y)", "H(X|Y)", "H(Y|X)"})])
def test_fit_estimate_returns_finite_result(kind, keys):
    r = _tiny(kind).fit(X[:300], Y[:300]).estimate(X[300:], Y[300:])
    assert isinstance(r, minde.MIEstimate)
    assert np.isfinite([r.mi, r.mi_sigma, r.mi_stderr, r.mi_sigma_stderr]).all()
    assert set(r.entropies) == keys
    assert set(r.variants) == {f"minde_{kind}", f"minde_{kind}_sigma"}
    assert r.settings["steps"] == 30 and r.settings["budget"] == "smoke"
    assert "MINDE-" + kind.upper() in str(r)


def test_same_seed_same_numbers_different_seed_differs():
    a = _tiny(seed=3).fit(X, Y).estimate(X, Y)
    b = _tiny(seed=3).fit(X, Y).estimate(X, Y)
    c = _tiny(seed=4).fit(X, Y).estimate(X, Y)
    assert (a.mi, a.mi_sigma, a.entropies) == (b.mi, b.mi_sigma, b.entropies)
    assert a.mi != c.mi


def test_accepts_pandas_torch_and_1d():
    df = pd.DataFrame(XY, columns=["a", "b"])
    r1 = _tiny().fit(df[["a"]], df["b"]).estimate(df[["a"]], df["b"])
    r2 = _tiny().fit(torch.tensor(X), torch.tensor(Y[:, 0])).estimate(X, Y)
    r3 = _tiny().fit(X[:, 0].tolist(), Y).estimate(X, Y)
    assert r1.mi == r2.mi == r3.mi


def test_entropies_are_reported_on_the_original_scale():
    """Scaling X by 10 adds log 10 to H(X) and H(X|Y) and leaves MI unchanged."""
    a = _tiny().fit(X, Y).estimate(X, Y)
    b = _tiny().fit(10 * X, Y).estimate(10 * X, Y)
    assert b.mi == pytest.approx(a.mi, abs=1e-5)
    for key in ("H(X)", "H(X|Y)"):
        assert b.entropies[key] - a.entropies[key] == pytest.approx(np.log(10), abs=1e-4)


def test_estimate_mi_splits_and_runs():
    r = minde.estimate_mi(X, Y, kind="j", test_size=0.25, budget="smoke", steps=20, mc_iter=2,
                          progress=False)
    assert np.isfinite(r.mi)
    with pytest.raises(ValueError, match="test_size"):
        minde.estimate_mi(X, Y, test_size=1.5)


BAD_INPUTS = [
    (lambda: (np.where(np.arange(400)[:, None] == 7, np.nan, X), Y), "NaN or inf in 1 row"),
    (lambda: (np.where(np.arange(400)[:, None] == 7, np.inf, X), Y), "rows \\[7\\]"),
    (lambda: (X[:399], Y), "same number of rows, got 399 and 400"),
    (lambda: (X.reshape(400, 1, 1), Y), "1-D or 2-D"),
    (lambda: (X[:5], Y[:5]), "at least 16 rows, got 5"),
    (lambda: (np.hstack([X, np.ones((400, 1))]), Y), "zero-variance column"),
    (lambda: (np.array([["a"]] * 400), Y), "must be numeric"),
]


@pytest.mark.parametrize("make,msg", BAD_INPUTS)
def test_bad_inputs_raise_clear_errors(make, msg):
    x, y = make()
    with pytest.raises(ValueError, match=msg):
        _tiny().fit(x, y)


def test_bad_arguments_and_order_errors():
    with pytest.raises(ValueError, match="unknown kind 'k'"):
        minde.MINDE("k")
    with pytest.raises(ValueError, match="unknown budget 'huge'"):
        minde.MINDE("c", budget="huge")
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        minde.MINDE("c", steps=0)
    with pytest.raises(ValueError, match="sigma must be a positive"):
        minde.MINDE("c", sigma=-1.0)
    with pytest.raises(ValueError, match="lr must be"):
        minde.MINDE("c", lr=float("nan"))
    with pytest.raises(ValueError, match="before fit"):
        _tiny().estimate(X, Y)
    est = _tiny().fit(X, Y)
    with pytest.raises(ValueError, match=r"dimensions \(d_x, d_y\) = \(2, 1\)"):
        est.estimate(np.hstack([X, X]), Y)


def test_budget_rules():
    paper = get_budget("paper")
    s = resolve_settings(paper, dim_x=1, n_train=100_000)
    assert (s.batch_size, s.lr, s.steps) == (128, 1e-3, 500 * 782)
    s = resolve_settings(paper, dim_x=10, n_train=100_000)
    assert (s.batch_size, s.lr, s.steps) == (256, 2e-3, 750 * 391)
    s = resolve_settings(get_budget("quick"), dim_x=1, n_train=10_000, steps=5, lr=0.1)
    assert (s.steps, s.lr) == (5, 0.1)


def test_divergence_is_reported_with_its_step():
    with pytest.raises(minde.TrainingDivergedError, match=r"(NaN/inf|larger than \S+ \(\S+\)) at step \d+") as info:
        minde.MINDE("c", budget="smoke", steps=300, lr=1e6, progress=False).fit(X * 1e3, Y)
    assert 0 <= info.value.step < 300


def test_import_does_not_pull_jax():
    import subprocess
    import sys
    code = "import sys, minde; print('jax' in sys.modules, 'bmi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_role_probs_change_training_and_are_recorded():
    """role_probs: the default, spelled out, trains the same model; other shares train another
    one, recorded in the settings; a seed group cannot mix them."""
    ref = _tiny("j").fit(X, Y).estimate(X, Y)
    same = _tiny("j", role_probs=(0.5, 0.25, 0.25)).fit(X, Y).estimate(X, Y)
    other = _tiny("j", role_probs=(0.2, 0.4, 0.4)).fit(X, Y).estimate(X, Y)
    assert (same.mi, same.mi_sigma) == (ref.mi, ref.mi_sigma)
    assert other.mi != ref.mi
    assert "role_probs" not in ref.settings and other.settings["role_probs"] == [0.2, 0.4, 0.4]
    with pytest.raises(ValueError, match="needs 2 probabilities"):
        _tiny("c", role_probs=(0.5, 0.25, 0.25))
    from minde.api import _fit_group
    with pytest.raises(ValueError, match="seed 1 differs"):
        _fit_group([_tiny("j"), _tiny("j", seed=1, role_probs=(0.2, 0.4, 0.4))], [(X, Y), (X, Y)])


def test_estimate_kinds_in_two_processes_equals_one_after_another() -> None:
    """The quickstart's two kinds side by side (spawned processes) give the serial estimates."""
    from minde.repro.experiments import estimate_kinds

    xy = np.random.default_rng(4).multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], size=600)
    kw = dict(budget="smoke", steps=60, mc_iter=1, n_seeds=2, test_size=0.5, progress=False)
    par = estimate_kinds(xy[:, :1], xy[:, 1:], ("c", "j"), workers=2, **kw)
    ser = estimate_kinds(xy[:, :1], xy[:, 1:], ("c", "j"), workers=1, **kw)
    assert list(par) == ["c", "j"] and par["j"].kind == "j"
    for k in ("c", "j"):
        assert par[k].mi_per_seed == ser[k].mi_per_seed and par[k].entropies == ser[k].entropies
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        estimate_kinds(xy[:, :1], xy[:, 1:], workers=0)


def test_fit_and_estimate_leave_the_callers_thread_count_alone():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        model = _tiny(n_threads=1).fit(X, Y)
        assert torch.get_num_threads() == 2
        model.estimate(X, Y)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        _tiny(n_threads=0)


@pytest.mark.parametrize("kind", ["c", "j"])
def test_importance_sampling_means_training_and_estimation(kind):
    """Given explicitly, importance_sampling sets t in training too, unless train_importance_sampling
    says otherwise; left out, estimation uses importance and training the budget's choice per kind."""
    for is_on in (True, False):
        m = minde.MINDE(kind, budget="quick", importance_sampling=is_on)
        assert (m.importance_sampling, m.train_importance_sampling) == (is_on, is_on)
        m = minde.MINDE(kind, budget="quick", importance_sampling=is_on, train_importance_sampling=not is_on)
        assert (m.importance_sampling, m.train_importance_sampling) == (is_on, not is_on)
    m = minde.MINDE(kind, budget="quick")
    assert (m.importance_sampling, m.train_importance_sampling) == (True, kind == "c")
    assert minde.MINDE(kind, budget="paper").train_importance_sampling is True


def test_benchmark_import_leaves_jax_platforms_alone(tmp_path):
    """Importing the benchmark and sampling a task must not set JAX_PLATFORMS for the process."""
    import os
    import subprocess
    import sys

    code = ("import os, sys; from minde.bench import tasks, interop; "
            "tasks.sample('1v1-normal-0.75', 20, 10, 0, cache_dir=sys.argv[1]); "
            "print(os.environ.get('JAX_PLATFORMS', '<unset>'))")
    env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "<unset>"
