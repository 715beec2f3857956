"""The DoE baseline's compiled training step against torch's own Adam (docs/method.md §9)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from minde.bench import doe
from minde.bench.doe import DoEConfig, doe_estimate


def _data(n: int = 2_000, dx: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dx))
    return x, x[:, :2] @ rng.normal(size=(2, 2)) + rng.normal(size=(n, 2))


def _models(dx: int, dy: int, density: str, activation: str = "tanh") -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(1)
    log_scale0 = 0.0 if density == "gauss" else doe._LOGISTIC_LOG_SCALE
    return doe._Marginal(dy, log_scale0), doe._Conditional(dx, dy, 16, 2, log_scale0, activation)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("density", ["gauss", "logistic"])
def test_log_q_from_parameters_equals_the_modules(density: str, activation: str) -> None:
    x, y = (torch.as_tensor(a, dtype=torch.float32) for a in _data(50))
    for model in _models(3, 2, density, activation):
        params = dict(model.named_parameters())
        assert torch.equal(doe._log_q(params, x, y, density, activation), model(x, y, density))


def _functional_fit(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: DoEConfig,
                    activation: str) -> dict[str, torch.Tensor]:
    """``doe._step`` run eagerly over ``doe._fit``'s mini-batches (seed 5): the trained parameters."""
    params = {k: p.detach().clone() for k, p in model.named_parameters()}
    m = {k: torch.zeros_like(p) for k, p in params.items()}
    v = {k: torch.zeros_like(p) for k, p in params.items()}
    rng = np.random.default_rng(5)
    for n in range(1, cfg.n_steps + 1):
        idx = torch.as_tensor(rng.choice(len(x), size=cfg.batch_size, replace=False))
        params, m, v = doe._step(params, m, v, torch.tensor(float(n), dtype=torch.float64), x[idx], y[idx],
                                 cfg.density, cfg.learning_rate, cfg.clip_norm, activation)
    return params


@pytest.mark.parametrize(("density", "clip_norm", "activation"),
                         [("gauss", None, "tanh"), ("logistic", None, "relu"), ("gauss", 0.05, "tanh"),
                          ("logistic", 0.05, "tanh")])
def test_functional_adam_step_follows_torch_adam(density: str, clip_norm: float | None, activation: str) -> None:
    # the hand-written step (gradient by torch.func, gradient clipping and Adam written out) against
    # torch.nn.utils.clip_grad_norm_ and torch.optim.Adam on the same mini-batches: the same
    # parameters after 300 steps, to float32 rounding
    x, y = (torch.as_tensor(a, dtype=torch.float32) for a in _data())
    cfg = DoEConfig(density=density, n_steps=300, learning_rate=1e-2, clip_norm=clip_norm, activation=activation)
    for reference, mine in zip(_models(3, 2, density, activation), _models(3, 2, density, activation)):
        doe._fit(reference, x, y, cfg, np.random.default_rng(5), compile=False)
        params = _functional_fit(mine, x, y, cfg, activation)
        for k, p in reference.named_parameters():
            moved = (p.detach() - dict(mine.named_parameters())[k].detach()).abs().max()
            assert moved > 1e-2  # the test is not passed by parameters that stayed put
            torch.testing.assert_close(params[k], p.detach(), rtol=1e-4, atol=1e-5)
        if clip_norm is not None:  # the clipping bound: without it the same steps end elsewhere
            free = _functional_fit(mine, x, y, DoEConfig(density=density, n_steps=300, learning_rate=1e-2,
                                                         clip_norm=None, activation=activation), activation)
            assert max((free[k] - params[k]).abs().max() for k in params) > 1e-3


@pytest.mark.slow
def test_compiled_fit_gives_the_eager_estimate() -> None:
    x, y = _data(4_000)
    cfg = DoEConfig(density="gauss", n_steps=400)
    args = (x[:3_000], y[:3_000], x[3_000:], y[3_000:], cfg)
    eager, compiled = doe_estimate(*args, seed=2, compile=False), doe_estimate(*args, seed=2, compile=True)
    assert compiled == pytest.approx(eager, abs=1e-4)
    assert eager != doe_estimate(*args, seed=3, compile=False)  # the seed matters, so the match is not vacuous


def test_a_failing_compile_fits_eagerly_with_a_warning(monkeypatch) -> None:
    import warnings

    from minde import compiled

    def broken(*args, **kwargs):
        raise RuntimeError("inductor exploded\nsecond line")

    monkeypatch.setitem(compiled._COMPILED, doe._step, broken)
    x, y = _data(1_200)
    cfg = DoEConfig(density="logistic", n_steps=150)
    args = (x[:1_000], y[:1_000], x[1_000:], y[1_000:], cfg)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fallback = doe_estimate(*args, seed=1, compile=True)
    texts = [str(w.message) for w in caught if issubclass(w.category, compiled.CompileWarning)]
    assert texts == ["torch.compile failed (RuntimeError: inductor exploded); DoE runs eagerly"] * 2  # both fits
    # the eager step (Adam written out) against torch.optim.Adam: equal to float32 rounding
    assert fallback == pytest.approx(doe_estimate(*args, seed=1, compile=False), abs=1e-4)
