"""Importance sampling of t (docs/method.md §4)."""
import numpy as np
import pytest
import torch
from scipy import integrate, stats

from minde.importance import ImportanceSampler, UniformSampler, make_sampler
from minde.sde import VPSDE


def test_default_z_value():
    assert ImportanceSampler().Z == pytest.approx(20.256, abs=1e-3)


@pytest.mark.parametrize("bmin,bmax,t_eps", [(0.1, 20.0, 1e-3), (0.5, 10.0, 1e-2), (0.05, 30.0, 1e-4)])
def test_z_is_computed_from_the_sde(bmin, bmax, t_eps):
    s = ImportanceSampler(VPSDE(bmin, bmax), t_eps)
    def r(t):
        return (bmin + t * (bmax - bmin)) / -np.expm1(-(bmin * t + 0.5 * t * t * (bmax - bmin)))

    numeric, _ = integrate.quad(r, t_eps, 1.0, limit=200)
    assert s.Z == pytest.approx(t_eps * r(t_eps) + numeric, rel=1e-8)
    # on [t_eps, 1], g^2/sigma^2 divided by q(t) is the constant Z
    t = torch.linspace(t_eps, 1.0, 50, dtype=torch.float64)
    ratio = s.sde.g2(t) / s.sde.sigma_t(t) ** 2 / s.density(t)
    torch.testing.assert_close(ratio, torch.full_like(ratio, s.Z))


def test_density_integrates_to_one():
    s = ImportanceSampler()
    t = torch.cat([torch.linspace(0, 1e-3, 1001, dtype=torch.float64),
                   torch.logspace(-3, 0, 200_001, dtype=torch.float64)[1:]])
    assert float(torch.trapezoid(s.density(t), t)) == pytest.approx(1.0, abs=1e-6)


def test_inverse_cdf_inverts_cdf():
    s = ImportanceSampler()
    u = torch.rand(10_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(s.cdf(s.inverse_cdf(u)), u, atol=1e-10, rtol=0)
    t = torch.rand(1000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(s.inverse_cdf(s.cdf(t)), t, atol=1e-8, rtol=0)


def test_samples_follow_the_density():
    s = ImportanceSampler()
    draws = s.sample((50_000,), torch.Generator().manual_seed(3), "cpu").double().numpy()
    assert draws.min() >= 0 and draws.max() <= 1
    ks = stats.kstest(draws, lambda x: s.cdf(torch.as_tensor(x, dtype=torch.float64)).numpy())
    assert ks.pvalue > 1e-3


def test_uniform_sampler_weight_and_range():
    s = UniformSampler()
    t = s.sample((1000,), torch.Generator().manual_seed(0), "cpu")
    assert float(t.min()) >= s.eps and float(t.max()) <= 1.0
    tt = torch.tensor([0.5], dtype=torch.float64)
    expected = (1 - s.eps) * s.sde.beta(tt) / s.sde.sigma_t(tt) ** 2
    torch.testing.assert_close(s.weight(tt), expected)
    assert isinstance(make_sampler(False), UniformSampler)
    assert isinstance(make_sampler(True), ImportanceSampler)
