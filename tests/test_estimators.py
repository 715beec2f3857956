"""Exact Gaussian scores through all four estimators and the entropy formula (docs/method.md §14)."""
import numpy as np
import pytest
import torch

from minde import estimators as E
from minde.bench.gaussian import GaussianOracle, gaussian_entropy, gaussian_mi, random_covariance
from minde.estimation import estimate_terms
from minde.importance import make_sampler
from minde.sde import VPSDE

# name -> covariance and d_x; weak and strong dependence, several shapes, MI = 0
COVS = {
    "1x1-weak": (np.array([[1.0, 0.3], [0.3, 1.0]]), 1),
    "1x1-strong": (np.array([[1.0, 0.9], [0.9, 1.0]]), 1),
    "3x2": (random_covariance(3, 2, [0.8, 0.5], seed=1), 3),
    "5x5": (random_covariance(5, 5, [0.7, 0.6, 0.3], seed=2), 5),
    "2x2-independent": (np.diag([1.0, 2.0, 0.5, 1.5]), 2),
}
N, MC = 10_000, 10
SDE = VPSDE()


def _run(cov, dx, kind, importance_sampling, sigma, gaussian_sample):
    z = gaussian_sample(cov, N, seed=0)
    x = torch.tensor(z[:, :dx], dtype=torch.float32)
    y = torch.tensor(z[:, dx:], dtype=torch.float32)
    terms = estimate_terms(GaussianOracle(cov, dx, SDE), x, y, kind, sde=SDE,
                           sampler=make_sampler(importance_sampling, SDE), sigma=sigma,
                           mc_iter=MC, generators=[torch.Generator().manual_seed(0)])
    return x, y, {k: v[0].numpy() for k, v in terms.items()}


def _mean_and_stderr(passes):
    return float(passes.mean()), float(passes.std(ddof=1) / np.sqrt(passes.size))


@pytest.mark.parametrize("name", list(COVS))
@pytest.mark.parametrize("kind", ["c", "j"])
@pytest.mark.parametrize("importance_sampling", [True, False])
@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_exact_scores_give_true_mi(name, kind, importance_sampling, sigma, gaussian_sample):
    cov, dx = COVS[name]
    truth = gaussian_mi(cov, dx)
    _, _, t = _run(cov, dx, kind, importance_sampling, sigma, gaussian_sample)
    inside = t["mi"]
    outside = E.mi_sigma_from_terms(kind, t)
    for label, passes in (("mi", inside), ("mi_sigma", outside)):
        est, se = _mean_and_stderr(passes)
        # Monte Carlo error at 10k samples x 10 passes: about 0.01 nats; allow 4 standard errors
        assert abs(est - truth) < max(0.015, 4 * se), f"{label}: {est:.4f} vs {truth:.4f} (se {se:.4f})"


@pytest.mark.parametrize("name", ["1x1-strong", "3x2", "5x5"])
@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_entropy_formula_gives_gaussian_entropy(name, sigma, gaussian_sample):
    cov, dx = COVS[name]
    x, y, t = _run(cov, dx, "j", True, sigma, gaussian_sample)
    chi_T = float(SDE.chi_t(torch.tensor(1.0, dtype=torch.float64), sigma))
    cyy_inv = np.linalg.inv(cov[dx:, dx:])
    cond_x = cov[:dx, :dx] - cov[:dx, dx:] @ cyy_inv @ cov[dx:, :dx]
    cond_y = cov[dx:, dx:] - cov[dx:, :dx] @ np.linalg.inv(cov[:dx, :dx]) @ cov[:dx, dx:]
    msq_x = float(x.double().square().sum(1).mean())
    msq_y = float(y.double().square().sum(1).mean())
    cases = {"gap_XY": (cov, msq_x + msq_y), "gap_X|Y": (cond_x, msq_x), "gap_Y|X": (cond_y, msq_y)}
    for term, (c, msq) in cases.items():
        est = E.entropy_from_gap(float(t[term].mean()), c.shape[0], sigma, msq, chi_T)
        se = float(t[term].std(ddof=1) / np.sqrt(MC))
        truth = gaussian_entropy(c)
        assert abs(est - truth) < max(0.02, 4 * se), f"{term}: {est:.4f} vs {truth:.4f}"


def test_closed_forms():
    cov = np.array([[1.0, 0.75], [0.75, 1.0]])
    assert gaussian_mi(cov, 1) == pytest.approx(-0.5 * np.log(1 - 0.75**2))
    assert gaussian_entropy(np.eye(3) * 2.0) == pytest.approx(1.5 * np.log(2 * np.pi * np.e * 2.0))
    cov = random_covariance(4, 3, [0.9, 0.2], seed=5)
    assert gaussian_mi(cov, 4) == pytest.approx(-0.5 * np.log((1 - 0.81) * (1 - 0.04)))


def test_estimates_are_wrong_with_wrong_scores(gaussian_sample):
    """The oracle test can fail: a covariance that is not the data's gives a different MI."""
    cov, dx = COVS["1x1-strong"]
    z = gaussian_sample(cov, N, seed=0)
    wrong = np.array([[1.0, 0.3], [0.3, 1.0]])
    terms = estimate_terms(GaussianOracle(wrong, 1, SDE), torch.tensor(z[:, :1], dtype=torch.float32),
                           torch.tensor(z[:, 1:], dtype=torch.float32), "c", sde=SDE,
                           sampler=make_sampler(True, SDE), sigma=1.0, mc_iter=3,
                           generators=[torch.Generator().manual_seed(0)])
    assert abs(float(terms["mi"].mean()) - gaussian_mi(cov, 1)) > 0.3
