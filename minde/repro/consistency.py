"""MNIST self-consistency tests of MI estimators in autoencoder latent space (docs/method.md §11, Figure 2).

Protocol (choices marked *open* in docs/method.md §11 are stated here and switchable through the budget):
- A = latent of the full-image autoencoder (r = 28); B_r = latent of the r-autoencoder applied to
  the crop B_r (top r rows kept). Autoencoders and estimators are trained on the first
  ``n_train`` MNIST training images; estimates use the first ``n_test`` MNIST test images.
- Latents are standardised per dimension with training statistics (MI is invariant to this);
  exactly constant dimensions are dropped, and a variable with none left has MI 0 exactly.
- (a) baseline I(A; B_r) / I(A; B_28), ideal 1 at r = 28 approached monotonically from 0.
  Note B_28 = A, so I(A; B_28) is formally infinite: the denominator is the estimator's own
  ceiling on this data, as in the paper's protocol.
- (b) data processing I(A; [B_{r+k}, B_r]) / I(A; B_{r+k}), k = 3, ideal 1.
- (c) additivity I([A1, A2]; [B1_r, B2_r]) / I(A1; B1_r), ideal 2, with image pairs
  (i, pi(i)) for a random cyclic shift pi of a random permutation (no image paired with itself).
- (b) stops at r + k = 25: at r + k = 28, B_{r+k} = A and both MIs are the estimator's ceiling.
- r grids are multiples-of-3 offsets so that the denominators of (b) are (a)'s numerators:
  every distinct MI is estimated once per estimator and seed and shared between tests.
- Seeds: the first seed drives the autoencoders and the image pairing, which every seed shares;
  the estimators are trained once per seed (MINDE as one seed group, ``MINDE(n_seeds=K)``), and
  each seed's ratios use that seed's estimates only, so the spread over seeds is the estimators'.
- Resuming: the estimates are a table of ``minde.repro.store``: each (quantity, r, estimator) is
  saved the moment it finishes, with the code revision that computed it, to a progress file whose
  settings are the budget's, the seeds and a digest of the latents; a rerun of the same
  configuration skips the estimates found there, so an interrupted run loses at most the model in
  training. The revision is not a setting, so a run resumes across commits (and, with the file
  committed beside the results, across machines); the result rows carry the revisions of their
  numerator and denominator.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from minde._io import cache_root
from minde.bench.mnist import load_mnist
from minde.data import check_not_constant
from minde.repro.autoencoders import IMAGE_SIDE, AutoencoderConfig, cached_autoencoder, crop_top_rows, encode
from minde.repro.experiments import check_seeds

__all__ = [
    "ConsistencyBudget",
    "CONSISTENCY_BUDGETS",
    "Quantity",
    "RESULT_COLUMNS",
    "PROVENANCE_COLUMNS",
    "TEST_IDEALS",
    "check_seeds",
    "crop_top_rows",
    "needed_crop_levels",
    "needed_quantities",
    "prepare_latents",
    "quantity_arrays",
    "estimate_quantities",
    "progress_file",
    "estimate_settings",
    "latents_digest",
    "consistency_ratios",
    "run_consistency",
]

# docs/method.md §11: one row per (test, r, method, variant, seed); ratio = estimate_numerator / estimate_denominator
RESULT_COLUMNS = [
    "test", "r", "method", "variant", "estimate_numerator", "estimate_denominator", "ratio", "ideal",
    "seconds", "budget", "seed",
]
PROVENANCE_COLUMNS = ["git_rev", "git_rev_denominator"]  # the code revisions of a row's numerator and denominator
TEST_IDEALS = {"baseline": 1.0, "data_processing": 1.0, "additivity": 2.0}  # docs/method.md §11: ideal ratios
MINDE_LABELS = {"c": "MINDE-C", "j": "MINDE-J"}  # docs/method.md §3: method names of the two model types


@dataclass(frozen=True)
class ConsistencyBudget:
    """docs/method.md §11: sizes and grids of one budget of the consistency experiment."""

    n_train: int  # MNIST training images (autoencoders and estimator training)
    n_test: int  # MNIST test images (estimation)
    ae_epochs: int  # autoencoder epochs (docs/method.md §11: ~100)
    r_grid: tuple[int, ...]  # crop levels of test (a); must contain 28
    r_dp: tuple[int, ...]  # lower crop levels r of test (b); r + k < 28 (else B_{r+k} = A)
    r_add: tuple[int, ...]  # crop levels of test (c)
    k: int = 3  # crop offset of the data-processing test (b)
    minde_steps: int | None = None  # MINDE training steps per fit (None: MINDE's budget default)
    minde_hidden: int = 256  # score-network width (docs/method.md §11: 256)
    minde_batch_size: int = 64  # score-network batch size (docs/method.md §11: 64)
    minde_lr: float = 1e-3  # score-network Adam learning rate (docs/method.md §11: 1e-3)
    estimator_budget: str = "quick"  # budget name passed to minde.MINDE and the baselines


# docs/method.md §11: smoke checks plumbing (seconds); quick ~30 min on 1-2 CPU cores; paper = the protocol.
CONSISTENCY_BUDGETS: dict[str, ConsistencyBudget] = {
    "smoke": ConsistencyBudget(
        n_train=300, n_test=200, ae_epochs=2, r_grid=(16, 28), r_dp=(13,), r_add=(16,),
        minde_steps=40, minde_hidden=32, estimator_budget="smoke",
    ),
    "quick": ConsistencyBudget(
        n_train=20_000, n_test=5_000, ae_epochs=8, r_grid=(4, 10, 16, 22, 28), r_dp=(7, 13, 19),
        r_add=(4, 10, 16, 22), minde_steps=5_000, estimator_budget="quick",
    ),
    "paper": ConsistencyBudget(
        n_train=60_000, n_test=10_000, ae_epochs=100, r_grid=tuple(range(4, 29, 3)),
        r_dp=tuple(range(4, 23, 3)), r_add=tuple(range(4, 26, 3)), minde_steps=None,
        estimator_budget="paper",
    ),
}


@dataclass(frozen=True)
class Quantity:
    """docs/method.md §11: one mutual information of the tests, I(A; B_r) ("ab"), (b)'s ("dp") or (c)'s ("add")."""

    kind: str  # "ab": I(A; B_r); "dp": I(A; [B_{r+k}, B_r]); "add": I([A1, A2]; [B1_r, B2_r])
    r: int  # crop level (for "dp", the lower one)


def needed_quantities(cfg: ConsistencyBudget) -> list[Quantity]:
    """docs/method.md §11: every distinct MI that tests (a)-(c) need, numerators and denominators."""
    if IMAGE_SIDE not in cfg.r_grid or any(r + cfg.k > IMAGE_SIDE for r in cfg.r_dp):
        raise ValueError(f"r_grid must contain {IMAGE_SIDE} and every r_dp + k must be <= {IMAGE_SIDE}")
    ab = sorted(set(cfg.r_grid) | {r + cfg.k for r in cfg.r_dp} | set(cfg.r_add))
    return ([Quantity("ab", r) for r in ab] + [Quantity("dp", r) for r in cfg.r_dp]
            + [Quantity("add", r) for r in cfg.r_add])


def needed_crop_levels(cfg: ConsistencyBudget) -> list[int]:
    """docs/method.md §11: the crop levels r that need an autoencoder (28 included, for A)."""
    return sorted({q.r for q in needed_quantities(cfg)} | {r + cfg.k for r in cfg.r_dp} | {IMAGE_SIDE})


def _cyclic_pairing(n: int, rng: np.random.Generator) -> np.ndarray:
    """docs/method.md §11 (c): partner index pi(i) with pi(i) != i, each image once first and once second."""
    perm = rng.permutation(n)
    partner = np.empty(n, dtype=np.int64)
    partner[perm] = np.roll(perm, -1)
    return partner


def prepare_latents(
    cfg: ConsistencyBudget,
    budget: str,
    seed: int = 0,
    cache_dir: Path | None = None,
    progress: bool = True,
) -> dict:
    """docs/method.md §11: train or load one autoencoder per crop level and encode train and test crops.

    Returns:
        dict with "train" and "test", each {r: latents (n, 16) float32} of the crop B_r (r = 28 is A),
        "pairs": {"train": pi (n_train,), "test": pi (n_test,)} for the additivity test, and
        "ae_meta": {r: checkpoint metadata (training seconds, losses)}.
    """
    x_train = load_mnist("train")[0][: cfg.n_train]
    x_test = load_mnist("test")[0][: cfg.n_test]
    ae_config = AutoencoderConfig(epochs=cfg.ae_epochs)
    out: dict = {"train": {}, "test": {}, "ae_meta": {}}
    for r in needed_crop_levels(cfg):
        model, meta = cached_autoencoder(x_train, r, ae_config, budget, seed, cache_dir, progress)
        out["train"][r] = encode(model, crop_top_rows(x_train, r))
        out["test"][r] = encode(model, crop_top_rows(x_test, r))
        out["ae_meta"][r] = meta
    rng = np.random.default_rng(seed)
    out["pairs"] = {"train": _cyclic_pairing(cfg.n_train, rng), "test": _cyclic_pairing(cfg.n_test, rng)}
    return out


def _side(q: Quantity, z: dict[int, np.ndarray], pairs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """docs/method.md §11: the (X, Y) arrays of one quantity on one split, X: (n, d_x), Y: (n, d_y)."""
    a = z[IMAGE_SIDE]
    if q.kind == "ab":
        return a, z[q.r]
    if q.kind == "dp":
        return a, np.concatenate([z[q.r + k], z[q.r]], axis=1)
    if q.kind == "add":
        return np.concatenate([a, a[pairs]], axis=1), np.concatenate([z[q.r], z[q.r][pairs]], axis=1)
    raise ValueError(f"unknown quantity kind {q.kind!r}")


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop dead latent units (constant on the training split, e.g. every unit of the empty crop
    B_0), then standardise with training statistics (``docs/method.md`` §7, §11)."""
    keep = train.std(0) > 0
    train, test = train[:, keep], test[:, keep]
    mean, std = train.mean(0), train.std(0)
    check_not_constant("latent", mean, std)
    return ((train - mean) / std).astype(np.float32), ((test - mean) / std).astype(np.float32)


def quantity_arrays(q: Quantity, latents: dict, k: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """docs/method.md §11: standardised (x_train, y_train, x_test, y_test) of one MI, shapes (n, d)."""
    x_tr, y_tr = _side(q, latents["train"], latents["pairs"]["train"], k)
    x_te, y_te = _side(q, latents["test"], latents["pairs"]["test"], k)
    x_tr, x_te = _standardise(x_tr, x_te)
    y_tr, y_te = _standardise(y_tr, y_te)
    return x_tr, y_tr, x_te, y_te


def _fit_minde(kind: str, arrays: tuple, cfg: ConsistencyBudget, seeds: tuple[int, ...], device: str,
               progress: bool) -> list[dict]:
    """docs/method.md §3: fit one MINDE model of type kind per seed, as one seed group; both
    variants in nats, one dict per seed."""
    import minde

    est = minde.MINDE(kind=kind, budget=cfg.estimator_budget, steps=cfg.minde_steps,
                      batch_size=cfg.minde_batch_size, lr=cfg.minde_lr, hidden=cfg.minde_hidden,
                      seed=seeds[0], n_seeds=len(seeds), device=device, progress=progress)
    est.fit(arrays[0], arrays[1])
    res = est.estimate(arrays[2], arrays[3])
    return [{"mi": float(m), "mi_sigma": float(ms)} for m, ms in zip(res.mi_per_seed, res.mi_sigma_per_seed)]


def _fit_baseline(method: str, arrays: tuple, cfg: ConsistencyBudget, seed: int) -> dict:
    """docs/method.md §9: one baseline estimate in nats through minde.bench.baselines."""
    from minde.bench.baselines import estimate_baseline

    res = estimate_baseline(method, *arrays, budget=cfg.estimator_budget, seed=seed)
    return {"mi": float(res.estimate)}


def _available_baselines(baselines: tuple[str, ...]) -> tuple[str, ...]:
    """docs/method.md §9: the requested baselines, or none (with a warning) if minde.bench.baselines is absent."""
    if not baselines:
        return ()
    try:
        import minde.bench.baselines  # noqa: F401
    except ImportError:
        warnings.warn(f"minde.bench.baselines is not available; skipping baselines {list(baselines)}", stacklevel=3)
        return ()
    return tuple(baselines)


_ESTIMATE_COLUMNS = ["quantity", "r", "method", "variant", "seed", "estimate", "seconds", "git_rev"]


def latents_digest(latents: dict) -> str:
    """SHA-256 (16 hex digits) of the encoded train and test latents and the image pairing: two
    runs share estimates only when their autoencoders encode the images bit for bit alike."""
    h = hashlib.sha256()
    for split in ("train", "test"):
        for r in sorted(latents[split]):
            h.update(f"{split}{r}".encode())
            h.update(np.ascontiguousarray(latents[split][r]).tobytes())
        h.update(np.ascontiguousarray(latents["pairs"][split]).tobytes())
    return h.hexdigest()[:16]


def estimate_settings(cfg: ConsistencyBudget, budget: str, seeds: Sequence[int],
                      latents: dict | None = None) -> dict:
    """docs/method.md §11: what decides the estimates: the budget's settings, the estimator
    budget's settings (its training recipe), the seeds and, given ``latents``, their digest
    (``latents_digest``). The code revision is not among them: each row records its own."""
    from minde.config import get_budget

    key = {"budget": budget, "consistency": dataclasses.asdict(cfg), "seeds": list(seeds),
           "estimator": dataclasses.asdict(get_budget(cfg.estimator_budget))}
    if latents is not None:
        key["latents"] = latents_digest(latents)
    return json.loads(json.dumps(key, default=str))


def progress_file(cfg: ConsistencyBudget, budget: str, seeds: Sequence[int], folder: Path,
                  latents: dict | None = None) -> Path:
    """docs/method.md §11: where a run of this configuration stores its estimates (a table of
    ``minde.repro.store``, its settings in ``<name>.meta.json``), named after a hash of
    ``estimate_settings``, so runs of other configurations keep files of their own."""
    key = estimate_settings(cfg, budget, seeds, latents)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return Path(folder) / f"consistency_{budget}_{digest}.csv"


def estimate_quantities(
    latents: dict,
    cfg: ConsistencyBudget,
    kinds: tuple[str, ...] = ("c", "j"),
    baselines: tuple[str, ...] = ("infonce",),
    seeds: Sequence[int] = (0,),
    device: str = "auto",
    progress: bool = True,
    *,
    resume_from: Path,
    settings: dict,
) -> pd.DataFrame:
    """docs/method.md §11: every needed MI by every estimator and seed.

    Args:
        resume_from: progress file (``progress_file``), stored by ``minde.repro.store`` one
            (quantity, r, estimator) at a time under ``settings`` (``estimate_settings``):
            estimates found there are not recomputed, other estimators' rows stay in the file.

    Returns:
        Tidy frame (quantity, r, method, variant, seed, estimate [nats], seconds, git_rev); seconds
        is the fit and estimation time of one model, shared by the two variants of a MINDE model
        (for a seed group, the group's time divided by its number of seeds); git_rev is the code
        revision that computed the estimate (an earlier one for estimates resumed from the file).
    """
    from minde.repro.store import load_or_compute

    seeds = check_seeds(seeds)
    jobs = {MINDE_LABELS[k]: ("minde", k) for k in kinds}
    jobs.update({b: ("baseline", b) for b in _available_baselines(tuple(baselines))})
    quantities = {(q.kind, q.r): q for q in needed_quantities(cfg)}

    def compute(part: dict) -> pd.DataFrame:
        q, (family, name) = quantities[(part["quantity"], int(part["r"]))], jobs[part["method"]]
        arrays = quantity_arrays(q, latents, cfg.k)
        empty = arrays[0].shape[1] == 0 or arrays[1].shape[1] == 0  # a constant variable: MI 0 exactly
        if family == "minde":
            start = time.perf_counter()
            per_seed = ([{"mi": 0.0, "mi_sigma": 0.0}] * len(seeds) if empty
                        else _fit_minde(name, arrays, cfg, seeds, device, progress))
            seconds = [(time.perf_counter() - start) / len(seeds)] * len(seeds)
        else:
            per_seed, seconds = [], []
            for seed in seeds:
                start = time.perf_counter()
                per_seed.append({"mi": 0.0} if empty else _fit_baseline(name, arrays, cfg, seed))
                seconds.append(time.perf_counter() - start)
        return pd.DataFrame([dict(quantity=q.kind, r=q.r, method=part["method"], variant=v, seed=seed, estimate=e,
                                  seconds=sec) for seed, values, sec in zip(seeds, per_seed, seconds)
                             for v, e in values.items()], columns=_ESTIMATE_COLUMNS[:-1])

    parts = [dict(quantity=kind, r=r, method=label) for kind, r in quantities for label in jobs]
    df = load_or_compute("fig02_consistency_mnist", settings["budget"], compute, settings, recipe=False,
                         parts=parts, path=resume_from, progress=progress)
    df = df[df["method"].isin(list(jobs)) & df["seed"].isin(seeds)]
    return df.assign(git_rev=df["git_rev"].fillna("").astype(str))[_ESTIMATE_COLUMNS].reset_index(drop=True)


def _ratio_row(test: str, r: int, num, den) -> dict:
    """docs/method.md §11: one result row from numerator and denominator estimate rows (one seed)."""
    ratio = num.estimate / den.estimate if den.estimate != 0 else float("nan")
    return dict(test=test, r=r, method=num.method, variant=num.variant, estimate_numerator=num.estimate,
                estimate_denominator=den.estimate, ratio=ratio, ideal=TEST_IDEALS[test], seconds=num.seconds,
                seed=num.seed, git_rev=getattr(num, "git_rev", ""), git_rev_denominator=getattr(den, "git_rev", ""))


def consistency_ratios(estimates: pd.DataFrame, cfg: ConsistencyBudget, budget: str = "") -> pd.DataFrame:
    """docs/method.md §11: the ratios of tests (a)-(c) from the estimates of estimate_quantities.

    Returns:
        Tidy frame with RESULT_COLUMNS and PROVENANCE_COLUMNS, one row per test, r, method, variant
        and seed; numerator and denominator come from the same seed. ``r`` is the crop level (for
        data processing the lower one, r, of the pair r, r + k); ``seconds`` is the numerator's fit
        + estimation time; ``git_rev`` and ``git_rev_denominator`` the revisions that computed the
        numerator and the denominator ("" where the estimates carry none).
    """
    est = {(row.quantity, row.r, row.method, row.variant, row.seed): row
           for row in estimates.itertuples(index=False)}
    rows = []
    for (quantity, r, method, variant, seed), num in est.items():
        if quantity == "ab" and r in cfg.r_grid:
            test, den_level = "baseline", IMAGE_SIDE
        elif quantity == "dp":
            test, den_level = "data_processing", r + cfg.k
        elif quantity == "add":
            test, den_level = "additivity", r
        else:
            continue  # an I(A; B_r) needed only as a denominator
        rows.append(_ratio_row(test, r, num, est[("ab", den_level, method, variant, seed)]))
    df = pd.DataFrame(rows).assign(budget=budget)
    return df[RESULT_COLUMNS + PROVENANCE_COLUMNS].sort_values(["test", "method", "variant", "r", "seed"],
                                                               ignore_index=True)


def run_consistency(
    budget: str = "quick",
    kinds: tuple[str, ...] = ("c", "j"),
    baselines: tuple[str, ...] = ("infonce",),
    seeds: Sequence[int] = (0,),
    device: str = "auto",
    cache_dir: Path | None = None,
    progress: bool = True,
    n_threads: int | None = 1,
    resume: bool = True,
    progress_dir: Path | None = None,
) -> pd.DataFrame:
    """docs/method.md §11: the whole Figure 2 experiment at one budget; ratios as a tidy frame
    (RESULT_COLUMNS and PROVENANCE_COLUMNS).

    Args:
        budget: key of CONSISTENCY_BUDGETS ("smoke" | "quick" | "paper").
        kinds: MINDE model types ("c" gives MINDE-C and MINDE-C(σ), "j" MINDE-J and MINDE-J(σ)).
        baselines: minde.bench.baselines method names; skipped with a warning if that module is absent.
        seeds: consecutive seeds, e.g. (0, 1, 2). The first drives the autoencoders and the image
            pairing; each seed trains its own estimators (MINDE as one seed group).
        cache_dir: cache folder (default ``data/cache``): the autoencoders go to
            ``autoencoders/`` in it, and the progress files of interrupted runs to
            ``consistency/`` unless ``progress_dir`` is given.
        progress_dir: folder of the progress files (``progress_file``). The notebook puts them
            beside its results, so that a committed partial run resumes in a fresh checkout.
        n_threads: torch intra-op threads to set (small MLPs are dispatch-bound); None leaves it.
        resume: reuse the estimates an interrupted run of the same configuration saved; False
            recomputes them all (and overwrites that run's progress file).
    """
    seeds = check_seeds(seeds)
    if budget not in CONSISTENCY_BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; valid budgets: {', '.join(CONSISTENCY_BUDGETS)}")
    if n_threads is not None:
        import torch

        torch.set_num_threads(n_threads)
    cfg = CONSISTENCY_BUDGETS[budget]
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    latents = prepare_latents(cfg, budget, seeds[0], root / "autoencoders", progress)
    saved = progress_file(cfg, budget, seeds, Path(progress_dir) if progress_dir is not None
                          else root / "consistency", latents)
    if not resume and saved.exists():
        saved.unlink()
    estimates = estimate_quantities(latents, cfg, kinds, baselines, seeds, device, progress, resume_from=saved,
                                    settings=estimate_settings(cfg, budget, seeds, latents))
    return consistency_ratios(estimates, cfg, budget)
