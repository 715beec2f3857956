"""The recipe study's command line resumes exactly what its notebook computes."""
from __future__ import annotations

from pathlib import Path

import pytest

from minde.repro import recipes
from minde.repro.experiments import get_plan


def _capture(monkeypatch) -> dict:
    seen: dict = {}

    def fake_screen(recs, tasks, seeds, kinds, n_train, out):
        seen.update(recipes=list(recs), tasks=list(tasks), seeds=list(seeds), kinds=list(kinds),
                    n_train=n_train, out=out)

    monkeypatch.setattr(recipes, "run_recipe_screen", fake_screen)
    return seen


def test_cli_defaults_are_the_notebooks_quick_plan(monkeypatch, tmp_path: Path) -> None:
    seen = _capture(monkeypatch)
    assert recipes.main(["--out", str(tmp_path / "r.csv")]) == 0
    plan = get_plan("ablation_training_recipe", "quick")
    assert seen["recipes"] == list(plan.options["recipes"])
    assert seen["tasks"] == list(plan.tasks)
    assert seen["seeds"] == list(plan.seeds)
    # RECIPES holds more candidates than the notebook runs; the default must not add them
    assert set(recipes.RECIPES) - set(seen["recipes"])


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
