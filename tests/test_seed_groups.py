"""MINDE seeds of a sweep trained as one batch, each on its own data (minde.repro.units.group_units)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from minde import api
from minde.api import MINDE, fit_estimate_group
from minde.config import TrainSettings
from minde.importance import make_sampler
from minde.network import ScoreNet
from minde.repro import results as res
from minde.repro import sweep
from minde.repro.units import Unit, group_units, run_group, run_unit
from minde.sde import VPSDE
from minde.training import TrainingDivergedError, train_score_net
from minde.utils import make_generator

TASK = "1v1-normal-0.75"
TRUTH = 0.41333928659223396
N_TRAIN, N_TEST = 400, 200
SEEDS = (0, 2, 5)
CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _private_sample_cache(tmp_path_factory, monkeypatch) -> None:
    """Keep task samples of these tests out of data/cache."""
    monkeypatch.setenv("MINDE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "sample-cache"))


def _datasets(n: int = 600, m: int = 200) -> list[tuple[np.ndarray, ...]]:
    """Three different data sets (other correlation, scale and offset each)."""
    rng = np.random.default_rng(11)
    out = []
    for k, rho in enumerate((0.3, 0.6, 0.8)):
        xy = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n + m) * (k + 1) + k
        out.append((xy[:n, :1], xy[:n, 1:], xy[n:, :1], xy[n:, 1:]))
    return out


def _unit(seed: int, method: str = "minde_c", task: str = TASK, n_train: int = N_TRAIN) -> Unit:
    return Unit(task, method, n_train, N_TEST, seed, "smoke", TRUTH)


def test_per_model_data_training_equals_separate_runs() -> None:
    """(a) model k trained on data[k] in a K-batch (and in groups of 2) = a K = 1 run on data[k]."""
    sets = [torch.from_numpy(np.concatenate(d[:2], 1).astype(np.float32)) for d in _datasets()]
    sde, settings = VPSDE(), TrainSettings(80, 64, 1e-3, 0.999, 1)

    def train(data: torch.Tensor, seeds: list[int], group: int | None = None):
        net = ScoreNet(2, 2, 16, len(seeds), seeds=seeds)
        gens = [make_generator(s, 1, CPU) for s in seeds]
        return train_score_net(net, data, "j", (1, 1), settings, sde=sde,
                               sampler=make_sampler(True, sde), generators=gens, progress=False,
                               group_size=group)

    stacked = torch.stack(sets)
    runs = [train(stacked, list(SEEDS)), train(stacked, list(SEEDS), group=2)]
    for k, seed in enumerate(SEEDS):
        single = train(sets[k], [seed])
        for run in runs:
            torch.testing.assert_close(run.losses[:, k], single.losses[:, 0], rtol=1e-4, atol=1e-5)
            for name, w in single.ema.items():
                torch.testing.assert_close(run.ema[name][k], w[0], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"\(K, n, D\)"):
        train(stacked[:2], list(SEEDS))


def test_grouping_leaves_the_draws_of_wide_models_unchanged() -> None:
    """Model k draws its steps in chunks of the same length alone and in a group of 8, also when
    8 models' inputs (5 + 5 dims) would overflow a chunk's memory target: equal losses."""
    rng = np.random.default_rng(3)
    data = torch.from_numpy(rng.normal(size=(8, 300, 10)).astype(np.float32))
    sde, settings = VPSDE(), TrainSettings(300, 128, 1e-3, 0.999, 1)

    def train(d: torch.Tensor, seeds: list[int]):
        net = ScoreNet(10, 2, 16, len(seeds), seeds=seeds)
        gens = [make_generator(s, 1, CPU) for s in seeds]
        return train_score_net(net, d, "c", (5, 5), settings, sde=sde, sampler=make_sampler(True, sde),
                               generators=gens, progress=False, group_size=8)

    grouped, alone = train(data, list(range(8))), train(data[5], [5])
    torch.testing.assert_close(grouped.losses[:, 5], alone.losses[:, 0], rtol=1e-5, atol=1e-6)


def test_fit_estimate_group_equals_separate_fits() -> None:
    """(a) the batched entry point: own standardisation, seeds and eval draws per model."""
    data = _datasets()
    grouped = fit_estimate_group("c", data, list(SEEDS), budget="smoke", steps=120)
    for d, seed, g in zip(data, SEEDS, grouped):
        alone = MINDE("c", budget="smoke", steps=120, seed=seed, progress=False).fit(d[0], d[1])
        s = alone.estimate(d[2], d[3])
        assert g.mi == pytest.approx(s.mi, rel=1e-4, abs=1e-6)
        assert g.mi_sigma == pytest.approx(s.mi_sigma, rel=1e-4, abs=1e-6)
        assert g.entropies == pytest.approx(s.entropies, rel=1e-4, abs=1e-6)
        assert g.settings == s.settings and g.settings["seeds"] == [seed]
    with pytest.raises(ValueError, match="one size"):
        fit_estimate_group("c", [data[0], tuple(a[:500] for a in data[1])], [0, 1], budget="smoke")


def test_run_group_equals_run_unit() -> None:
    """(b) three MINDE units of seeds 0, 2, 5: one batched group = each unit alone."""
    group = [_unit(s) for s in SEEDS]
    recs = run_group(group)
    assert [r.key for r in recs] == [u.key for u in group]
    for u, rec in zip(group, recs):
        alone = run_unit(u)
        assert rec.status == "ok" and alone.status == "ok"
        assert rec.estimates.keys() == alone.estimates.keys() == {"minde_c", "minde_c_sigma"}
        for name, value in alone.estimates.items():
            assert rec.estimates[name] == pytest.approx(value, rel=1e-4, abs=1e-6)
        assert set(rec.extra) == set(alone.extra) | {"group_size", "group_seeds", "group_seconds", "cross"}
        assert rec.extra["group_seeds"] == list(SEEDS)
        assert rec.extra["group_size"] == 3 and rec.extra["settings"] == alone.extra["settings"]
        assert rec.seconds == pytest.approx(rec.extra["group_seconds"] / 3)
        assert rec.truth == TRUTH and rec.n_test == N_TEST and rec.git_rev == alone.git_rev


def test_group_units_by_everything_but_the_seed() -> None:
    """(c) grouping key, CPU size cap by hidden width, baselines alone, order kept."""
    us = ([_unit(s) for s in range(10)] + [_unit(s, "cca") for s in range(3)]
          + [_unit(s, "minde_j") for s in range(2)] + [_unit(s, n_train=300) for s in range(2)]
          + [_unit(s, task="multinormal-dense-50-50-0.5") for s in range(2)]
          + [_unit(s, task="multinormal-dense-25-25-0.5", n_train=2000) for s in range(3)])
    shuffled = us[::2] + us[1::2]  # interleave the kinds of units
    for units_in in (us, shuffled):
        groups = group_units(units_in, device="cpu")
        assert sorted((u for g in groups for u in g), key=us.index) == us  # each unit once
        assert [g[0] for g in groups] == [u for u in units_in if any(u is g[0] for g in groups)]
        for g in groups:  # order within a group is the input order
            assert g == sorted(g, key=units_in.index)
            assert len({(u.task, u.method, u.n_train, u.n_test, u.budget) for u in g}) == 1
    sizes = {(g[0].task, g[0].method, g[0].n_train): [] for g in group_units(us, device="cpu")}
    for g in group_units(us, device="cpu"):
        sizes[(g[0].task, g[0].method, g[0].n_train)].append(len(g))
    assert sizes == {(TASK, "minde_c", N_TRAIN): [8, 2], (TASK, "cca", N_TRAIN): [1, 1, 1],
                     (TASK, "minde_j", N_TRAIN): [2], (TASK, "minde_c", 300): [2],
                     ("multinormal-dense-50-50-0.5", "minde_c", N_TRAIN): [1, 1],  # hidden 256
                     ("multinormal-dense-25-25-0.5", "minde_c", 2000): [2, 1]}  # 128 x 256
    assert [len(g) for g in group_units(us[:10], max_size=3, device="cpu")] == [3, 3, 3, 1]
    assert all(len(g) == 1 for g in group_units(us, max_size=1, device="cpu"))


def test_sweep_writes_one_record_per_unit_equal_to_ungrouped(tmp_path: Path, capsys) -> None:
    """(d) a sweep of minde_c seeds 0-2: 3 records (one group), as a sweep without grouping."""
    kw = dict(n_train=N_TRAIN, n_test=N_TEST, progress=False)
    df = sweep.run_sweep("g", "smoke", TASK, "minde_c", "0-2", out=tmp_path / "g", **kw)
    flat = sweep.run_sweep("g", "smoke", TASK, "minde_c", "0-2", out=tmp_path / "f",
                           group_size=1, **kw)
    recs = res.load_units("g", "smoke", tmp_path / "g")
    assert sorted(recs) == [(TASK, "minde_c", N_TRAIN, s) for s in range(3)]
    assert all(r.status == "ok" and r.extra["group_size"] == 3 for r in recs.values())
    assert all("group_size" not in r.extra for r in res.load_units("g", "smoke", tmp_path / "f").values())
    key = ["variant", "seed"]
    joint = df["variant"].map(res.is_joint_variant)  # the grouped sweep's joint evaluation
    assert sorted(df.loc[joint, "variant"]) == ["minde_c_cross", "minde_c_loss", "minde_c_pair_cross",
                                                "minde_c_pair_cross", "minde_c_pair_cross",
                                                "minde_c_sigma_cross", "minde_c_sigma_loss"]
    df = df[~joint]
    a, b = df.sort_values(key).reset_index(drop=True), flat.sort_values(key).reset_index(drop=True)
    assert len(a) == 6 and list(a["variant"]) == list(b["variant"])
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-4, atol=1e-6)
    capsys.readouterr()
    before = {p.name: p.read_text() for p in (tmp_path / "g" / "g" / "smoke" / "units").glob("*.json")}
    assert sweep.main(["--experiment", "g", "--budget", "smoke", "--tasks", TASK, "--methods",
                       "minde_c", "--seeds", "0-2", "--n-train", str(N_TRAIN), "--n-test",
                       str(N_TEST), "--out", str(tmp_path / "g"), "--no-progress"]) == 0
    assert "3 done" in capsys.readouterr().out  # resume: nothing regrouped or rerun
    after = {p.name: p.read_text() for p in (tmp_path / "g" / "g" / "smoke" / "units").glob("*.json")}
    assert after == before
    with pytest.raises(sweep.SweepArgumentError, match="--group-size"):
        sweep.run_sweep("g", "smoke", TASK, "minde_c", "0", out=tmp_path / "g", group_size=0, **kw)


def test_failing_group_fails_every_unit(monkeypatch) -> None:
    """(e) training that raises fails all units of the group with the error."""
    def broken(*args, **kwargs):
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setattr(api, "train_score_net", broken)
    recs = run_group([_unit(s) for s in SEEDS])
    assert [r.seed for r in recs] == list(SEEDS)
    assert all(r.status == "failed" and r.error == "RuntimeError: out of memory (simulated)"
               for r in recs)
    assert all("traceback" in r.extra for r in recs)


def test_failed_sampling_fails_only_that_unit(monkeypatch) -> None:
    from minde.bench import tasks

    real = tasks.sample

    def sample(task, n_train, n_test, seed, *a, **kw):
        if seed == 2:
            raise OSError("cache unreadable (simulated)")
        return real(task, n_train, n_test, seed, *a, **kw)

    monkeypatch.setattr(tasks, "sample", sample)
    recs = run_group([_unit(s) for s in SEEDS])
    assert [r.status for r in recs] == ["ok", "failed", "ok"]
    assert recs[1].error == "OSError: cache unreadable (simulated)"
    assert recs[0].extra["group_size"] == 2


def test_divergence_in_a_group_reruns_its_units_alone(monkeypatch) -> None:
    """A diverging group is rerun unit by unit, so one bad seed does not fail the others."""
    real, calls = api.train_score_net, []

    def diverge_in_groups(net, *args, **kwargs):
        calls.append(net.n_models)
        if net.n_models > 1:
            raise TrainingDivergedError(step=99, model=1, lr=1e-3)
        return real(net, *args, **kwargs)

    monkeypatch.setattr(api, "train_score_net", diverge_in_groups)
    recs = run_group([_unit(s) for s in (0, 1)])
    assert calls == [2, 1, 1]
    assert all(r.status == "ok" and "group_fallback" in r.extra for r in recs)
    assert "group_size" not in recs[0].extra


def test_ablation_seed_loop_batched_equals_one_fit_per_seed() -> None:
    """The ablations' seed loop (fit_task_seeds) gives each seed the model fit_task gives it."""
    from minde.repro.ablations import fit_task, fit_task_seeds

    fits = fit_task_seeds(TASK, "c", "smoke", [1, 4], device="cpu", n_train=N_TRAIN)
    for seed, (m, xt, yt, truth) in zip([1, 4], fits):
        alone, xt1, yt1, truth1 = fit_task(TASK, "c", "smoke", seed, "cpu", N_TRAIN)
        np.testing.assert_array_equal(xt, xt1)
        assert truth == truth1 == pytest.approx(TRUTH)
        a, b = m.estimate(xt, yt), alone.estimate(xt1, yt1)
        assert a.mi == pytest.approx(b.mi, rel=1e-4, abs=1e-6)
        assert a.mi_sigma == pytest.approx(b.mi_sigma, rel=1e-4, abs=1e-6)
    assert fits[0][0].estimate(fits[0][1], fits[0][2]).mi != pytest.approx(
        fits[1][0].estimate(fits[1][1], fits[1][2]).mi, rel=1e-3)  # seeds really differ


def test_cross_sweep_evaluates_all_seeds_jointly_and_reruns_units_without_it(tmp_path: Path, capsys) -> None:
    """--cross: all seeds of a unit in one group (even where the CPU rule says one at a time),
    one joint evaluation on the first seed's test rows in every record, its variants on that
    seed's rows of results.csv; a unit whose records lack it is rerun, one that has it is not."""
    kw = dict(n_train=N_TRAIN, n_test=N_TEST, progress=False)
    out = tmp_path / "x"
    flat = sweep.run_sweep("x", "smoke", TASK, "minde_j", "0-2", out=out, group_size=1, **kw)
    assert not flat["variant"].map(res.is_joint_variant).any()
    assert len(group_units([_unit(s, "minde_j", "multinormal-dense-50-50-0.5") for s in range(3)], device="cpu",
                           whole=True)) == 1
    df = sweep.run_sweep("x", "smoke", TASK, "minde_j", "0-2", out=out, cross=True, **kw)
    assert "3 finished MINDE or DoE unit(s)" in capsys.readouterr().out  # rerun: no joint evaluation yet
    recs = res.load_units("x", "smoke", out)
    crosses = [r.extra["cross"] for r in recs.values()]
    assert all(c == crosses[0] for c in crosses) and crosses[0]["seeds"] == [0, 1, 2]
    assert crosses[0]["test_seed"] == 0 and crosses[0]["n_models"] == 3
    rows = df.set_index(["variant", "seed"])["estimate"]
    assert rows[("minde_j_cross", 0)] == crosses[0]["mi"] and ("minde_j_cross", 1) not in rows.index
    assert np.isfinite(crosses[0]["mi_model_se"]) and crosses[0]["mi_sigma"] == rows[("minde_j_sigma_cross", 0)]
    assert ("minde_j_sigma_loss", 0) in rows.index and ("minde_j_loss", 0) not in rows.index  # no valid form
    pairs = [rows[("minde_j_pair_cross", s)] for s in range(3)]  # K = 2: seeds (0, 1), (1, 2), (2, 0)
    assert len(set(pairs)) == 3 and np.mean(pairs) == pytest.approx(crosses[0]["mi"], rel=1e-12)
    before = {p.name: p.read_text() for p in (out / "x" / "smoke" / "units").glob("*.json")}
    sweep.run_sweep("x", "smoke", TASK, "minde_j", "0-2", out=out, cross=True, **kw)
    assert {p.name: p.read_text() for p in (out / "x" / "smoke" / "units").glob("*.json")} == before


def test_only_the_debiasing_study_reads_the_joint_evaluations() -> None:
    from minde.repro.experiments import EXPERIMENTS, wants_joint

    joint = {stem for stem in EXPERIMENTS for b in ("smoke", "quick", "paper") if wants_joint(stem, b)}
    assert joint == {"ablation_debiasing"}


def test_the_paper_figures_draw_the_answer_beside_the_paper_estimators() -> None:
    """The paper's figures keep every per-seed variant and add the MINDE-J answer of two models
    (the kinds minde.api debiases, with its number of models); the other joint variants stay in
    the debiasing study."""
    from minde import api

    assert api.ANSWER_MODELS == 2  # one pair of models: the ``_pair_cross`` rows
    assert res.ANSWER_VARIANTS == tuple(f"minde_{k}_pair_cross" for k in api.DEBIASED_KINDS)
    per_seed = ["minde_c", "minde_c_sigma", "minde_j", "minde_j_sigma", "ksg"]
    joint = ["minde_c_cross", "minde_c_loss", "minde_c_pair_cross", "minde_j_cross", "minde_j_sigma_loss"]
    assert [v for v in per_seed + joint + ["minde_j_pair_cross"] if res.shown_variant(v, joint=False)] == \
        per_seed + ["minde_j_pair_cross"]
    assert all(res.shown_variant(v, joint=True) for v in per_seed + joint)
