"""VP-SDE closed forms (docs/method.md §1)."""
import math

import pytest
import torch

from minde.sde import VPSDE

T = torch.linspace(0.0, 1.0, 101, dtype=torch.float64)


def test_k_and_sigma_match_spec_formulas():
    sde = VPSDE()
    log_k = -0.25 * T**2 * (20.0 - 0.1) - 0.5 * T * 0.1
    torch.testing.assert_close(sde.log_k(T), log_k)
    torch.testing.assert_close(sde.sigma_t(T) ** 2 + sde.k_t(T) ** 2, torch.ones_like(T))


def test_int_beta_is_integral_of_beta():
    sde = VPSDE(beta_min=0.3, beta_max=7.0)
    fine = torch.linspace(0, 1, 100_001, dtype=torch.float64)
    numeric = torch.trapezoid(sde.beta(fine), fine)
    assert float(sde.int_beta(torch.tensor(1.0, dtype=torch.float64))) == pytest.approx(float(numeric), rel=1e-9)


def test_perturb_moments():
    sde = VPSDE()
    gen = torch.Generator().manual_seed(0)
    x0 = torch.full((200_000, 1), 2.0, dtype=torch.float64)
    t = torch.full((200_000,), 0.3, dtype=torch.float64)
    eps = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    xt = sde.perturb(x0, t, eps)
    assert float(xt.mean()) == pytest.approx(2.0 * float(sde.k_t(t[0])), abs=0.01)
    assert float(xt.std()) == pytest.approx(float(sde.sigma_t(t[0])), abs=0.01)


def test_chi_is_variance_of_diffused_reference():
    sde = VPSDE()
    t = torch.tensor([0.0, 0.2, 1.0], dtype=torch.float64)
    for sigma in (0.5, 1.0, 3.0):
        expected = sde.k_t(t) ** 2 * sigma**2 + sde.sigma_t(t) ** 2
        torch.testing.assert_close(sde.chi_t(t, sigma), expected)
    torch.testing.assert_close(sde.chi_t(t, 1.0), torch.ones_like(t))


def test_drift_and_diffusion():
    sde = VPSDE()
    x = torch.ones(3, 2, dtype=torch.float64)
    t = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    drift, g = sde.sde(x, t)
    torch.testing.assert_close(drift, -0.5 * sde.beta(t)[:, None] * x)
    torch.testing.assert_close(g, torch.sqrt(sde.beta(t)))
    assert math.isclose(float(sde.beta(torch.tensor(1.0))), 20.0, rel_tol=1e-6)
