"""Compiled training (``minde.compiled``): agrees with eager training, resumes bit-identically,
groups equal lone runs, and falls back to eager with a warning. One network shape throughout, so
the file compiles once (a few seconds with inductor's warm cache, up to a minute cold)."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from test_checkpoint import _Interrupt as Interrupt
from test_checkpoint import _interrupt_after_saves as interrupt_after_saves

import minde
from minde import compiled
from minde.compiled import COMPILE_MIN_STEPS, CompileWarning, loss_function, resolve_compile, step_loss
from minde.network import ScoreNet

RHO = 0.75
KW = dict(budget="smoke", steps=300, mc_iter=2, progress=False)


def _data(n: int = 600, seed: int = 0):
    z = np.random.default_rng(seed).multivariate_normal([0, 0], [[1, RHO], [RHO, 1]], size=n + 400)
    return z[:n, :1], z[:n, 1:], z[n:, :1], z[n:, 1:]


@pytest.mark.slow  # compiling costs up to a minute or two on a fresh machine: the second tier
def test_compiled_loss_and_gradients_equal_eager_to_rounding():
    net = ScoreNet(2, 2, 64, 2, seeds=[0, 1])
    params = {n: p.detach().clone().requires_grad_() for n, p in net.params.items()}
    g = torch.Generator().manual_seed(0)
    z, t = torch.randn(2, 2, 128, generator=g), torch.rand(2, 2, 128, generator=g)
    eps, w = torch.randn(2, 2, 128, generator=g), torch.rand(2, 2, 1, generator=g)
    eager = step_loss(params, z, t, eps, w, 64, 128)
    got = loss_function(True, 64, 128)(params, z, t, eps, w)
    torch.testing.assert_close(got, eager, rtol=1e-5, atol=1e-6)
    ge = torch.autograd.grad(eager.sum(), list(params.values()))
    gc = torch.autograd.grad(got.sum(), list(params.values()))
    for a, b in zip(gc, ge):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_compiled_fit_equals_eager_fit_to_training_tolerance():
    """300 steps: the two kinds of kernels round differently, and training carries that along; the
    estimates agree far inside their Monte Carlo error."""
    x, y, xt, yt = _data()
    eager = minde.MINDE("c", compile=False, **KW).fit(x, y).estimate(xt, yt)
    comp = minde.MINDE("c", compile=True, **KW).fit(x, y).estimate(xt, yt)
    assert comp.settings["compiled"] and not eager.settings["compiled"]
    assert abs(comp.mi - eager.mi) < 0.1 * eager.mi_stderr + 1e-4, (comp.mi, eager.mi, eager.mi_stderr)


@pytest.mark.slow
def test_compiled_groups_equal_lone_runs_and_resume_bit_identically(tmp_path: Path, monkeypatch):
    x, y, xt, yt = _data()
    kw = dict(KW, compile=True)
    ref = minde.MINDE("c", n_seeds=2, **kw).fit(x, y).estimate(xt, yt)
    for k in (0, 1):
        alone = minde.MINDE("c", seed=k, **kw).fit(x, y).estimate(xt, yt)
        assert alone.mi == pytest.approx(ref.mi_per_seed[k], rel=1e-4, abs=1e-5)

    interrupt_after_saves(monkeypatch, 1)  # stop right after the first checkpoint (step 256)
    path = tmp_path / "c.pt"
    with pytest.raises(Interrupt):
        minde.MINDE("c", n_seeds=2, checkpoint=path, checkpoint_every=1, **kw).fit(x, y)
    monkeypatch.undo()  # checkpoints are written normally again
    got = minde.MINDE("c", n_seeds=2, checkpoint=path, checkpoint_every=1, **kw).fit(x, y).estimate(xt, yt)
    assert got.resumed_from_step == 256
    assert got.mi_per_seed == ref.mi_per_seed and got.entropies == ref.entropies


def test_the_switch_and_the_automatic_choice(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.delenv(compiled.COMPILE_ENV, raising=False)
    assert resolve_compile(None, COMPILE_MIN_STEPS, cpu) and not resolve_compile(None, COMPILE_MIN_STEPS - 1, cpu)
    assert not resolve_compile(False, 10**6, cpu) and resolve_compile(True, 10, cpu)
    monkeypatch.setenv(compiled.COMPILE_ENV, "0")
    assert not resolve_compile(None, 10**6, cpu) and resolve_compile(True, 10, cpu)
    monkeypatch.setenv(compiled.COMPILE_ENV, "1")
    assert resolve_compile(None, 10, cpu)
    monkeypatch.setenv(compiled.COMPILE_ENV, "yes")
    with pytest.raises(ValueError, match="MINDE_COMPILE must be 0 or 1"):
        resolve_compile(None, 10, cpu)
    with pytest.raises(ValueError, match="compile must be True, False or None"):
        minde.MINDE("c", compile="auto")


def test_no_compiler_or_a_failing_compile_trains_eagerly_with_a_warning(monkeypatch):
    x, y, xt, yt = _data()
    kw = dict(KW, steps=60)
    eager = minde.MINDE("c", compile=False, **kw).fit(x, y).estimate(xt, yt)
    monkeypatch.setattr(compiled, "_has_compiler", lambda device: False)
    with pytest.warns(CompileWarning, match="no C.. compiler found"):
        r = minde.MINDE("c", compile=True, **kw).fit(x, y).estimate(xt, yt)
    assert not r.settings["compiled"] and r.mi == eager.mi
    monkeypatch.undo()

    def broken(*args, **kwargs):
        raise RuntimeError("inductor exploded\nsecond line")

    monkeypatch.setitem(compiled._COMPILED, compiled.step_loss, broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = minde.MINDE("c", compile=True, **kw).fit(x, y).estimate(xt, yt)
    texts = [str(w.message) for w in caught if issubclass(w.category, CompileWarning)]
    assert texts == ["torch.compile failed (RuntimeError: inductor exploded); training runs eagerly"]
    assert r.mi == eager.mi  # the eager fallback from the first step on
