"""The store of notebook tables: computed in parts, each saved as it finishes, resumed, recomputed when stale.

A notebook's table is ``<root>/<stem>/<budget>/results.csv`` with ``meta.json`` beside it (another
CSV path, e.g. a side study of the recipe command, keeps its settings in ``<name>.meta.json``).
The same two rules as the sweeps' unit records (``minde.repro.results``) hold for every table:

- **Staleness.** ``meta.json`` holds the settings the rows were computed with (``params``: the
  notebook's knobs and, unless the computation sets every training knob itself, the budget's
  settings, ``budget_fingerprint``). Rows made under other settings are stale and recomputed.
- **Resume.** A table is computed in *parts* (one per task, say), each given as the column values
  that pick its rows. A part's rows are written the moment it finishes, each stamped with the code
  revision that computed it (``git_rev``), so an interrupted run loses at most the part in flight
  and a rerun computes only the parts that have no rows.

Pandas only: no torch.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from minde._io import atomic_write, csv_text, read_csv_exact

__all__ = ["Part", "budget_fingerprint", "meta_path", "stored_params", "load_or_compute"]

Part = Mapping[str, Any]  # the column values that pick one part's rows, e.g. {"task": "1v1-normal-0.75"}


def budget_fingerprint(budget: str) -> dict[str, Any]:
    """The budget's settings as JSON values (its training recipe included): cached results made
    under other settings of the same budget name are stale.

    The cap on steps per training row is left out: it binds only below 5 000 (MINDE-C) or 2 000
    (MINDE-J) training rows at the quick budget, fewer than any notebook cache trains on, and the
    sweeps' records are checked against the steps it resolves to (``units.recipe_mismatch``).
    """
    from dataclasses import asdict

    from minde.config import get_budget

    fields = {k: v for k, v in asdict(get_budget(budget)).items() if k != "max_steps_per_row"}
    return json.loads(json.dumps(fields, default=str))


def meta_path(path: str | os.PathLike) -> Path:
    """The settings file of table ``path``: ``meta.json`` beside a ``results.csv``, else ``<name>.meta.json``."""
    path = Path(path)
    return path.with_name("meta.json" if path.name == "results.csv" else f"{path.stem}.meta.json")


def stored_params(path: str | os.PathLike) -> dict[str, Any] | None:
    """The settings table ``path`` was computed with (None: no or unreadable settings file)."""
    try:
        params = json.loads(meta_path(path).read_text(encoding="utf-8")).get("params")
    except (OSError, ValueError, AttributeError):
        return None
    return params if isinstance(params, dict) else None


def _has_rows(df: pd.DataFrame, part: Part) -> bool:
    """Does ``df`` hold rows of ``part`` (every one of its columns equal)?"""
    if df.empty or any(c not in df for c in part):
        return False
    keep = pd.Series(True, index=df.index)
    for column, value in part.items():
        keep &= df[column].astype(str) == str(value)
    return bool(keep.any())


def _write(path: Path, df: pd.DataFrame, params: dict[str, Any], experiment: str, budget: str) -> None:
    """Save the rows, then the settings they were computed with and their provenance."""
    from minde.repro.results import write_meta

    atomic_write(path, csv_text(df, digits=None, index=False))  # floats exact, LF line ends
    write_meta(experiment, budget, path=meta_path(path), params=params)


def load_or_compute(experiment: str, budget: str, compute: Callable[..., pd.DataFrame],
                    params: dict[str, Any], recompute: bool = False,
                    root: str | os.PathLike | None = None, recipe: bool = True,
                    parts: Sequence[Part] | None = None, path: str | os.PathLike | None = None,
                    finished_only: bool = False, progress: bool = True) -> pd.DataFrame:
    """The rows of notebook table ``experiment`` at ``budget``: read where stored under the same
    settings, computed (and saved part by part) where not.

    Args:
        compute: ``compute()`` gives the whole table when ``parts`` is None; else ``compute(part)``
            gives the rows of one part.
        params: the settings that decide the rows (JSON values). With ``recipe`` the budget's
            settings are added (False for computations that set every training knob themselves).
        recompute: drop the stored rows and compute every part afresh.
        parts: the parts, in the order they are computed; each is the column values of its rows.
        path: the CSV (default ``<root>/<experiment>/<budget>/results.csv``).
        finished_only: compute nothing; return the rows stored under these settings.
        progress: a progress bar over the parts that are computed.
    """
    from tqdm import tqdm

    from minde.repro.provenance import source_revision
    from minde.repro.results import unit_dir

    path = Path(path) if path is not None else unit_dir(experiment, budget, root) / "results.csv"
    key = json.loads(json.dumps(params, default=str))
    if recipe:
        key["budget_settings"] = budget_fingerprint(budget)
    df = pd.DataFrame()
    if path.exists() and not recompute:
        if stored_params(path) == key:
            df = read_csv_exact(path)
        else:
            print(f"stored results {path} were made with other settings" + ("" if finished_only else ": recomputing"))
        if parts is not None and any(c not in df for p in parts for c in p) and not df.empty:
            print(f"stored results {path} lack the columns of their parts" + ("" if finished_only else ": recomputing"))
            df = pd.DataFrame()
    if parts is None:
        todo = [] if not df.empty else [None]
    else:
        todo = [p for p in parts if not _has_rows(df, p)]
    if not todo or finished_only:
        if not df.empty:
            print(f"loaded stored results {path}")
        return df
    if not df.empty and "git_rev" not in df:  # rows of a table computed in one go: meta.json's revision
        df["git_rev"] = json.loads(meta_path(path).read_text(encoding="utf-8")).get("git_rev", "")
    rev = source_revision()
    for part in tqdm(todo, desc=experiment, disable=not progress or len(todo) < 2):
        new = compute() if part is None else compute(part)
        if "git_rev" not in new:
            new = new.assign(git_rev=rev)
        df = new if df.empty else pd.concat([df, new], ignore_index=True)
        _write(path, df, key, experiment, budget)
    return df
