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
