"""The store of notebook tables: part-by-part saving, resume, staleness and provenance."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from minde.repro import store
from minde.repro.store import budget_fingerprint

PARTS = [{"task": t} for t in ("a", "b", "c")]


class Counter:
    """A toy computation: one row per part, counting its calls; ``fail_on`` raises there."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[str] = []
        self.fail_on = fail_on

    def __call__(self, part: dict) -> pd.DataFrame:
        if part["task"] == self.fail_on:
            raise KeyboardInterrupt  # an interrupted run
        self.calls.append(part["task"])
        return pd.DataFrame([{"task": part["task"], "estimate": 0.1 * len(self.calls)}])


def _table(tmp_path, compute, params=None, **kw) -> pd.DataFrame:
    return store.load_or_compute("x", "smoke", compute, params or {"k": 1}, root=tmp_path, parts=PARTS,
                                 progress=False, **kw)


def test_parts_are_saved_as_they_finish_and_an_interrupted_run_resumes(tmp_path) -> None:
    with pytest.raises(KeyboardInterrupt):
        _table(tmp_path, Counter(fail_on="b"))
    path = tmp_path / "x" / "smoke" / "results.csv"
    assert pd.read_csv(path)["task"].tolist() == ["a"]  # the finished part survived
    again = Counter()
    df = _table(tmp_path, again)
    assert again.calls == ["b", "c"]  # only what was missing
    assert df["task"].tolist() == ["a", "b", "c"]
    third = Counter()
    assert _table(tmp_path, third).equals(df) and third.calls == []  # complete: read back, nothing computed


def test_other_settings_make_the_table_stale(tmp_path) -> None:
    _table(tmp_path, Counter())
    redo = Counter()
    df = _table(tmp_path, redo, params={"k": 2})
    assert redo.calls == ["a", "b", "c"] and len(df) == 3  # recomputed, old rows dropped
    meta = json.loads((tmp_path / "x" / "smoke" / "meta.json").read_text())
    assert meta["params"] == {"k": 2, "budget_settings": budget_fingerprint("smoke")}
    assert store.stored_params(tmp_path / "x" / "smoke" / "results.csv") == meta["params"]


def test_rows_carry_the_revision_that_computed_them(tmp_path, monkeypatch) -> None:
    """A table computed in one go before rows were stamped takes meta.json's revision when resumed."""
    import minde.repro.provenance as prov

    folder = tmp_path / "x" / "smoke"
    folder.mkdir(parents=True)
    pd.DataFrame([{"task": "a", "estimate": 0.5}]).to_csv(folder / "results.csv", index=False)
    key = {"k": 1, "budget_settings": budget_fingerprint("smoke")}
    (folder / "meta.json").write_text(json.dumps({"git_rev": "old", "params": key}))
    monkeypatch.setattr(prov, "source_revision", lambda: "new")
    df = _table(tmp_path, Counter())
    assert df.set_index("task")["git_rev"].to_dict() == {"a": "old", "b": "new", "c": "new"}


def test_finished_only_computes_nothing_and_whole_tables_are_one_part(tmp_path) -> None:
    assert _table(tmp_path, Counter(), finished_only=True).empty
    calls = []

    def whole() -> pd.DataFrame:
        calls.append(1)
        return pd.DataFrame({"v": [1, 2]})

    first = store.load_or_compute("w", "smoke", whole, {}, root=tmp_path, recipe=False)
    second = store.load_or_compute("w", "smoke", whole, {}, root=tmp_path, recipe=False)
    assert calls == [1] and second["v"].tolist() == first["v"].tolist() == [1, 2]
    store.load_or_compute("w", "smoke", whole, {}, root=tmp_path, recipe=False, recompute=True)
    assert calls == [1, 1]
    assert store.meta_path(tmp_path / "s.csv").name == "s.meta.json"
