"""Result rows of the MNIST consistency tests, saved and loaded as CSV (docs/method.md §11); pandas only."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from minde._io import atomic_write, csv_text, read_csv_exact

__all__ = ["RESULT_COLUMNS", "PROVENANCE_COLUMNS", "TEST_IDEALS", "save_consistency", "load_consistency"]

# docs/method.md §11: one row per (test, r, method, variant); ratio = estimate_numerator / estimate_denominator.
RESULT_COLUMNS = [
    "test", "r", "method", "variant", "estimate_numerator", "estimate_denominator", "ratio", "ideal",
    "seconds", "budget", "seed",
]
# the code revisions that computed a row's numerator and denominator
PROVENANCE_COLUMNS = ["git_rev", "git_rev_denominator"]
TEST_IDEALS = {"baseline": 1.0, "data_processing": 1.0, "additivity": 2.0}  # docs/method.md §11: ideal ratios
# the canonical row order of a result file (a resumed run appends rows in the order they finish)
ROW_ORDER = ["test", "method", "variant", "r", "seed"]


def save_consistency(df: pd.DataFrame, path: str | Path) -> Path:
    """docs/method.md §11: write the result rows (RESULT_COLUMNS and PROVENANCE_COLUMNS) to CSV
    (parent folders created), in ROW_ORDER and with exact floats; returns the path."""
    path = Path(path)
    columns = RESULT_COLUMNS + PROVENANCE_COLUMNS
    text = csv_text(df[columns], sort_by=ROW_ORDER, digits=None, index=False)  # data: floats exact
    return atomic_write(path, text)  # never half-written


def load_consistency(path: str | Path) -> pd.DataFrame:
    """docs/method.md §11: read result rows written by save_consistency, checking the columns.
    Floats are read exactly (a figure
    re-plotted from the file matches one plotted from the rows that were saved)."""
    df = read_csv_exact(path)
    missing = set(RESULT_COLUMNS + PROVENANCE_COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"{path} is not a consistency result file: missing columns {sorted(missing)}")
    return (df[RESULT_COLUMNS + PROVENANCE_COLUMNS].fillna({c: "" for c in PROVENANCE_COLUMNS})
            .astype({c: str for c in PROVENANCE_COLUMNS}))
