"""Learned-versus-exact score error decomposition (docs/method.md §3, §4, §14), checked with the oracle.

With the exact Gaussian scores as the "learned" predictor nothing may differ; with independent
noise of known variance added to one role, that role's error energy is known in closed form
(importance sampling makes the estimator weight the constant Z, docs/method.md §4) and the shift
of each estimator must equal it, with the sign the estimator gives that role.
"""
import numpy as np
import pytest
import torch

from minde.bench.gaussian import ShiftedGaussianOracle, gaussian_mi, random_covariance, standardised_gaussian
from minde.importance import make_sampler
from minde.repro.ablations import score_error_terms
from minde.sde import VPSDE

SDE = VPSDE()
SAMPLER = make_sampler(True, SDE)
DX, DY = 2, 2
COV = random_covariance(DX, DY, [0.8, 0.4], seed=3)
MEAN = np.array([0.5, -1.0, 2.0, 0.3])  # non-zero: exercises the mean shift of the oracle
N, MC, TAU = 4_000, 4, 0.1


def _data(gaussian_sample):
    z = gaussian_sample(COV, N, seed=0) + MEAN
    return torch.tensor(z[:, :DX], dtype=torch.float32), torch.tensor(z[:, DX:], dtype=torch.float32)


def _terms(learned, x, y, kind):
    exact = ShiftedGaussianOracle(COV, MEAN, DX, SDE)
    return score_error_terms(learned, exact, x, y, kind, sde=SDE, sampler=SAMPLER, sigma=1.0,
                             mc_iter=MC, generator=lambda: torch.Generator().manual_seed(7))


@pytest.mark.parametrize("kind", ["c", "j"])
def test_exact_scores_have_no_error(kind, gaussian_sample):
    x, y = _data(gaussian_sample)
    res = _terms(ShiftedGaussianOracle(COV, MEAN, DX, SDE), x, y, kind)
    truth = gaussian_mi(COV, DX)
    for q, v in res.items():
        if q.startswith(("energy[", "shift[", "sigma_shift[")) or q in ("cross", "interaction", "sigma_energy"):
            assert np.all(v == 0), f"{q} = {v}"
    hybrids = [q for q in res if q.startswith("mi[learned:") or q.startswith("mi_sigma[learned:")]
    assert len(hybrids) == 4
    for q in hybrids + ["mi[learned]", "mi_sigma[learned]"]:
        base = "mi_sigma[exact]" if q.startswith("mi_sigma") else "mi[exact]"
        np.testing.assert_array_equal(res[q], res[base])
    # the mean-shifted oracle gives the true MI on data with a non-zero mean (Monte Carlo error only)
    for q in ("mi[exact]", "mi_sigma[exact]"):
        se = res[q].std(ddof=1) / np.sqrt(MC)
        assert abs(res[q].mean() - truth) < max(0.015, 4 * se), f"{q}: {res[q].mean():.4f} vs {truth:.4f}"


# (kind, perturbed role, its diffused dimensions, sign of its energy in the (σ) variant)
CASES = [("j", "XY", DX + DY, -1), ("j", "X|Y", DX, +1), ("j", "Y|X", DY, +1),
         ("c", "X|Y", DX, +1), ("c", "X", DX, -1)]
ROLES = {"XY": ("diffused", "diffused"), "X|Y": ("diffused", "conditioning"),
         "Y|X": ("conditioning", "diffused"), "X": ("diffused", "marginalised")}


@pytest.mark.parametrize("kind,role,dim,sign", CASES)
def test_independent_error_shifts_estimates_by_its_energy(kind, role, dim, sign, gaussian_sample):
    x, y = _data(gaussian_sample)
    exact = ShiftedGaussianOracle(COV, MEAN, DX, SDE)
    target = ROLES[role]
    gen = torch.Generator().manual_seed(11)

    def perturbed(z, t, m):
        out = exact(z, t, m)
        if m.roles == target:
            out = out + TAU * torch.randn(out.shape, generator=gen, dtype=out.dtype)
        return out

    res = _terms(perturbed, x, y, kind)
    expected = 0.5 * SAMPLER.Z * TAU**2 * dim  # E ½ Z ||τ ξ||² over the role's diffused dims
    energies = {q: float(v.mean()) for q, v in res.items() if q.startswith("energy[") and q != "energy[diff]"}
    assert energies.pop(f"energy[{role}]") == pytest.approx(expected, rel=0.05)
    assert all(v == 0 for v in energies.values()), energies
    assert float(res["energy[diff]"].mean()) == pytest.approx(expected, rel=0.05)
    # the estimate moves by the error energy (the cross term averages to zero) ...
    assert float(res["shift[learned]"].mean()) == pytest.approx(expected, abs=0.04)
    assert abs(float(res["cross"].mean())) < 0.04
    # ... and the (σ) variant by the same energy, with the sign of the role's gap
    assert float(res["sigma_shift[learned]"].mean()) == pytest.approx(sign * expected, abs=0.04)
    assert float(res["sigma_energy"].mean()) == pytest.approx(sign * expected, rel=0.05)
    # the hybrid that keeps the perturbed role learned carries the whole shift, the other none
    for q in res:
        if q.startswith("shift[learned:"):
            has_role = role in q[len("shift[learned:"):-1].split(",")
            assert float(res[q].mean()) == pytest.approx(expected if has_role else 0.0, abs=0.04), q


def test_standardised_gaussian_matches_standardised_sample(gaussian_sample):
    from minde.data import Standardiser

    fit = np.random.default_rng(1).multivariate_normal(MEAN, COV, size=500)  # statistics off the truth
    sx, sy = Standardiser.fit(fit[:, :DX], "x"), Standardiser.fit(fit[:, DX:], "y")
    mean_s, cov_s = standardised_gaussian(MEAN, COV, sx, sy)
    z = gaussian_sample(COV, N, seed=1) + MEAN  # empirical mean and covariance are exactly the truth
    zs = np.concatenate([(z[:, :DX] - sx.mean) / sx.scale, (z[:, DX:] - sy.mean) / sy.scale], 1)
    np.testing.assert_allclose(mean_s, zs.mean(0), atol=1e-8)
    np.testing.assert_allclose(cov_s, np.cov(zs.T, bias=True), atol=1e-8)
    assert gaussian_mi(cov_s, DX) == pytest.approx(gaussian_mi(COV, DX))


@pytest.mark.parametrize("kind", ["c", "j"])
def test_learned_configuration_is_what_the_model_estimates(kind):
    """model_score_error evaluates the same data, network and draws as MINDE.estimate."""
    from minde.repro.ablations import fit_task, model_score_error

    model, xt, yt, _ = fit_task("1v1-normal-0.75", kind, "smoke", 0, device="cpu")
    est = model.estimate(xt, yt)
    rows = {r["quantity"]: r["value"] for r in model_score_error(model, xt, yt, "1v1-normal-0.75", 0)}
    assert rows["mi[learned]"] == pytest.approx(est.mi, abs=1e-12)
    assert rows["mi_sigma[learned]"] == pytest.approx(est.mi_sigma, abs=1e-12)
    assert rows["energy[diff]"] > 0  # a smoke-budget network is not exact
