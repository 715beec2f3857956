"""Role masks (docs/method.md §5) and the score network (docs/method.md §6)."""
import pytest
import torch

from minde.importance import make_sampler
from minde.masks import CONDITIONING, DIFFUSED, KIND_MASKS, MARGINALISED, Mask, MaskTable, build_inputs, loss_weights
from minde.network import ScoreNet, default_hidden
from minde.sde import VPSDE
from minde.training import _make_chunk


def _inputs(roles, dims=(2, 3)):
    gen = torch.Generator().manual_seed(0)
    d = sum(dims)
    x0, xt = torch.randn(1, 4, d, generator=gen), torch.randn(1, 4, d, generator=gen)
    t = torch.rand(1, 4, generator=gen)
    row = MaskTable.build((Mask(roles),), dims).gather(torch.zeros(1, dtype=torch.long))
    z, tv = build_inputs(x0, xt, t, row)
    return x0, xt, t, z, tv, row


def test_roles_inputs_and_time_entries():
    x0, xt, t, z, tv, _ = _inputs((DIFFUSED, MARGINALISED))
    torch.testing.assert_close(z[..., :2], xt[..., :2])
    assert torch.all(z[..., 2:] == 0)
    torch.testing.assert_close(tv[..., 0], t)
    assert torch.all(tv[..., 1] == 1)
    x0, xt, t, z, tv, _ = _inputs((CONDITIONING, DIFFUSED))
    torch.testing.assert_close(z[..., :2], x0[..., :2])
    torch.testing.assert_close(z[..., 2:], xt[..., 2:])
    assert torch.all(tv[..., 0] == 0)
    torch.testing.assert_close(tv[..., 1], t)


def test_loss_weights():
    _, _, _, _, _, row = _inputs((DIFFUSED, CONDITIONING))
    w = loss_weights(row)[0, 0]
    expected = (1 + 3 / 5) / 2
    torch.testing.assert_close(w, torch.tensor([expected, expected, 0, 0, 0]))
    _, _, _, _, _, row = _inputs((DIFFUSED, DIFFUSED))
    torch.testing.assert_close(loss_weights(row)[0, 0], torch.full((5,), 1 / 5))


def test_kind_mask_probabilities():
    assert [p for _, p in KIND_MASKS["c"]] == [0.5, 0.5]
    assert [p for _, p in KIND_MASKS["j"]] == [0.5, 0.25, 0.25]
    with pytest.raises(ValueError, match="unknown kind"):
        MaskTable.for_kind("x", (1, 1))
    with pytest.raises(ValueError, match="unknown role"):
        Mask(("noisy", DIFFUSED))


def _drawn_roles(probs, steps: int) -> torch.Tensor:
    """Which of kind "j"'s masks each training step drew (0 joint, 1 X|Y, 2 Y|X), read off the
    time entries of the inputs that training builds (a conditioning variable has time 0)."""
    sde = VPSDE()
    table = MaskTable.for_kind("j", (2, 3), probs=probs)
    data = torch.randn(50, 5, generator=torch.Generator().manual_seed(1))
    gens = [torch.Generator().manual_seed(0)]
    chunk = _make_chunk(data, steps, 4, table, sde, make_sampler(False, sde), gens)
    t_x, t_y = chunk.t_vec[:, 0, 0, 0], chunk.t_vec[:, 0, 1, 0]  # (steps,)
    return torch.where(t_y == 0, 1, torch.where(t_x == 0, 2, 0))


def test_role_probs_set_how_often_each_mask_is_trained():
    assert torch.equal(_drawn_roles((0.0, 1.0, 0.0), 200), torch.ones(200, dtype=torch.long))
    assert torch.equal(_drawn_roles(None, 300), _drawn_roles((0.5, 0.25, 0.25), 300))
    counts = torch.bincount(_drawn_roles((0.2, 0.4, 0.4), 4000), minlength=3).double() / 4000
    assert torch.allclose(counts, torch.tensor([0.2, 0.4, 0.4], dtype=torch.float64), atol=0.03)  # ~4 SE
    for bad, msg in (((0.5, 0.5), "needs 3 probabilities"), ((0.6, 0.3, 0.3), "sum to 1"),
                     ((-0.5, 1.0, 0.5), "non-negative")):
        with pytest.raises(ValueError, match=msg):
            MaskTable.for_kind("j", (1, 1), probs=bad)


@pytest.mark.parametrize("k,d,v,h", [(1, 2, 2, 64), (3, 7, 2, 16)])
def test_network_shapes_and_zero_output(k, d, v, h):
    net = ScoreNet(d, v, h, n_models=k, seeds=list(range(k)))
    z, t = torch.randn(k, 5, d), torch.rand(k, 5, v)
    out = net(z, t)
    assert out.shape == (k, 5, d)
    assert torch.all(out == 0)  # zero-initialised output layer
    assert net.params["out_w"].abs().sum() == 0


def test_models_have_independent_initialisation():
    net = ScoreNet(4, 2, 16, n_models=2, seeds=[0, 1])
    single = ScoreNet(4, 2, 16, n_models=1, seeds=[1])
    w = net.params["inp_w"]
    assert not torch.equal(w[0], w[1])
    torch.testing.assert_close(w[1], single.params["inp_w"][0])


def test_hidden_rule_and_errors():
    assert (default_hidden(10), default_hidden(11), default_hidden(50), default_hidden(51)) == (64, 128, 128, 256)
    with pytest.raises(ValueError, match="multiple of 8"):
        ScoreNet(2, 2, 12)
