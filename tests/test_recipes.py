"""The recipe study's command line resumes exactly what its notebook computes."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from minde.repro import recipes, store
from minde.repro.experiments import get_plan


def _capture(monkeypatch) -> dict:
    """Record what the study asks the store for, instead of computing it."""
    seen: dict = {}

    def fake(experiment, budget, compute, params, recompute=False, recipe=True, parts=None, path=None, **kw):
        seen.update(experiment=experiment, budget=budget, params=params, recipe=recipe, parts=parts, path=path)
        return pd.DataFrame()

    monkeypatch.setattr(store, "load_or_compute", fake)
    return seen


def test_cli_defaults_resume_the_notebooks_quick_table(monkeypatch, tmp_path: Path) -> None:
    """The command's defaults ask the store for the notebook's own settings and parts, so it
    resumes (and never invalidates) the table the notebook reads."""
    seen = _capture(monkeypatch)
    assert recipes.main(["--out", str(tmp_path / "r.csv")]) == 0
    cli = dict(seen)
    plan = get_plan("ablation_training_recipe", "quick")
    recipes.study(plan.options["recipes"], plan.tasks, plan.seeds, [m[-1] for m in plan.methods], budget="quick",
                  max_steps=plan.options["max_steps"])
    assert cli["path"] == str(tmp_path / "r.csv") and seen["path"] is None
    assert cli["params"] == seen["params"] and cli["parts"] == seen["parts"] and not cli["recipe"]
    assert cli["params"]["recipes"] == list(plan.options["recipes"])
    assert {p["task"] for p in cli["parts"]} == set(plan.tasks)
    # RECIPES holds more candidates than the notebook runs; the default must not add them
    assert set(recipes.RECIPES) - set(cli["params"]["recipes"])
    assert recipes.main(["--out", str(tmp_path / "r.csv"), "--cross"]) == 0
    assert seen["params"]["cross"] is True  # other settings, another table


def test_cli_rejects_an_unknown_recipe(monkeypatch, tmp_path: Path, capsys) -> None:
    _capture(monkeypatch)
    with pytest.raises(SystemExit):
        recipes.main(["--out", str(tmp_path / "r.csv"), "--recipes", "constant-is,no-such"])
    assert "no-such" in capsys.readouterr().err


def test_joint_share_reaches_minde_j_only(tmp_path: Path) -> None:
    """A recipe's joint_share sets MINDE-J's role probabilities and leaves MINDE-C alone."""
    base = recipes.RECIPES["cosine-uniform"]
    j80 = recipes.RECIPES["cosine-uniform-j80"]
    assert j80.minde_kwargs(3, "j")["role_probs"] == pytest.approx((0.8, 0.1, 0.1))
    assert "role_probs" not in j80.minde_kwargs(3, "c")
    assert j80.minde_kwargs(3, "c") == base.minde_kwargs(3, "c")
    df = recipes.run_recipe_screen({"base": base, "j80": j80}, ["1v1-normal-0.75"], [0], n_train=300,
                                   n_test=200, budget="smoke", progress=False, max_steps=40)
    est = df.set_index(["recipe", "variant"])["estimate"]
    assert est[("j80", "minde_c")] == est[("base", "minde_c")]
    assert est[("j80", "minde_j")] != est[("base", "minde_j")]


def test_epochs_recipe_differs_from_the_paper_recipe_only_in_its_batches() -> None:
    """constant-is-epochs is the paper's recipe with shuffled-epoch mini-batches."""
    base, ep = recipes.RECIPES["constant-is"].minde_kwargs(5), recipes.RECIPES["constant-is-epochs"].minde_kwargs(5)
    assert ep.pop("batches") == "epochs" and base.pop("batches") == "replacement"
    assert ep == base


def test_width_and_ema_recipes_change_only_their_setting() -> None:
    """The -w2 recipes double the width rule's hidden size; the -ema99 recipes set the EMA decay."""
    for base_name in ("cosine-is", "cosine-uniform"):
        base = recipes.RECIPES[base_name]
        w2, ema = recipes.RECIPES[f"{base_name}-w2"], recipes.RECIPES[f"{base_name}-ema99"]
        # the width rule reads d_x + d_y: 64 up to 10 dimensions, 128 up to 50, else 256
        for (dx, dy), width in (((1, 1), 128), ((5, 5), 128), ((3, 8), 256), ((25, 25), 256)):
            kw = w2.minde_kwargs(dx, "c", dy)
            assert kw.pop("hidden") == width
            assert kw == base.minde_kwargs(dx, "c", dy)
        assert "hidden" not in base.minde_kwargs(5, "c", 5)
        kw = ema.minde_kwargs(5, "j", 5)
        assert kw.pop("ema_decay") == 0.99 and base.minde_kwargs(5, "j", 5).pop("ema_decay") is None
        with pytest.raises(ValueError, match="dim_y"):
            w2.minde_kwargs(5, "c")
    w2, matched = recipes.RECIPES["cosine-uniform-w2"], recipes.RECIPES["cosine-uniform-w2-4k"]
    kw, kw_matched = w2.minde_kwargs(5, "j", 5), matched.minde_kwargs(5, "j", 5)
    assert (kw.pop("steps"), kw_matched.pop("steps")) == (10_000, 4_300) and kw == kw_matched


def test_screen_trains_the_wider_network_and_records_its_width() -> None:
    df = recipes.run_recipe_screen({"base": recipes.RECIPES["cosine-is"], "w2": recipes.RECIPES["cosine-is-w2"]},
                                   ["1v1-normal-0.75"], [0], kinds=("c",), n_train=300, n_test=200,
                                   budget="smoke", progress=False, max_steps=20)
    width = df.groupby("recipe")["hidden"].unique()
    assert list(width["base"]) == [64] and list(width["w2"]) == [128]
    est = df.set_index(["recipe", "variant"])["estimate"]
    assert est[("w2", "minde_c")] != est[("base", "minde_c")]


def test_j60_weights_the_roles_like_an_unweighted_loss() -> None:
    """With the loss weights w of docs/method.md §5 (1 on the joint role, 1 + d_y/D on a
    conditional one), a joint share of 0.6 gives the joint role half of the expected loss weight,
    as equal weights do at the default share of 0.5; the default gives it 40 %."""
    from minde.masks import MaskTable

    def joint_weight(probs) -> float:  # the joint role's share of the expected per-row loss weight
        table = MaskTable.for_kind("j", (3, 3), probs=probs)
        w = table.loss_dim.sum(-1) * table.probs  # w of each role (summed over its diffused dims) x its share
        return float(w[0] / w.sum())

    assert joint_weight(recipes.RECIPES["cosine-uniform-j60"].minde_kwargs(3, "j")["role_probs"]) == pytest.approx(0.5)
    assert joint_weight(None) == pytest.approx(0.4)


def test_cross_rows_cover_every_subset_of_the_seeds_models() -> None:
    """--cross: one row per subset of k >= 2 of the K models; the full set's row is the group's
    cross-model estimate, and the mean over the pairs equals it (each off-diagonal entry of the
    Gram matrix is in the same number of pairs)."""
    df = recipes.run_recipe_screen({"base": recipes.RECIPES["cosine-uniform"]}, ["1v1-normal-0.75"], [0, 1, 2],
                                   kinds=("j",), n_train=300, n_test=200, budget="smoke", progress=False,
                                   max_steps=40, cross=True)
    cross = df[df["variant"] == "minde_j_cross"]
    assert sorted(cross["subset"]) == ["0-1", "0-1-2", "0-2", "1-2"]
    assert set(df.loc[df["variant"] == "minde_j", "models"]) == {1}
    full = float(cross.loc[cross["models"] == 3, "estimate"].iloc[0])
    pairs = cross.loc[cross["models"] == 2, "estimate"]
    assert pairs.mean() == pytest.approx(full, rel=1e-9)
    assert pairs.nunique() == 3  # the pairs really differ
