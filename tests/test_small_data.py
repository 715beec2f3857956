"""Small data sets: training length that follows the rows, and cross-fitting (docs/method.md §18)."""
import math

import numpy as np
import pytest

import minde
from minde.api import CROSS_FIT_FOLDS, CROSS_FIT_ROWS, cross_fit, fold_indices
from minde.config import get_budget, resolve_settings

RHO = 0.75
TRUTH = -0.5 * math.log(1 - RHO**2)


def gaussian(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    z = np.random.default_rng(seed).multivariate_normal([0, 0], [[1, RHO], [RHO, 1]], size=n)
    return z[:, :1], z[:, 1:]


def test_quick_training_length_follows_the_rows():
    quick = get_budget("quick")
    for kind, dim_x, n, steps, rule in (
            ("c", 1, 10_000, 10_000, "budget"), ("c", 1, 5_000, 10_000, "budget"),
            ("c", 50, 10_000, 10_000, "budget"), ("c", 1, 1_000, 2_000, "rows"),
            ("c", 3, 250, 500, "rows"), ("c", 1, 4_999, 9_998, "rows"),
            ("j", 1, 2_000, 10_000, "budget"), ("j", 3, 1_000, 5_000, "rows"), ("j", 1, 250, 1_250, "rows")):
        s = resolve_settings(quick, dim_x, n, kind=kind)
        assert (s.steps, s.steps_rule) == (steps, rule), (kind, dim_x, n)
        assert s.warmup_steps == round(0.05 * steps)  # warm-up and decay follow the shorter run
    with pytest.raises(ValueError, match="by kind"):
        resolve_settings(quick, 1, 250)
    assert resolve_settings(quick, 1, 250, steps=7).steps_rule == "explicit"
    paper = resolve_settings(get_budget("paper"), 1, 1_000)  # the paper's recipe is left alone
    assert (paper.steps, paper.steps_rule) == (500 * 8, "epochs")
    assert resolve_settings(get_budget("smoke"), 1, 50).steps == 200


def test_folds_partition_the_rows():
    parts = fold_indices(103, 5, seed=3)
    assert sorted(np.concatenate(parts).tolist()) == list(range(103))
    assert {len(p) for p in parts} == {20, 21}
    assert all((np.diff(p) > 0).all() for p in parts)
    assert [p.tolist() for p in fold_indices(103, 5, seed=3)] == [p.tolist() for p in parts]
    assert [p.tolist() for p in fold_indices(103, 5, seed=4)] != [p.tolist() for p in parts]
    for bad, msg in ((1, "folds must be an integer >= 2"), (2.5, "folds must be an integer"),
                     (60, "too few rows: 103 for 60 folds")):
        with pytest.raises(ValueError, match=msg):
            fold_indices(103, bad, seed=0)


def test_cross_fit_scores_every_row_with_a_model_that_did_not_see_it():
    """The answer is the fold-size-weighted mean of lone fits, model k trained off fold k."""
    x, y = gaussian(203)
    kw = dict(budget="smoke", steps=40, mc_iter=3, progress=False)
    r = cross_fit(x, y, "c", 3, seed=5, **kw)
    parts = fold_indices(203, 3, seed=5)
    n_tr = 203 - max(len(p) for p in parts)
    lone = []
    for k, p in enumerate(parts):
        train = np.setdiff1d(np.arange(203), p)[:n_tr]
        lone.append(minde.MINDE("c", seed=5 + k, **kw).fit(x[train], y[train]).estimate(x[p], y[p]))
    assert r.mi_per_seed == pytest.approx([e.mi for e in lone], rel=1e-4, abs=1e-5)
    w = np.array([len(p) for p in parts]) / 203
    assert r.mi == pytest.approx(float(np.dot(w, [e.mi for e in lone])), rel=1e-4, abs=1e-5)
    assert r.mi_stderr == pytest.approx(math.sqrt(np.dot(w**2, [e.mi_stderr**2 for e in lone])), rel=1e-3)
    assert r.entropies["H(X)"] == pytest.approx(float(np.dot(w, [e.entropies["H(X)"] for e in lone])), rel=1e-4)
    assert (r.n_train, r.settings["folds"], r.settings["seeds"]) == (n_tr, 3, [5, 6, 7])
    with pytest.raises(ValueError, match="n_seeds"):
        cross_fit(x, y, "c", 3, n_seeds=2, **kw)


def test_estimate_mi_cross_fits_small_data_and_splits_large():
    kw = dict(budget="smoke", steps=5, mc_iter=2, progress=False)
    x, y = gaussian(300)
    assert minde.estimate_mi(x, y, **kw).settings["folds"] == CROSS_FIT_FOLDS
    assert "folds" not in minde.estimate_mi(x, y, test_size=0.2, **kw).settings  # asked for a split
    assert "folds" not in minde.estimate_mi(x, y, n_seeds=2, **kw).settings  # an ensemble on one split
    assert minde.estimate_mi(x, y, folds=3, **kw).settings["folds"] == 3
    with pytest.raises(ValueError, match="not both"):
        minde.estimate_mi(x, y, folds=3, test_size=0.2, **kw)
    x, y = gaussian(CROSS_FIT_ROWS)
    r = minde.estimate_mi(x, y, **kw)
    assert "folds" not in r.settings and r.n_train == CROSS_FIT_ROWS - CROSS_FIT_ROWS // 10


@pytest.mark.slow
def test_defaults_on_1000_rows_land_near_the_truth_without_memorising():
    """1 000 rows of a bivariate normal: with 10 000 steps per model MINDE-C overfits these rows; the
    defaults (5 folds, 1 600 steps per model) land within max(0.1, 25 %) of the truth."""
    x, y = gaussian(1_000, seed=2)
    r = minde.estimate_mi(x, y, "c", progress=False)
    assert r.settings["steps"] == 1_600 and r.settings["steps_rule"] == "rows"
    assert abs(r.mi - TRUTH) < max(0.1, 0.25 * TRUTH), r.mi
    assert not any("memorised" in w for w in r.warnings)


def test_sample_size_study_resumes_per_method(tmp_path):
    """Rows already saved are kept as they are; a method added later is computed alone; unknown
    baselines are refused before anything runs."""
    from minde.repro.small_data import COLUMNS, run_sample_size_study

    out = tmp_path / "study.csv"
    common = dict(tasks=["1v1-normal-0.75"], sizes=[120], seeds=[0], kinds=("c",), budget="smoke",
                  former_max=0, out=out, progress=False)
    first = run_sample_size_study(**common, baselines=("ksg",))
    assert list(first.columns) == list(COLUMNS)
    assert sorted(first["method"]) == ["ksg", "minde_c"]
    saved = first.set_index("method")[["estimate", "seconds"]]
    again = run_sample_size_study(**common, baselines=("ksg",)).set_index("method")  # nothing is missing
    assert again[["estimate", "seconds"]].values.ravel().tolist() == pytest.approx(saved.values.ravel().tolist(), rel=1e-12)
    both = run_sample_size_study(**common, baselines=("ksg", "infonce"))
    assert sorted(both["method"]) == ["infonce", "ksg", "minde_c"]
    kept = both.set_index("method").drop("infonce").loc[saved.index, ["estimate", "seconds"]]
    assert kept.values.ravel().tolist() == pytest.approx(saved.values.ravel().tolist(), rel=1e-12)
    assert np.isfinite(both.set_index("method").loc["infonce", "estimate"])
    with pytest.raises(ValueError, match="unknown baseline"):
        run_sample_size_study(**common, baselines=("mine",))


def test_cross_fit_with_two_models_per_fold_scores_each_pair_jointly_on_its_fold():
    """models_per_fold=2: per fold, two lone fits on the same rows; the cross-model answer is the
    fold-size-weighted mean of each pair's cross-model estimate on the fold neither saw."""
    from minde.ensemble import cross_model_estimate

    x, y = gaussian(203)
    kw = dict(budget="smoke", steps=40, mc_iter=3, progress=False)
    r = cross_fit(x, y, "j", 3, seed=5, models_per_fold=2, **kw)
    parts = fold_indices(203, 3, seed=5)
    n_tr = 203 - max(len(p) for p in parts)
    w = np.array([len(p) for p in parts]) / 203
    lone, crosses = [], []
    for k, p in enumerate(parts):
        train = np.setdiff1d(np.arange(203), p)[:n_tr]
        pair = [minde.MINDE("j", seed=5 + 2 * k + i, **kw).fit(x[train], y[train]) for i in range(2)]
        lone += [m.estimate(x[p], y[p]).mi for m in pair]
        crosses.append(cross_model_estimate(pair, x[p], y[p], seed=5 + 2 * k).mi)
    assert r.mi_per_seed == pytest.approx(lone, rel=1e-4, abs=1e-5)
    assert r.mi == pytest.approx(float(np.dot(w, np.reshape(lone, (3, 2)).mean(1))), rel=1e-4, abs=1e-5)
    assert r.cross.mi == pytest.approx(float(np.dot(w, crosses)), rel=1e-4, abs=1e-5)
    assert r.cross.n_models == 6 and r.settings["seeds"] == list(range(5, 11))
    assert np.isfinite(r.cross.mi_model_se) and r.answer == ""  # cross_fit reports; estimate_mi chooses
    with pytest.raises(ValueError, match="models_per_fold"):
        cross_fit(x, y, "j", 3, models_per_fold=0, **kw)


def test_estimate_mi_answers_minde_j_with_the_cross_model_estimate():
    """MINDE-J's default answer is the cross-model estimate of two models (per fold on small
    data); debias=False gives the paper's estimator of one model; MINDE-C keeps the paper's."""
    kw = dict(budget="smoke", steps=5, mc_iter=2, progress=False)
    x, y = gaussian(300)
    r = minde.estimate_mi(x, y, "j", **kw)
    assert (r.settings["folds"], r.settings["models_per_fold"], r.answer) == (5, 2, "minde_j_cross")
    assert r.answer_mi == r.cross.mi and r.answer_stderr >= r.cross.mi_stderr
    assert "answer:" in str(r).splitlines()[0]
    paper = minde.estimate_mi(x, y, "j", debias=False, **kw)
    assert (paper.settings["models_per_fold"], paper.answer, paper.cross) == (1, "", None)
    assert paper.answer_mi == paper.mi and paper.answer_stderr == paper.mi_stderr
    c = minde.estimate_mi(x, y, "c", **kw)
    assert c.answer == "" and c.settings["models_per_fold"] == 1
    x, y = gaussian(CROSS_FIT_ROWS)
    big = minde.estimate_mi(x, y, "j", **kw)
    assert "folds" not in big.settings and big.settings["n_seeds"] == minde.api.ANSWER_MODELS
    assert big.answer == "minde_j_cross" and big.answer_mi == big.cross.mi
    assert minde.estimate_mi(x, y, "j", debias=False, **kw).settings["n_seeds"] == 1
    with pytest.raises(ValueError, match="debias=True needs n_seeds >= 2"):
        minde.estimate_mi(x, y, "j", debias=True, n_seeds=1, **kw)
