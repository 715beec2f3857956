"""Tests for the MNIST consistency experiment (docs/method.md §11): crop, autoencoder cache, pipeline, plot."""
from __future__ import annotations

import subprocess
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import minde
from minde._io import read_csv_exact
from minde.bench.mnist import load_mnist
from minde.repro import consistency as cons
from minde.repro import store
from minde.repro.autoencoders import (
    AutoencoderConfig,
    cached_autoencoder,
    crop_top_rows,
    encode,
    load_autoencoder,
)

torch.set_num_threads(1)
TINY_AE = AutoencoderConfig(hidden=32, latent=4, epochs=1, batch_size=64)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """200 MNIST training images, uint8 (200, 28, 28)."""
    return load_mnist("train")[0][:200]


# ---- crop operator ------------------------------------------------------------------------------

@pytest.mark.parametrize("r", [0, 1, 13, 27, 28])
def test_crop_keeps_top_rows(images: np.ndarray, r: int) -> None:
    out = crop_top_rows(images, r)
    assert out.shape == images.shape and out.dtype == images.dtype
    np.testing.assert_array_equal(out[:, :r], images[:, :r])
    assert not out[:, r:].any()


def test_crop_flat_matches_square(images: np.ndarray) -> None:
    flat = images.reshape(len(images), 784)
    np.testing.assert_array_equal(crop_top_rows(flat, 10), crop_top_rows(images, 10).reshape(-1, 784))
    assert not crop_top_rows(flat, 10)[:, 280:].any() and crop_top_rows(flat, 10)[:, :280].any()


def test_crop_does_not_modify_input_and_validates(images: np.ndarray) -> None:
    before = images.copy()
    crop_top_rows(images, 5)
    np.testing.assert_array_equal(images, before)
    with pytest.raises(ValueError):
        crop_top_rows(images, 29)
    with pytest.raises(ValueError):
        crop_top_rows(np.zeros((3, 27, 28)), 5)


# ---- autoencoder cache --------------------------------------------------------------------------

def test_autoencoder_cache_round_trip(images: np.ndarray, tmp_path: Path) -> None:
    model, meta = cached_autoencoder(images, 14, TINY_AE, "test", seed=3, cache_dir=tmp_path, progress=False)
    path = tmp_path / "ae_r14_test_seed3.pt"
    assert path.is_file() and not list(tmp_path.glob("*.tmp"))
    again, meta2 = cached_autoencoder(images, 14, TINY_AE, "test", seed=3, cache_dir=tmp_path, progress=False)
    assert meta2 == meta and meta["r"] == 14 and len(meta["losses"]) == TINY_AE.epochs
    z1, z2 = encode(model, crop_top_rows(images, 14)), encode(again, crop_top_rows(images, 14))
    assert z1.shape == (200, 4) and z1.dtype == np.float32
    np.testing.assert_array_equal(z1, z2)


def test_autoencoder_cache_corruption_is_reported_and_retrained(images: np.ndarray, tmp_path: Path) -> None:
    cached_autoencoder(images, 7, TINY_AE, "test", cache_dir=tmp_path, progress=False)
    path = tmp_path / "ae_r07_test_seed0.pt"
    blob = bytearray(path.read_bytes())
    blob[-10] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="SHA-256"):
        load_autoencoder(path)
    with pytest.warns(UserWarning, match=f"corrupted autoencoder cache {path}"):
        cached_autoencoder(images, 7, TINY_AE, "test", cache_dir=tmp_path, progress=False)
    load_autoencoder(path)  # rewritten and valid again


def test_autoencoder_cache_settings_mismatch_retrains(images: np.ndarray, tmp_path: Path) -> None:
    cached_autoencoder(images, 7, TINY_AE, "test", cache_dir=tmp_path, progress=False)
    with pytest.warns(UserWarning, match="other settings"):
        _, meta = cached_autoencoder(images[:100], 7, TINY_AE, "test", cache_dir=tmp_path, progress=False)
    assert meta["n_train"] == 100


# ---- quantities and ratios ----------------------------------------------------------------------

@pytest.mark.parametrize("budget", sorted(cons.CONSISTENCY_BUDGETS))
def test_budget_grids_are_consistent(budget: str) -> None:
    cfg = cons.CONSISTENCY_BUDGETS[budget]
    quantities = cons.needed_quantities(cfg)
    assert len(set(quantities)) == len(quantities)
    levels = cons.needed_crop_levels(cfg)
    assert 28 in levels and all(r + cfg.k in levels for r in cfg.r_dp)


def test_cyclic_pairing_has_no_fixed_points() -> None:
    partner = cons._cyclic_pairing(101, np.random.default_rng(0))
    assert sorted(partner) == list(range(101)) and not np.any(partner == np.arange(101))


class _GaussianStub:
    """Stand-in for minde.MINDE: the Gaussian MI of (x, y) on the test set, -1/2 log det-ratio,
    scaled by (1 + k) for the k-th model of a seed group so that seeds are told apart."""

    def __init__(self, kind: str, seed: int = 0, n_seeds: int = 1, **_: object) -> None:
        self.kind, self.seed, self.n_seeds = kind, seed, n_seeds

    def fit(self, x: np.ndarray, y: np.ndarray) -> "_GaussianStub":
        return self

    def estimate(self, x: np.ndarray, y: np.ndarray) -> types.SimpleNamespace:
        c = np.corrcoef(np.concatenate([x, y], 1), rowvar=False) + 1e-6 * np.eye(x.shape[1] + y.shape[1])
        dx = x.shape[1]
        mi = 0.5 * (np.linalg.slogdet(c[:dx, :dx])[1] + np.linalg.slogdet(c[dx:, dx:])[1] - np.linalg.slogdet(c)[1])
        per_seed = [mi * (1 + k) for k in range(self.n_seeds)]
        return types.SimpleNamespace(mi=float(np.mean(per_seed)), mi_sigma=1.01 * float(np.mean(per_seed)),
                                     mi_per_seed=per_seed, mi_sigma_per_seed=[1.01 * m for m in per_seed])


def _check_result_frame(df: pd.DataFrame, cfg: cons.ConsistencyBudget, n_variants: int) -> None:
    """Shared checks of a smoke-budget result frame."""
    assert list(df.columns) == cons.RESULT_COLUMNS + cons.PROVENANCE_COLUMNS
    n_rows = len(cfg.r_grid) + len(cfg.r_dp) + len(cfg.r_add)
    assert len(df) == n_rows * n_variants
    assert set(df["test"]) == {"baseline", "data_processing", "additivity"}
    assert np.isfinite(df["ratio"]).all()
    at28 = df[(df["test"] == "baseline") & (df["r"] == 28)]
    np.testing.assert_allclose(at28["ratio"], 1.0)
    assert df.groupby("test")["ideal"].first().to_dict() == cons.TEST_IDEALS


def test_pipeline_with_stub_estimator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(minde, "MINDE", _GaussianStub, raising=False)
    df = cons.run_consistency("smoke", baselines=(), cache_dir=tmp_path, progress=False)
    cfg = cons.CONSISTENCY_BUDGETS["smoke"]
    _check_result_frame(df, cfg, n_variants=4)
    assert set(df["method"]) == {"MINDE-C", "MINDE-J"} and set(df["variant"]) == {"mi", "mi_sigma"}
    add = df[(df["test"] == "additivity") & (df["variant"] == "mi")]
    assert (add["ratio"] > 1.5).all()  # Gaussian MI of independent pairs is nearly additive
    stored = store.load_or_compute("fig02", "smoke", lambda: df, {}, root=tmp_path / "res")
    back = read_csv_exact(tmp_path / "res" / "fig02" / "smoke" / "results.csv")  # the store's file, read back
    pd.testing.assert_frame_equal(back, stored, check_dtype=False)
    pd.testing.assert_frame_equal(back, df, check_dtype=False)


def test_plot_consistency_three_panels() -> None:
    from minde.plots.consistency import plot_consistency

    rows = [dict(test=t, r=r, method=m, variant=v, ratio=0.5 + r / 56, ideal=i)
            for t, i in cons.TEST_IDEALS.items() for r in (4, 16) for m, v in
            [("MINDE-C", "mi"), ("MINDE-C", "mi_sigma"), ("infonce", "mi")]]
    fig = plot_consistency(pd.DataFrame(rows))
    assert len(fig.axes) == 3
    for ax, ideal in zip(fig.axes, cons.TEST_IDEALS.values()):
        assert ax.get_xlabel() and ax.get_ylabel()
        assert any(list(line.get_ydata()) == [ideal, ideal] for line in ax.get_lines())
    labels = fig.legends[0].get_texts()
    assert {t.get_text() for t in labels} == {"MINDE-C", "MINDE-C(σ)", "InfoNCE", "ideal"}


def test_seeds_train_one_group_and_ratios_pair_estimates_of_one_seed(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    monkeypatch.setattr(minde, "MINDE", _GaussianStub, raising=False)
    calls: list[int] = []

    def fake_baseline(method, arrays, cfg, seed):
        calls.append(seed)
        return {"mi": 0.5 + seed}

    monkeypatch.setattr(cons, "_fit_baseline", fake_baseline)
    monkeypatch.setattr(cons, "_available_baselines", lambda b: tuple(b))
    cfg = cons.CONSISTENCY_BUDGETS["smoke"]
    df = cons.run_consistency("smoke", baselines=("infonce",), seeds=[3, 4], cache_dir=tmp_path, progress=False)
    n_quantities = len(cons.needed_quantities(cfg))
    assert sorted(set(calls)) == [3, 4] and len(calls) == 2 * n_quantities  # each baseline once per seed
    assert sorted(df["seed"].unique()) == [3, 4]
    for seed in (3, 4):
        _check_result_frame(df[df["seed"] == seed], cfg, n_variants=5)
    key = ["test", "r", "method", "variant"]
    s3 = df[df["seed"] == 3].set_index(key).sort_index()
    s4 = df[df["seed"] == 4].set_index(key).sort_index()
    minde_rows = s3.index.get_level_values("method").str.startswith("MINDE")
    # the stub's second model reads twice the first: each seed's ratio uses its own estimates only
    np.testing.assert_allclose(s4["estimate_numerator"][minde_rows], 2 * s3["estimate_numerator"][minde_rows])
    np.testing.assert_allclose(s4["ratio"][minde_rows], s3["ratio"][minde_rows])
    base = s3.loc[~minde_rows]
    np.testing.assert_allclose(base["estimate_numerator"], 3.5)
    np.testing.assert_allclose(s4.loc[~minde_rows, "estimate_denominator"], 4.5)


def test_interrupted_run_resumes_from_its_saved_estimates(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fits: list[tuple] = []

    class Counting(_GaussianStub):
        fail_after: int | None = None

        def fit(self, x, y):
            if Counting.fail_after is not None and len(fits) >= Counting.fail_after:
                raise KeyboardInterrupt  # the run is stopped in the middle of a model
            fits.append((self.kind, x.shape[1], y.shape[1]))
            return self

    monkeypatch.setattr(minde, "MINDE", Counting, raising=False)
    run = lambda **kw: cons.run_consistency("smoke", baselines=(), seeds=(0, 1), cache_dir=tmp_path,  # noqa: E731
                                            progress=False, **kw)
    full = run(resume=False)
    n_models = len(fits)
    assert n_models == 2 * len(cons.needed_quantities(cons.CONSISTENCY_BUDGETS["smoke"]))
    fits.clear()
    assert_same = lambda a, b: pd.testing.assert_frame_equal(  # noqa: E731
        a.drop(columns="seconds"), b.drop(columns="seconds"), check_dtype=False)
    assert_same(run(), full)  # everything saved: nothing is refitted
    assert fits == []
    Counting.fail_after = 3
    with pytest.raises(KeyboardInterrupt):
        run(resume=False)  # starts afresh, stops after three models
    Counting.fail_after = None
    fits.clear()
    assert_same(run(), full)
    assert len(fits) == n_models - 3  # the three finished models are not trained again
    saved = list((tmp_path / "consistency").glob("consistency_smoke_*.csv"))
    assert len(saved) == 1
    only_c = cons.run_consistency("smoke", kinds=("c",), baselines=(), seeds=(0, 1), cache_dir=tmp_path,
                                  progress=False)  # a subset of the saved estimators: nothing refitted
    assert set(only_c["method"]) == {"MINDE-C"} and len(fits) == n_models - 3
    assert_same(run(), full)  # the other estimators' rows are still in the file
    assert len(fits) == n_models - 3
    other = cons.progress_file(cons.CONSISTENCY_BUDGETS["smoke"], "smoke", (0, 1, 2), tmp_path / "consistency")
    assert other != saved[0]  # other seeds: another file, never mixed
    saved[0].write_text("a,b\n1,2\n")  # a file that is not a table of estimates: recomputed whole
    fits.clear()
    assert_same(run(), full)
    assert len(fits) == n_models


def test_resume_across_revisions_keeps_each_estimates_revision(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    """A run interrupted at revision A resumes after a commit (revision B) from the same file; each
    result row names the revisions of its numerator and denominator, the saved CSV keeps them and
    the report counts both. Other latents (another autoencoder) never share the file."""
    from minde.repro import report

    fits: list[str] = []

    class Counting(_GaussianStub):
        fail_after: int | None = None

        def fit(self, x, y):
            if Counting.fail_after is not None and len(fits) >= Counting.fail_after:
                raise KeyboardInterrupt
            fits.append(self.kind)
            return self

    monkeypatch.setattr(minde, "MINDE", Counting, raising=False)
    progress_dir = tmp_path / "results" / "progress"
    run = lambda: cons.run_consistency("smoke", kinds=("c",), baselines=(), seeds=(0, 1),  # noqa: E731
                                       cache_dir=tmp_path, progress=False, progress_dir=progress_dir)
    import minde.repro.provenance as prov  # the revision the store stamps on each part

    monkeypatch.setattr(prov, "source_revision", lambda: "a" * 40)
    Counting.fail_after = 2
    with pytest.raises(KeyboardInterrupt):
        run()
    Counting.fail_after = None
    monkeypatch.setattr(prov, "source_revision", lambda: "b" * 40)
    df = run()
    n_quantities = len(cons.needed_quantities(cons.CONSISTENCY_BUDGETS["smoke"]))
    assert len(fits) == n_quantities  # two before the commit, the rest after: none twice
    assert not (tmp_path / "consistency").exists() and len(list(progress_dir.glob("*.csv"))) == 1
    revs = set(df["git_rev"]) | set(df["git_rev_denominator"])
    assert revs == {"a" * 40, "b" * 40}
    mixed = df[df["git_rev"] != df["git_rev_denominator"]]
    assert len(mixed) > 0
    store.load_or_compute("fig02", "smoke", lambda: df, {}, root=tmp_path)
    path = tmp_path / "fig02" / "smoke" / "results.csv"
    back = read_csv_exact(path)
    pd.testing.assert_frame_equal(back[cons.PROVENANCE_COLUMNS], df[cons.PROVENANCE_COLUMNS])
    loaded = report._load_table("fig02_consistency_mnist", "smoke",
                                report.Loaded(stem="fig02_consistency_mnist", folder=path.parent))
    counted = {"a" * 40: (df["git_rev"] == "a" * 40).sum(), "b" * 40: (df["git_rev"] == "b" * 40).sum()}
    for rev, n in mixed["git_rev_denominator"].value_counts().items():
        counted[rev] += n
    assert dict(loaded.revisions) == counted
    cfg = cons.CONSISTENCY_BUDGETS["smoke"]
    latents = cons.prepare_latents(cfg, "smoke", 0, tmp_path / "autoencoders", progress=False)
    same = cons.progress_file(cfg, "smoke", (0, 1), progress_dir, latents)
    assert same.exists()
    latents["test"][28] = latents["test"][28] + 1e-3  # another autoencoder's latents: another file
    assert cons.progress_file(cfg, "smoke", (0, 1), progress_dir, latents) != same


@pytest.mark.parametrize("bad", [[], [0, 2], [1, 0], [-1, 0], [True, False], "012", [0.0, 1.0], 3])
def test_seeds_must_be_consecutive_non_negative_integers(bad) -> None:
    with pytest.raises(ValueError, match="seeds must be consecutive non-negative integers"):
        cons.check_seeds(bad)
    assert cons.check_seeds(range(2, 5)) == (2, 3, 4) and cons.check_seeds([np.int64(0)]) == (0,)


def test_plot_consistency_mean_and_band_over_seeds() -> None:
    from matplotlib.collections import PolyCollection

    from minde.plots.consistency import plot_consistency, seed_summary

    rows = [dict(test=t, r=r, method="MINDE-C", variant="mi", seed=s, ratio=i * (0.5 + 0.1 * s) + r / 100, ideal=i)
            for t, i in cons.TEST_IDEALS.items() for r in (4, 16) for s in (0, 1, 2)]
    df = pd.DataFrame(rows)
    summary = seed_summary(df)
    assert len(summary) == 6 and (summary["n_seeds"] == 3).all()
    base = summary[summary["test"] == "baseline"].set_index("r")
    np.testing.assert_allclose(base["mean"], [0.64, 0.76])
    np.testing.assert_allclose(base["std"], [0.1, 0.1])
    fig = plot_consistency(df, title="t")
    assert "mean ± std over 3 seeds" in fig._suptitle.get_text()
    for ax, ideal in zip(fig.axes, cons.TEST_IDEALS.values()):
        line = ax.get_lines()[0]
        np.testing.assert_allclose(line.get_ydata(), [ideal * 0.6 + 0.04, ideal * 0.6 + 0.16])
        assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 1  # the ± std band
    one = plot_consistency(df[df["seed"] == 0], title="t")
    assert one._suptitle.get_text() == "t" and not any(ax.collections for ax in one.axes)


def test_plotting_imports_no_training_code() -> None:
    code = ("import sys, minde.plots.consistency; "
            "bad = [m for m in ('minde.repro.consistency', 'minde.repro.autoencoders', 'minde.bench.mnist') "
            "if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)


# ---- end to end with the real estimator ---------------------------------------------------------

@pytest.mark.slow
def test_pipeline_end_to_end_smoke(tmp_path: Path) -> None:
    """The MNIST pipeline at the smoke budget: autoencoders, MINDE and InfoNCE (minutes: second tier)."""
    try:
        import minde.bench.baselines  # noqa: F401
        has_baselines = True
    except ImportError:
        has_baselines = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = cons.run_consistency("smoke", baselines=("infonce",), cache_dir=tmp_path, progress=False)
    skipped = any("minde.bench.baselines is not available" in str(w.message) for w in caught)
    assert skipped != has_baselines
    cfg = cons.CONSISTENCY_BUDGETS["smoke"]
    minde_rows = df[df["method"].str.startswith("MINDE")]
    _check_result_frame(minde_rows, cfg, n_variants=4)
    assert (df["method"] == "infonce").any() == has_baselines
    assert (df["seconds"] > 0).all()
