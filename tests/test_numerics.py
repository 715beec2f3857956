"""Hand-written numerics against PyTorch's own: the batched GroupNorm (forward and backward) and
the flat-buffer Adam + EMA step, for K = 1 and K = 3 stacked models, to float32 precision."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from minde.config import TrainSettings
from minde.network import GROUPS, ScoreNet, _gn_silu
from minde.training import _Chunk, _FlatParams, _train_loop

# float32 at the network's real widths (hidden 64-256, so 8-32 channels per group); float64 also
# at 2 channels per group, where float32 rounding is amplified by the tiny group variance
CASES = [(k, c, torch.float32, 1e-4) for k in (1, 3) for c in (64, 128, 256)] + [
    (k, c, torch.float64, 1e-10) for k in (1, 3) for c in (16, 64)]


@pytest.mark.parametrize("k,channels,dtype,tol", CASES)
def test_groupnorm_matches_nn_groupnorm(k, channels, dtype, tol):
    gen = torch.Generator().manual_seed(channels + k)
    batch = 37
    x = (torch.randn(k, channels, batch, generator=gen) * 3 + 1).to(dtype)
    w = torch.randn(k, channels, 1, generator=gen).to(dtype)
    b = torch.randn(k, channels, 1, generator=gen).to(dtype)
    gy = torch.randn(k, channels, batch, generator=gen).to(dtype)

    xs, ws, bs = (a.clone().requires_grad_() for a in (x, w, b))
    ours = _gn_silu(xs, {"gn_w": ws, "gn_b": bs}, "gn")
    (ours * gy).sum().backward()

    for m in range(k):
        ref = nn.GroupNorm(GROUPS, channels, eps=1e-5).to(dtype)
        with torch.no_grad():
            ref.weight.copy_(w[m, :, 0])
            ref.bias.copy_(b[m, :, 0])
        xm = x[m].T.clone().requires_grad_()  # nn.GroupNorm takes (batch, channels)
        out = F.silu(ref(xm))
        (out * gy[m].T).sum().backward()
        torch.testing.assert_close(ours[m].detach(), out.detach().T, rtol=tol, atol=tol)
        torch.testing.assert_close(xs.grad[m], xm.grad.T, rtol=tol, atol=tol)
        torch.testing.assert_close(ws.grad[m, :, 0], ref.weight.grad, rtol=tol, atol=tol)
        torch.testing.assert_close(bs.grad[m, :, 0], ref.bias.grad, rtol=tol, atol=tol)


def _chunk(k: int, steps: int, dim: int, batch: int, seed: int) -> _Chunk:
    g = torch.Generator().manual_seed(seed)
    return _Chunk(z_in=torch.randn(steps, k, dim, batch, generator=g),
                  t_vec=torch.rand(steps, k, 2, batch, generator=g),
                  eps=torch.randn(steps, k, dim, batch, generator=g),
                  weights=torch.rand(steps, k, dim, 1, generator=g) + 0.5)


@pytest.mark.parametrize("k", [1, 3])
def test_flat_adam_and_ema_match_torch_adam(k):
    dim, batch, steps, lr, decay = 4, 32, 12, 3e-3, 0.9
    # hidden 64, the smallest width the package uses (at hidden 16, 2 channels per group make the
    # gradients so ill-conditioned that float32 rounding alone separates any two implementations)
    net = ScoreNet(dim, 2, 64, n_models=k, seeds=list(range(10, 10 + k)))
    with torch.no_grad():  # the zero-initialised output layer would hide most of the network
        net.params["out_w"].normal_(0, 0.1)
    start = {n: p.detach().clone() for n, p in net.params.items()}
    chunk = _chunk(k, steps, dim, batch, seed=7)
    settings = TrainSettings(steps=steps, batch_size=batch, lr=lr, ema_decay=decay, mc_iter=1)

    fp = _FlatParams(dict(start))
    losses = torch.zeros(steps, k)
    ema_flat = _train_loop(net, fp, lambda step: chunk, settings, losses, tqdm(disable=True),
                           log_every=steps, first_model=0)

    # reference: one tensor per parameter, PyTorch's plain (for-loop) Adam, EMA of the weights
    ref = {n: p.clone().requires_grad_() for n, p in start.items()}
    opt = torch.optim.Adam(list(ref.values()), lr=lr, foreach=False, fused=False)
    ema = {n: p.detach().clone() for n, p in ref.items()}
    for step in range(steps):
        opt.zero_grad()
        pred = net.forward_cb(chunk.z_in[step], chunk.t_vec[step], params=ref)
        loss = ((pred - chunk.eps[step]).square() * chunk.weights[step]).sum((1, 2)) / batch
        loss.sum().backward()
        opt.step()
        torch.testing.assert_close(losses[step], loss.detach(), rtol=1e-5, atol=1e-5)
        d = min(decay, (1.0 + step) / (10.0 + step))
        for n in ema:
            ema[n] = d * ema[n] + (1 - d) * ref[n].detach()

    ours, ours_ema = fp.views(fp.flat), fp.views(ema_flat)
    for n in ref:
        torch.testing.assert_close(ours[n], ref[n].detach(), rtol=1e-5, atol=1e-6, msg=n)
        torch.testing.assert_close(ours_ema[n], ema[n], rtol=1e-5, atol=1e-6, msg=n)
    assert any((ours[n] != start[n]).any() for n in ref)  # training moved the weights


def test_models_in_a_batch_train_independently():
    """Model k of a K = 3 batch ends exactly where a K = 1 run on the same inputs ends."""
    dim, batch, steps = 4, 32, 6
    net3 = ScoreNet(dim, 2, 16, n_models=3, seeds=[1, 2, 3])
    chunk3 = _chunk(3, steps, dim, batch, seed=3)
    settings = TrainSettings(steps=steps, batch_size=batch, lr=1e-3, ema_decay=0.99, mc_iter=1)
    fp3 = _FlatParams({n: p.detach().clone() for n, p in net3.params.items()})
    _train_loop(net3, fp3, lambda s: chunk3, settings, torch.zeros(steps, 3), tqdm(disable=True), steps, 0)
    net1 = ScoreNet(dim, 2, 16, n_models=1, seeds=[2])
    chunk1 = _Chunk(*(a[:, 1:2] for a in (chunk3.z_in, chunk3.t_vec, chunk3.eps, chunk3.weights)))
    fp1 = _FlatParams({n: p.detach().clone() for n, p in net1.params.items()})
    _train_loop(net1, fp1, lambda s: chunk1, settings, torch.zeros(steps, 1), tqdm(disable=True), steps, 0)
    v3, v1 = fp3.views(fp3.flat), fp1.views(fp1.flat)
    for n in v1:
        torch.testing.assert_close(v3[n][1:2], v1[n], rtol=1e-6, atol=1e-7, msg=n)
