"""The user-facing estimator: ``MINDE(kind).fit(x, y).estimate(x_test, y_test)`` (docs/method.md §1-§7)."""
from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch

from .checkpoint import DEFAULT_SECONDS, Checkpoint
from .config import Budget, TrainSettings, get_budget, resolve_settings
from .data import MIN_ROWS, Standardiser, check_pair, train_test_split
from .diagnostics import DIAGNOSTIC_ROWS, reliability_warnings
from .ensemble import CrossModelEstimate, cross_model_estimate
from .estimation import estimate_terms
from .estimators import gaussian_reference_constant, mi_sigma_from_terms
from .importance import make_sampler
from .masks import check_role_probs
from .network import ScoreNet, default_hidden
from .sde import VPSDE
from .training import TrainResult, train_score_net
from .utils import make_generator, resolve_device, resolve_threads, torch_threads

__all__ = ["MINDE", "MIEstimate", "estimate_mi", "cross_fit", "fold_indices", "default_folds", "default_models",
           "KINDS", "CROSS_FIT_ROWS", "CROSS_FIT_FOLDS", "DEBIASED_KINDS", "ANSWER_MODELS"]

KINDS = ("c", "j")
CROSS_FIT_ROWS = 5_000  # below this many rows the defaults cross-fit instead of holding 10 % out
CROSS_FIT_FOLDS = 5  # folds of the default cross-fit
# beyond the paper (docs/method.md §17): the kinds whose default answer (estimate_mi, `minde
# estimate`) is the cross-model estimate of ANSWER_MODELS models trained on the same rows (per
# fold when cross-fitting); the paper's estimators are reported beside it
DEBIASED_KINDS = ("j",)
ANSWER_MODELS = 2
_STREAM_TRAIN, _STREAM_EVAL, _STREAM_DIAG = 1, 2, 4  # 3: the shared draws of minde.ensemble


@dataclass(frozen=True)
class MIEstimate:
    """Result of ``MINDE.estimate``: MI in nats, Monte Carlo standard errors and entropies."""

    kind: str  # "c" or "j"
    mi: float  # "difference inside" estimate (MINDE-C / MINDE-J), mean over seeds
    mi_sigma: float  # "difference outside" estimate (MINDE-C(σ) / MINDE-J(σ)), mean over seeds
    mi_stderr: float  # Monte Carlo standard error across the mc_iter passes
    mi_sigma_stderr: float  # likewise for mi_sigma
    entropies: dict[str, float]  # e.g. {"H(X)", "H(X|Y)"} or {"H(X,Y)", "H(X|Y)", "H(Y|X)"}
    mi_per_seed: list[float] = field(default_factory=list)  # one entry per trained model
    mi_sigma_per_seed: list[float] = field(default_factory=list)
    mi_seed_std: float = 0.0  # std across seeds (0 for one seed)
    mi_sigma_seed_std: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)  # resolved training settings
    train_seconds: float = 0.0  # including the earlier runs' time when training resumed
    estimate_seconds: float = 0.0
    resumed_from_step: int = 0  # training steps restored from a checkpoint (0: none)
    cross: CrossModelEstimate | None = None  # K >= 2 models: cross-model estimates (beyond the paper)
    n_train: int = 0  # training rows
    mi_train: float = math.nan  # "difference inside" on (up to 2 000 of) the training rows (§18)
    mi_train_stderr: float = math.nan
    warnings: tuple[str, ...] = ()  # why the estimate may not be trusted (docs/method.md §18)
    answer: str = ""  # the variant estimate_mi answers with, e.g. "minde_j_cross"; "": "minde_<kind>"

    @property
    def answer_variant(self) -> str:
        """The variant that is this result's answer: ``answer``, else the paper's "difference
        inside" estimator ``minde_<kind>``."""
        return self.answer or f"minde_{self.kind}"

    @property
    def answer_mi(self) -> float:
        """The answer's estimate in nats (``variants[answer_variant]``)."""
        return self.variants[self.answer_variant]

    @property
    def answer_stderr(self) -> float:
        """The answer's standard error: for a cross-model answer its Monte Carlo error combined
        with its spread over models (``CrossModelEstimate.mi_model_se``) where there is one."""
        v = self.answer_variant
        if self.cross is None or not v.endswith("_cross"):
            return self.mi_sigma_stderr if v.endswith("_sigma") else self.mi_stderr
        c = self.cross
        mc, model = (c.mi_sigma_stderr, c.mi_sigma_model_se) if "_sigma" in v else (c.mi_stderr, c.mi_model_se)
        return math.hypot(mc, model) if math.isfinite(model) else mc

    @property
    def variants(self) -> dict[str, float]:
        """Method name -> estimate, e.g. {"minde_c": .., "minde_c_sigma": ..}, plus the cross-model
        variants {"minde_c_cross": .., "minde_c_sigma_cross": ..} when there are K >= 2 models."""
        out = {f"minde_{self.kind}": self.mi, f"minde_{self.kind}_sigma": self.mi_sigma}
        return out if self.cross is None else {**out, **self.cross.variants}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dictionary."""
        return asdict(self)

    def __str__(self) -> str:
        name = "MINDE-" + self.kind.upper()
        lines = [] if not self.answer else [
            f"answer: {self.answer_mi:.4f} ± {self.answer_stderr:.4f} nats ({self.answer_variant}; "
            "cross-model, beyond the paper, docs/method.md §17)"]
        lines += [f"{name}    I = {self.mi:.4f} ± {self.mi_stderr:.4f} nats",
                 f"{name}(σ) I = {self.mi_sigma:.4f} ± {self.mi_sigma_stderr:.4f} nats"]
        lines += [f"{k} = {v:.4f} nats" for k, v in self.entropies.items()]
        lines += [f"WARNING: {w}" for w in self.warnings]
        if self.cross is not None:
            c = self.cross
            lines += [f"cross-model over {c.n_models} models (beyond the paper, docs/method.md §17):",
                      f"{name}    I = {c.mi:.4f} ± {c.mi_stderr:.4f} nats",
                      f"{name}(σ) I = {c.mi_sigma:.4f} ± {c.mi_sigma_stderr:.4f} nats"]
        return "\n".join(lines)


class MINDE:
    """MI and entropy estimation with one score network per seed (docs/method.md §1-§7).

    kind "c" trains marginal + conditional scores of X and gives MINDE-C and MINDE-C(σ);
    kind "j" trains joint + both conditional scores and gives MINDE-J and MINDE-J(σ).
    Explicit arguments override the budget (``minde.BUDGETS``). ``n_seeds`` = K trains K
    independent models (seeds seed..seed+K-1) in one batched computation.

    ``checkpoint=PATH`` saves the training state there every ``checkpoint_every`` steps or
    ``checkpoint_seconds`` seconds, whichever comes first (rounded up to the next chunk of
    pre-drawn steps, at most 256 steps; None turns a criterion off), and a later ``fit`` with the
    same settings, data and code resumes from it, ending bit-identical to an uninterrupted fit
    (docs/method.md §7). The file is kept after ``fit``; delete it when the estimate is safe.

    ``importance_sampling``: t ~ q(t) (True) or uniform (False) in estimation and, unless
    ``train_importance_sampling`` says otherwise, in training too (docs/method.md §4). Left at
    None, estimation samples t by importance and training follows the budget's choice for the
    kind (the quick budget: importance for "c", uniform for "j").

    ``n_threads``: torch intra-op threads while fitting and estimating (None: $MINDE_NUM_THREADS,
    else 1); the caller's own thread count is restored afterwards.

    ``role_probs`` changes how often each training mask is drawn, in ``minde.masks.KIND_MASKS``'
    order: for "c" (X marginal, X|Y), default (0.5, 0.5); for "j" (joint, X|Y, Y|X), default
    (0.5, 0.25, 0.25). It is a knob for studies (docs/method.md §14), not part of any budget.

    ``batches``: "replacement" (every budget) draws each mini-batch's rows uniformly with
    replacement, independently at every step; "epochs" visits the rows in shuffled epochs and
    drops each epoch's last incomplete batch, as the authors' code does (docs/method.md §7).

    ``compile``: run the training step through ``torch.compile`` (1.2-1.6 times as fast on a CPU;
    ``minde.compiled``). None: $MINDE_COMPILE, else runs of at least 2 000 steps; it falls back to
    eager, with a warning, where no compiler is found. Results agree with eager training to float
    rounding, not bit for bit.
    """

    def __init__(self, kind: str = "c", *, budget: str | Budget = "quick", steps: int | None = None,
                 batch_size: int | None = None, lr: float | None = None, hidden: int | None = None,
                 importance_sampling: bool | None = None, sigma: float = 1.0, mc_iter: int | None = None,
                 seed: int = 0, n_seeds: int = 1, device: str = "auto", progress: bool = True,
                 n_threads: int | None = None, eval_batch_size: int = 8192,
                 ema_decay: float | None = None, lr_schedule: str | None = None,
                 warmup: float | None = None, train_importance_sampling: bool | None = None,
                 checkpoint: str | os.PathLike | None = None, checkpoint_every: int | None = None,
                 checkpoint_seconds: float | None = DEFAULT_SECONDS,
                 role_probs: Sequence[float] | None = None, batches: str | None = None,
                 compile: bool | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; use 'c' or 'j'")
        self.role_probs = check_role_probs(kind, role_probs)
        self.budget = get_budget(budget)
        if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma must be a positive number, got {sigma!r}")
        for name, val in (("n_seeds", n_seeds), ("eval_batch_size", eval_batch_size)):
            if not isinstance(val, (int, np.integer)) or val < 1:
                raise ValueError(f"{name} must be a positive integer, got {val!r}")
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if hidden is not None and (hidden < 8 or hidden % 8):
            raise ValueError(f"hidden must be a positive multiple of 8, got {hidden!r}")
        self.kind, self.sigma, self.seed, self.n_seeds = kind, float(sigma), int(seed), int(n_seeds)
        self.progress, self.n_threads = progress, n_threads
        resolve_threads(n_threads)  # a bad count or $MINDE_NUM_THREADS is reported now, not after training
        self.importance_sampling = True if importance_sampling is None else bool(importance_sampling)
        self._overrides = dict(steps=steps, batch_size=batch_size, lr=lr, mc_iter=mc_iter,
                               ema_decay=ema_decay, lr_schedule=lr_schedule, warmup=warmup,
                               batches=batches)
        resolve_settings(self.budget, 1, 10**6, kind=kind, **self._overrides)  # validate overrides early
        self.hidden, self.eval_batch_size = hidden, eval_batch_size
        self.device = resolve_device(device)
        self.sde = VPSDE()
        self.sampler = make_sampler(self.importance_sampling, self.sde)  # t at estimation
        # t in training: train_importance_sampling, else an explicit importance_sampling, else the
        # budget's choice for this kind, else as in estimation (docs/method.md §4)
        train_is = next((v for v in (train_importance_sampling, importance_sampling,
                                     self.budget.train_importance(kind)) if v is not None), None)
        self.train_importance_sampling = self.importance_sampling if train_is is None else bool(train_is)
        self.train_sampler = make_sampler(self.train_importance_sampling, self.sde)  # t in training
        if compile is not None and not isinstance(compile, bool):
            raise ValueError(f"compile must be True, False or None (automatic), got {compile!r}")
        self.compile = compile
        self.checkpoint = (None if checkpoint is None else
                           Checkpoint(checkpoint, checkpoint_every, checkpoint_seconds))
        self.net: ScoreNet | None = None
        self.train_result: TrainResult | None = None

    @property
    def seeds(self) -> list[int]:
        """Seeds of the K models."""
        return [self.seed + k for k in range(self.n_seeds)]

    def fit(self, x: Any, y: Any) -> "MINDE":
        """Train on x: (n, d_x), y: (n, d_y) (or 1-D); numpy, torch or pandas."""
        data, hidden = self._prepare(x, y)
        self.net = ScoreNet(sum(self.dims), 2, hidden, self.n_seeds, seeds=self.seeds).to(self.device)
        gens = [make_generator(s, _STREAM_TRAIN, self.device) for s in self.seeds]
        with torch_threads(self.n_threads):
            self.train_result = train_score_net(
                self.net, data, self.kind, self.dims, self.settings, sde=self.sde,
                sampler=self.train_sampler, generators=gens, progress=self.progress,
                desc=f"MINDE-{self.kind.upper()} x{self.n_seeds}", checkpoint=self.checkpoint,
                role_probs=self.role_probs, compile=self.compile)
        self.hidden_used = hidden
        return self

    def _prepare(self, x: Any, y: Any) -> tuple[torch.Tensor, int]:
        """Check and standardise the training data; set dims, settings. Returns (data, hidden).

        data: (n, d_x + d_y) standardised with this model's own statistics, on the device.
        """
        xa, ya = check_pair(x, y, MIN_ROWS)
        self.n_train = xa.shape[0]
        keep = np.random.default_rng(self.seed).permutation(self.n_train)[:DIAGNOSTIC_ROWS]
        self._train_sample = (xa[np.sort(keep)], ya[np.sort(keep)])  # for the memorisation check (§18)
        self._sx, self._sy = Standardiser.fit(xa, "x"), Standardiser.fit(ya, "y")
        self.dims = (xa.shape[1], ya.shape[1])
        self.settings: TrainSettings = resolve_settings(self.budget, self.dims[0], xa.shape[0],
                                                        kind=self.kind, **self._overrides)
        hidden = self.hidden or default_hidden(sum(self.dims))
        data = torch.from_numpy(np.concatenate([self._sx(xa), self._sy(ya)], 1)).to(self.device)
        return data, hidden

    def estimate(self, x: Any, y: Any, *, ema: bool = True, cross: bool | None = None) -> MIEstimate:
        """Estimate MI (nats) and entropies on held-out x: (m, d_x), y: (m, d_y).

        ``ema=False`` uses the raw (last-step) weights instead of the EMA (docs/method.md §7, §13).
        ``cross``: also evaluate the K models on shared draws for the cross-model estimates
        (docs/method.md §17); None: when K >= 2. The paper's estimates are unchanged by it.
        """
        if cross and self.n_seeds < 2:
            raise ValueError("cross=True needs n_seeds >= 2 (the cross-model estimate compares models)")
        xs, ys, noise_fn = self._eval_inputs(x, y, ema=ema)
        start = time.perf_counter()
        terms = self._terms(noise_fn, xs, ys, self._eval_generators())
        mi_sigma = mi_sigma_from_terms(self.kind, terms)
        entropies = self._entropies(terms, xs, ys)
        mi_k, mis_k = terms["mi"].mean(1), mi_sigma.mean(1)
        tx, ty, _ = self._eval_inputs(*self._train_sample, ema=ema)  # the memorisation check (§18)
        train = self._terms(noise_fn, tx, ty, [make_generator(s, _STREAM_DIAG, self.device) for s in self.seeds])
        mi_train, mi_train_se = float(train["mi"].mean()), _stderr(train["mi"])
        mi, mi_se = float(mi_k.mean()), _stderr(terms["mi"])
        return MIEstimate(
            kind=self.kind, mi=mi, mi_sigma=float(mis_k.mean()),
            mi_stderr=mi_se, mi_sigma_stderr=_stderr(mi_sigma),
            entropies=entropies, mi_per_seed=mi_k.tolist(), mi_sigma_per_seed=mis_k.tolist(),
            mi_seed_std=_seed_std(mi_k), mi_sigma_seed_std=_seed_std(mis_k),
            settings=dict(asdict(self.settings), hidden=self.hidden_used, sigma=self.sigma,
                          importance_sampling=self.importance_sampling,
                          train_importance_sampling=self.train_importance_sampling, n_seeds=self.n_seeds, ema=ema,
                          seeds=self.seeds, device=str(self.device), budget=self.budget.name,
                          compiled=self.train_result.compiled,
                          **({} if self.role_probs is None else {"role_probs": list(self.role_probs)})),
            train_seconds=self.train_result.seconds, estimate_seconds=time.perf_counter() - start,
            resumed_from_step=self.train_result.resumed_from_step,
            cross=cross_model_estimate([self], x, y, ema=ema) if (cross is None and self.n_seeds >= 2) or cross
            else None, n_train=self.n_train, mi_train=mi_train, mi_train_stderr=mi_train_se,
            warnings=tuple(reliability_warnings(self.kind, self.n_train, mi, mi_se, mi_train, mi_train_se)))

    def _terms(self, noise_fn: Any, xs: torch.Tensor, ys: torch.Tensor,
               generators: list[torch.Generator]) -> dict[str, np.ndarray]:
        """``estimate_terms`` of this model on standardised rows: {term: (K, mc_iter)} in nats."""
        with torch_threads(self.n_threads):
            terms = estimate_terms(noise_fn, xs, ys, self.kind, sde=self.sde, sampler=self.sampler,
                                   sigma=self.sigma, mc_iter=self.settings.mc_iter,
                                   batch_size=self.eval_batch_size, generators=generators)
        return {k: v.cpu().numpy() for k, v in terms.items()}

    def _eval_inputs(self, x: Any, y: Any, ema: bool = True) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """What ``estimate`` evaluates: held-out x, y checked and standardised with this model's
        statistics (on the device), and the trained noise predictor (EMA or raw weights)."""
        if self.train_result is None or self.net is None:
            raise ValueError("estimate() called before fit(); call fit(x, y) first")
        xa, ya = check_pair(x, y, min_rows=2)
        if (xa.shape[1], ya.shape[1]) != self.dims:
            raise ValueError(f"test data have dimensions (d_x, d_y) = {(xa.shape[1], ya.shape[1])} "
                             f"but the model was trained with {self.dims}")
        xs = torch.from_numpy(self._sx(xa)).to(self.device)
        ys = torch.from_numpy(self._sy(ya)).to(self.device)
        params = self.train_result.ema if ema else None  # None: the network's live weights
        return xs, ys, (lambda z, t, m: self.net(z, t, params=params))

    def _eval_generators(self) -> list[torch.Generator]:
        """Fresh generators of the t and eps draws of ``estimate``, one per seed of the model."""
        return [make_generator(s, _STREAM_EVAL, self.device) for s in self.seeds]

    def _entropies(self, terms: dict[str, np.ndarray], xs: torch.Tensor,
                   ys: torch.Tensor) -> dict[str, float]:
        """Entropies in nats on the original data scale (docs/method.md §2), averaged over seeds."""
        return {label: const - float(terms[term].mean())
                for label, (term, const) in self.entropy_constants(xs, ys).items() if term in terms}

    def entropy_constants(self, xs: torch.Tensor, ys: torch.Tensor) -> dict[str, tuple[str, float]]:
        """Entropy label -> (reference-gap term, constant): H = constant - mean of the term's gap
        (docs/method.md §2), the constant being the Gaussian reference's entropy term on these
        standardised rows plus the standardisation's log-determinant (the original scale)."""
        chi_T = float(self.sde.chi_t(torch.tensor(self.sde.T, dtype=torch.float64), self.sigma))
        msq_x = float(xs.double().square().sum(1).mean())
        msq_y = float(ys.double().square().sum(1).mean())
        dx, dy = self.dims
        parts = {"X": (dx, msq_x, self._sx.log_det), "Y": (dy, msq_y, self._sy.log_det)}
        parts["XY"] = (dx + dy, msq_x + msq_y, self._sx.log_det + self._sy.log_det)
        names = {"gap_X": ("H(X)", "X"), "gap_X|Y": ("H(X|Y)", "X"), "gap_XY": ("H(X,Y)", "XY"),
                 "gap_Y|X": ("H(Y|X)", "Y")}
        out = {}
        for term, (label, var) in names.items():
            dim, msq, log_det = parts[var]
            out[label] = (term, gaussian_reference_constant(dim, self.sigma, msq, chi_T) + log_det)
        return out


def fit_estimate_group(kind: str, datasets: Sequence[tuple[Any, Any, Any, Any]],
                       seeds: Sequence[int], *, budget: str | Budget = "quick",
                       progress: bool = False, cross: bool = False, **kwargs: Any) -> list[MIEstimate]:
    """Train one model per (data set, seed) in one batched computation; estimate each.

    datasets[k] = (x_train, y_train, x_test, y_test) of model k, seeds[k] its seed (any
    non-negative ints, not necessarily consecutive or distinct). All training sets must have the
    same n and dims. Model k's data are standardised with its own statistics, its weights are
    initialised and trained from its seed's generators, and it is estimated on its own test set
    with its seed's evaluation generator, so result k equals
    ``MINDE(kind, budget=budget, seed=seeds[k], **kwargs).fit(x_tr, y_tr).estimate(x_te, y_te)``
    to float tolerance. ``train_seconds`` of each result is the group's training time / K.
    kwargs are MINDE's (steps, batch_size, lr, hidden, device, ...), except seed and n_seeds;
    ``checkpoint=PATH`` (with ``checkpoint_every`` / ``checkpoint_seconds``) gives the whole
    group one checkpoint file, resumed as in ``MINDE``.

    ``cross=True`` (K >= 2) also evaluates the K models jointly on the first data set's test rows,
    which no model trained on (the data sets are independent draws), with shared t and eps drawn
    from ``seeds[0]`` (docs/method.md §17); every result then carries that ``cross`` estimate.
    """
    if len(datasets) != len(seeds) or not seeds:
        raise ValueError(f"need one seed per data set: {len(datasets)} data sets, {len(seeds)} seeds")
    for bad in ("seed", "n_seeds"):
        if bad in kwargs:
            raise ValueError(f"fit_estimate_group takes per-model seeds, not {bad}=")
    models = [MINDE(kind, budget=budget, seed=s, progress=progress, **kwargs) for s in seeds]
    _fit_group(models, [(d[0], d[1]) for d in datasets])
    results = [m.estimate(d[2], d[3]) for m, d in zip(models, datasets)]
    if cross and len(models) >= 2:
        joint = cross_model_estimate(models, datasets[0][2], datasets[0][3], seed=seeds[0])
        results = [replace(r, cross=joint) for r in results]
    return results


def _fit_group(models: list[MINDE], train: Sequence[tuple[Any, Any]]) -> None:
    """Fit single-seed MINDE models of identical configuration, model k on train[k], batched.

    Afterwards each model is as if fitted alone: own standardisers, settings, a K = 1 network
    holding its trained weights, and a TrainResult with its EMA weights and losses.
    """
    first = models[0]
    prepared = [m._prepare(x, y) for m, (x, y) in zip(models, train)]
    for m, (data, hidden) in zip(models, prepared):
        same = (m.kind, m.n_seeds, m.settings, hidden, m.dims, m.device, m.importance_sampling,
                m.train_importance_sampling, m.role_probs, data.shape[0]) == (
            first.kind, 1, first.settings, prepared[0][1], first.dims, first.device,
            first.importance_sampling, first.train_importance_sampling, first.role_probs,
            prepared[0][0].shape[0])
        if not same:
            raise ValueError("a group needs single-seed models of one kind, budget, device, "
                             "sampler and role_probs, and training sets of one size and dims; model of seed "
                             f"{m.seed} differs from that of seed {first.seed}")
    hidden, d = prepared[0][1], sum(first.dims)
    seeds = [m.seed for m in models]
    net = ScoreNet(d, 2, hidden, len(models), seeds=seeds).to(first.device)
    data = torch.stack([p[0] for p in prepared])  # (K, n, D)
    gens = [make_generator(s, _STREAM_TRAIN, first.device) for s in seeds]
    with torch_threads(first.n_threads):
        res = train_score_net(net, data, first.kind, first.dims, first.settings, sde=first.sde,
                              sampler=first.train_sampler, generators=gens, progress=first.progress,
                              desc=f"MINDE-{first.kind.upper()} group x{len(models)}",
                              checkpoint=first.checkpoint, role_probs=first.role_probs,
                              compile=first.compile)
    for k, m in enumerate(models):
        m.net = ScoreNet(d, 2, hidden, 1, seeds=[m.seed]).to(first.device)
        with torch.no_grad():
            for name, p in m.net.params.items():
                p.copy_(net.params[name][k:k + 1])
        m.train_result = TrainResult({n: w[k:k + 1].clone() for n, w in res.ema.items()},
                                     res.losses[:, k:k + 1].clone(), res.seconds / len(models),
                                     res.resumed_from_step, res.compiled)
        m.hidden_used = hidden


def _stderr(passes: np.ndarray) -> float:
    """Standard error of the seed-mean from per-seed pass values (K, mc_iter)."""
    k, m = passes.shape
    if m < 2:
        return float("nan")
    per_seed = passes.std(1, ddof=1) / math.sqrt(m)
    return float(math.sqrt((per_seed**2).sum()) / k)


def _seed_std(values: np.ndarray) -> float:
    """Standard deviation across seeds (0 for one seed)."""
    return float(values.std(ddof=1)) if values.size > 1 else 0.0


def fold_indices(n_rows: int, folds: int, seed: int) -> list[np.ndarray]:
    """The rows of each of ``folds`` folds: a seeded permutation dealt out in turn (sizes differ by
    at most one), each fold's rows sorted."""
    if not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, got {folds!r}")
    if n_rows - math.ceil(n_rows / folds) < MIN_ROWS or n_rows < 2 * folds:
        raise ValueError(f"too few rows: {n_rows} for {folds} folds; each model needs at least "
                         f"{MIN_ROWS} training rows and each fold 2 rows to score")
    perm = np.random.default_rng(seed).permutation(n_rows)
    return [np.sort(perm[k::folds]) for k in range(folds)]


def cross_fit(x: Any, y: Any, kind: str = "c", folds: int = 5, *, seed: int = 0,
              budget: str | Budget = "quick", progress: bool = True, models_per_fold: int = 1,
              **kwargs: Any) -> MIEstimate:
    """Cross-fitted MINDE (docs/method.md §18): every row is scored by models that did not train on it.

    The rows are dealt into ``folds`` folds; the models of fold k train on the other folds and are
    estimated on fold k: one model (seed ``seed + k``), or with ``models_per_fold`` = m >= 2, m
    models (seeds ``seed + m k`` .. ``seed + m k + m - 1``) on the same rows, which are also
    scored jointly on fold k with the cross-model estimator (docs/method.md §17; ``cross``). All
    models train as one batched group (their training sets are trimmed to one common size, at
    most one row apart). Each answer is the fold-size-weighted mean of the folds' held-out
    estimates, so it rests on all n rows, and its standard error combines the folds' independent
    Monte Carlo errors; the combined ``cross.mi_model_se`` is the standard error of that weighted
    mean from the spread of the folds' cross-model estimates (they come from different rows and
    models). ``mi_per_seed`` holds the per-model estimates, fold by fold (on different rows, so
    their spread includes sampling noise); ``settings["folds"]`` = K. kwargs are MINDE's, except
    ``n_seeds``.
    """
    if "n_seeds" in kwargs:
        raise ValueError("cross_fit trains models per fold; it takes folds=K and models_per_fold=m, not n_seeds=")
    if not isinstance(models_per_fold, (int, np.integer)) or models_per_fold < 1:
        raise ValueError(f"models_per_fold must be a positive integer, got {models_per_fold!r}")
    m = int(models_per_fold)
    xa, ya = check_pair(x, y, MIN_ROWS)
    parts = fold_indices(xa.shape[0], folds, seed)
    n_tr = xa.shape[0] - max(len(p) for p in parts)
    seeds = [seed + m * k + i for k in range(folds) for i in range(m)]
    models = [MINDE(kind, budget=budget, seed=s, progress=progress, **kwargs) for s in seeds]
    train = [np.setdiff1d(np.arange(xa.shape[0]), p)[:n_tr] for p in parts]
    _fit_group(models, [(xa[train[j // m]], ya[train[j // m]]) for j in range(len(models))])
    results = [models[j].estimate(xa[parts[j // m]], ya[parts[j // m]], cross=False) for j in range(len(models))]
    crosses = [cross_model_estimate(models[k * m:(k + 1) * m], xa[p], ya[p], seed=seeds[k * m])
               for k, p in enumerate(parts)] if m >= 2 else []
    w = np.array([len(p) for p in parts], dtype=float) / xa.shape[0]

    def combine(values: Sequence[float]) -> float:  # per model, fold by fold -> weighted over folds
        return _fold_mean(w, np.asarray(values, dtype=float).reshape(folds, m).mean(1))

    def combine_se(values: Sequence[float]) -> float:
        return _fold_se(w, np.sqrt(np.square(np.asarray(values, dtype=float)).reshape(folds, m).sum(1)) / m)

    mi, mi_se = combine([r.mi for r in results]), combine_se([r.mi_stderr for r in results])
    mi_train = float(np.mean([r.mi_train for r in results]))
    mi_train_se = float(math.sqrt(np.sum([r.mi_train_stderr**2 for r in results])) / len(results))
    per, per_s = [r.mi for r in results], [r.mi_sigma for r in results]
    first = results[0]
    return replace(
        first, mi=mi, mi_sigma=combine(per_s), mi_stderr=mi_se,
        mi_sigma_stderr=combine_se([r.mi_sigma_stderr for r in results]),
        entropies={k: combine([r.entropies[k] for r in results]) for k in first.entropies},
        mi_per_seed=per, mi_sigma_per_seed=per_s, mi_seed_std=_seed_std(np.array(per)),
        mi_sigma_seed_std=_seed_std(np.array(per_s)),
        settings=dict(first.settings, folds=folds, models_per_fold=m, n_seeds=len(seeds), seeds=seeds),
        train_seconds=sum(r.train_seconds for r in results),
        estimate_seconds=sum(r.estimate_seconds for r in results) + sum(c.seconds for c in crosses),
        resumed_from_step=first.resumed_from_step, cross=_combine_folds(crosses, w) if crosses else None,
        n_train=n_tr, mi_train=mi_train, mi_train_stderr=mi_train_se,
        warnings=tuple(reliability_warnings(kind, n_tr, mi, mi_se, mi_train, mi_train_se)))


def _fold_mean(w: np.ndarray, values: Sequence[float]) -> float:
    """The folds' values weighted by the folds' shares ``w`` of the rows."""
    return float(np.dot(w, values))


def _fold_se(w: np.ndarray, ses: Sequence[float]) -> float:
    """Standard error of ``_fold_mean`` from the folds' independent standard errors."""
    return float(math.sqrt(np.dot(w**2, np.square(ses))))


def _combine_folds(crosses: Sequence[CrossModelEstimate], w: np.ndarray) -> CrossModelEstimate:
    """The folds' cross-model estimates as one: fold-size-weighted means, Monte Carlo errors
    combined as independent, and as ``*_model_se`` the standard error of the weighted mean from
    the folds' spread (NaN for one fold); the Gram matrices are left out (they differ per fold)."""
    def mean(name: str) -> float:
        return _fold_mean(w, [getattr(c, name) for c in crosses])

    def mc_se(name: str) -> float:
        return _fold_se(w, [getattr(c, name) for c in crosses])

    def fold_se(name: str) -> float:
        v = np.array([getattr(c, name) for c in crosses], dtype=float)
        if v.size < 2:
            return math.nan
        return float(math.sqrt(np.sum(w**2) * np.sum(w * (v - np.dot(w, v)) ** 2) / (1 - np.sum(w**2))))

    first = crosses[0]
    return replace(first, n_models=sum(c.n_models for c in crosses), mi=mean("mi"), mi_stderr=mc_se("mi_stderr"),
                   mi_model_se=fold_se("mi"), mi_sigma=mean("mi_sigma"), mi_sigma_stderr=mc_se("mi_sigma_stderr"),
                   mi_sigma_model_se=fold_se("mi_sigma"), mi_paper=mean("mi_paper"),
                   mi_sigma_paper=mean("mi_sigma_paper"), mi_loss=mean("mi_loss"),
                   mi_loss_stderr=mc_se("mi_loss_stderr"), mi_sigma_loss=mean("mi_sigma_loss"),
                   mi_sigma_loss_stderr=mc_se("mi_sigma_loss_stderr"),
                   entropies={k: _fold_mean(w, [c.entropies[k] for c in crosses]) for k in first.entropies},
                   seconds=sum(c.seconds for c in crosses), gram={})


def default_folds(n_rows: int, n_seeds: int | None = 1, test_size: float | None = None) -> int:
    """Folds of the default estimate on ``n_rows`` rows: ``CROSS_FIT_FOLDS`` below
    ``CROSS_FIT_ROWS`` rows, unless an ensemble (``n_seeds`` given and > 1) or a split
    (``test_size``) was asked for; 0 (one random split) otherwise (docs/method.md §18)."""
    small = n_rows < CROSS_FIT_ROWS and (n_seeds or 1) == 1 and test_size is None
    return CROSS_FIT_FOLDS if small else 0


def default_models(kind: str, debias: bool | None = None) -> int:
    """Models per answer (per fold when cross-fitting) of ``estimate_mi`` and ``minde estimate``:
    ``ANSWER_MODELS`` for the kinds in ``DEBIASED_KINDS`` (docs/method.md §17), else 1;
    ``debias`` True / False forces the cross-model answer / the paper's estimator alone."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; use 'c' or 'j'")
    on = kind in DEBIASED_KINDS if debias is None else bool(debias)
    return ANSWER_MODELS if on else 1


def estimate_mi(x: Any, y: Any, kind: str = "c", test_size: float | None = None,
                folds: int | None = None, debias: bool | None = None, **kwargs: Any) -> MIEstimate:
    """Estimate I(X;Y) from paired rows with ``MINDE(kind, **kwargs)``; the answer is
    ``result.answer_mi`` (± ``answer_stderr``), the paper's estimators are reported beside it.

    ``folds=K`` (>= 2) cross-fits (``cross_fit``), so every row is scored; ``folds=0`` splits the
    rows at random, fits on the ``1 - test_size`` part (default 10 % held out) and estimates on
    the rest. Left at None, it cross-fits with ``CROSS_FIT_FOLDS`` folds below ``CROSS_FIT_ROWS``
    rows and splits otherwise, or when ``test_size`` or ``n_seeds`` > 1 is given (docs/method.md
    §18). ``debias``: whether the answer is the cross-model estimate of ``ANSWER_MODELS`` models
    trained on the same rows (per fold when cross-fitting; beyond the paper, docs/method.md §17);
    None: for the kinds in ``DEBIASED_KINDS`` ("j"); False: the paper's "difference inside"
    estimator, of one model per fold or split unless ``n_seeds`` says otherwise.
    """
    xa, ya = check_pair(x, y, MIN_ROWS)
    n_seeds = kwargs.pop("n_seeds", None)
    if debias and n_seeds is not None and n_seeds < 2:
        raise ValueError("debias=True needs n_seeds >= 2 (the cross-model estimate compares models)")
    if folds is None:
        folds = default_folds(xa.shape[0], n_seeds, test_size)
    if folds:
        if test_size is not None:
            raise ValueError("give folds (cross-fitting) or test_size (one split), not both")
        if n_seeds is not None and n_seeds != 1:
            raise ValueError("cross-fitting trains default_models(kind) models per fold; give debias=, not n_seeds=")
        m = 1 if n_seeds == 1 else default_models(kind, debias)
        r = cross_fit(xa, ya, kind, folds, models_per_fold=m, **kwargs)
    else:
        test_size = 0.1 if test_size is None else test_size
        k = default_models(kind, debias) if n_seeds is None else int(n_seeds)
        x_tr, y_tr, x_te, y_te = train_test_split(xa, ya, test_size, kwargs.get("seed", 0))
        r = MINDE(kind, n_seeds=k, **kwargs).fit(x_tr, y_tr).estimate(x_te, y_te)
    cross_answer = debias if debias is not None else kind in DEBIASED_KINDS
    return replace(r, answer=f"minde_{kind}_cross" if r.cross is not None and cross_answer else "")
