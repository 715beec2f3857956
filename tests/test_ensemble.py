"""K models in one batched computation equal K separate runs (docs/method.md §7)."""
import numpy as np
import pytest
import torch

import minde

RNG = np.random.default_rng(3)
XY = RNG.multivariate_normal([0, 0, 0], [[1, 0.6, 0.2], [0.6, 1, 0.3], [0.2, 0.3, 1]], size=1200)
X, Y, XT, YT = XY[:1000, :2], XY[:1000, 2:], XY[1000:, :2], XY[1000:, 2:]
SEEDS = (5, 6, 7)


def _fit(kind: str, **kw) -> minde.MINDE:
    return minde.MINDE(kind, budget="smoke", steps=300, mc_iter=2, progress=False, **kw).fit(X, Y)


@pytest.mark.parametrize("kind", ["c", "j"])
def test_ensemble_matches_separate_runs(kind):
    ens = _fit(kind, seed=SEEDS[0], n_seeds=len(SEEDS))
    r = ens.estimate(XT, YT)
    assert len(r.mi_per_seed) == len(SEEDS)
    for k, seed in enumerate(SEEDS):
        single = _fit(kind, seed=seed)
        for name, w in single.train_result.ema.items():
            torch.testing.assert_close(ens.train_result.ema[name][k], w[0], rtol=1e-4, atol=1e-5,
                                       msg=f"EMA weight {name} of model {k}")
        torch.testing.assert_close(ens.train_result.losses[:, k], single.train_result.losses[:, 0],
                                   rtol=1e-4, atol=1e-5)
        s = single.estimate(XT, YT)
        assert abs(r.mi_per_seed[k] - s.mi) < 1e-4, (k, r.mi_per_seed[k], s.mi)
        assert abs(r.mi_sigma_per_seed[k] - s.mi_sigma) < 1e-4, (k, r.mi_sigma_per_seed[k], s.mi_sigma)
    assert r.mi == pytest.approx(np.mean(r.mi_per_seed), abs=1e-9)
    assert r.mi_seed_std == pytest.approx(np.std(r.mi_per_seed, ddof=1), abs=1e-9)


def test_seeds_give_different_models():
    r = _fit("c", seed=0, n_seeds=3).estimate(XT, YT)
    est = np.array(r.mi_per_seed)
    assert np.min(np.abs(est[:, None] - est[None, :]) + np.eye(3)) > 1e-4, est
    assert r.mi_seed_std > 1e-4


def test_grouping_does_not_change_models():
    from minde.config import TrainSettings
    from minde.importance import make_sampler
    from minde.network import ScoreNet
    from minde.sde import VPSDE
    from minde.training import default_group_size, train_score_net
    from minde.utils import make_generator

    data = torch.from_numpy(XY[:1000].astype(np.float32))
    sde = VPSDE()
    runs = []
    for group in (3, 2, 1):
        net = ScoreNet(3, 2, 16, 3, seeds=[0, 1, 2])
        gens = [make_generator(s, 1, torch.device("cpu")) for s in range(3)]
        runs.append(train_score_net(net, data, "j", (2, 1), TrainSettings(100, 64, 1e-3, 0.999, 1),
                                    sde=sde, sampler=make_sampler(True, sde), generators=gens,
                                    progress=False, group_size=group))
    for other in runs[1:]:
        torch.testing.assert_close(other.losses, runs[0].losses, rtol=1e-4, atol=1e-5)
        for name, w in runs[0].ema.items():
            torch.testing.assert_close(other.ema[name], w, rtol=1e-4, atol=1e-5)
    cpu = torch.device("cpu")
    assert (default_group_size(16, 128, 64, cpu), default_group_size(16, 128, 128, cpu),
            default_group_size(16, 256, 256, cpu), default_group_size(3, 128, 64, cpu)) == (8, 4, 1, 3)
