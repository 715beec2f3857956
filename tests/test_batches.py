"""Mini-batches in shuffled epochs (``batches="epochs"``) beside the default draw with replacement
(docs/method.md §7): each epoch visits every row once, the draws do not depend on the
generator's position (so resuming and seed groups are exact), and old records stay valid."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

import minde
from minde import training
from minde.checkpoint import save_state as _real_save
from minde.repro import results as res
from minde.repro import sweep
from minde.repro.units import Unit, recipe_mismatch
from minde.training import _epoch_rows

CPU = torch.device("cpu")


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_each_epoch_visits_every_row_at_most_once_and_drops_the_rest() -> None:
    n, batch = 103, 10  # 10 batches per epoch, 3 rows left out of each epoch
    rows = _epoch_rows(n, batch, 0, 35, _gen(7), CPU)
    assert rows.shape == (35, batch) and rows.dtype == torch.long
    epochs = [rows[e * 10:(e + 1) * 10].flatten() for e in range(3)]
    for e in epochs:
        assert len(set(e.tolist())) == 100 and int(e.min()) >= 0 and int(e.max()) < n
    assert not torch.equal(epochs[0], epochs[1]) and not torch.equal(epochs[1], epochs[2])
    assert len(set(rows[30:].flatten().tolist())) == 50  # the fourth epoch, begun
    assert not torch.equal(_epoch_rows(n, batch, 0, 10, _gen(8), CPU), rows[:10])  # another seed


def test_epoch_rows_depend_on_the_step_not_on_the_generator_position() -> None:
    g = _gen(3)
    whole = _epoch_rows(50, 8, 0, 40, g, CPU)
    torch.rand(1000, generator=g)  # the generator moves on (t, eps and masks are drawn from it)
    assert torch.equal(_epoch_rows(50, 8, 17, 23, g, CPU), whole[17:])
    restored = torch.Generator()
    restored.set_state(_gen(3).get_state())  # a checkpoint restores the state, seed included
    assert torch.equal(_epoch_rows(50, 8, 5, 10, restored, CPU), whole[5:15])


def _data(seed: int = 0) -> tuple[np.ndarray, ...]:
    z = np.random.default_rng(seed).multivariate_normal([0, 0], [[1, .75], [.75, 1]], size=700)
    return z[:600, :1], z[:600, 1:], z[600:, :1], z[600:, 1:]


class _Interrupt(Exception):
    pass


def test_epochs_resume_exactly_and_seed_groups_equal_separate_fits(tmp_path: Path, monkeypatch) -> None:
    x, y, xt, yt = _data()
    kw = dict(budget="smoke", steps=300, mc_iter=2, progress=False, batches="epochs")
    ref = minde.MINDE("c", n_seeds=2, **kw).fit(x, y).estimate(xt, yt)
    assert ref.settings["batches"] == "epochs"
    other = minde.MINDE("c", n_seeds=2, **{**kw, "batches": "replacement"}).fit(x, y).estimate(xt, yt)
    assert other.mi_per_seed != ref.mi_per_seed  # the mode changes the rows each step sees
    for k, seed in enumerate((0, 1)):
        alone = minde.MINDE("c", seed=seed, **kw).fit(x, y).estimate(xt, yt)
        assert alone.mi == pytest.approx(ref.mi_per_seed[k], rel=1e-4, abs=1e-6)

    saved = []

    def save(path, state, header):  # stop training right after the first checkpoint (step 256)
        _real_save(path, state, header)
        saved.append(path)
        raise _Interrupt

    monkeypatch.setattr(training, "save_state", save)
    path = tmp_path / "e.pt"
    with pytest.raises(_Interrupt):
        minde.MINDE("c", n_seeds=2, checkpoint=path, checkpoint_every=1, **kw).fit(x, y)
    monkeypatch.setattr(training, "save_state", _real_save)
    got = minde.MINDE("c", n_seeds=2, checkpoint=path, checkpoint_every=1, **kw).fit(x, y).estimate(xt, yt)
    assert saved and got.resumed_from_step == 256
    assert got.mi_per_seed == ref.mi_per_seed and got.entropies == ref.entropies


def test_unknown_batch_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="batches must be one of replacement, epochs, got 'shuffle'"):
        minde.MINDE("c", batches="shuffle")


def test_records_name_how_rows_were_drawn_and_others_are_outdated(tmp_path: Path, monkeypatch) -> None:
    """A record states ``batches`` in its settings; a record without it (a format older than the
    committed results) is outdated, and so is one trained in epochs, since no budget uses them."""
    monkeypatch.setenv("MINDE_CACHE_DIR", str(tmp_path / "cache"))
    task = "1v1-normal-0.75"
    argv = ["--experiment", "b", "--budget", "smoke", "--tasks", task, "--methods", "minde_c",
            "--seeds", "0", "--n-train", "500", "--out", str(tmp_path), "--no-progress"]
    assert sweep.main(argv) == 0
    (rec,) = res.load_units("b", "smoke", tmp_path).values()
    unit = Unit(task, "minde_c", 500, rec.n_test, 0, "smoke", rec.truth)
    assert rec.extra["settings"]["batches"] == "replacement" and recipe_mismatch(unit, rec) is None
    old = {k: v for k, v in rec.extra["settings"].items() if k != "batches"}
    why = recipe_mismatch(unit, dataclasses.replace(rec, extra={**rec.extra, "settings": old}))
    assert why == "batches None (now 'replacement')"
    epochs = {**old, "batches": "epochs"}
    why = recipe_mismatch(unit, dataclasses.replace(rec, extra={**rec.extra, "settings": epochs}))
    assert why == "batches 'epochs' (now 'replacement')"
