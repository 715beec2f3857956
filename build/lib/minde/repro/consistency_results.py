"""Result rows of the MNIST consistency tests, saved and loaded as CSV (docs/method.md §11); pandas only."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from minde._io import atomic_write

__all__ = ["RESULT_COLUMNS", "TEST_IDEALS", "save_consistency", "load_consistency"]

# docs/method.md §11: one row per (test, r, method, variant); ratio = estimate_numerator / estimate_denominator.
RESULT_COLUMNS = [
    "test", "r", "method", "variant", "estimate_numerator", "estimate_denominator", "ratio", "ideal",
    "seconds", "budget", "seed",
]
TEST_IDEALS = {"baseline": 1.0, "data_processing": 1.0, "additivity": 2.0}  # docs/method.md §11: ideal ratios


def save_consistency(df: pd.DataFrame, path: str | Path) -> Path:
    """docs/method.md §11: write the result rows to CSV (parent folders created); returns the path."""
    path = Path(path)
    return atomic_write(path, df[RESULT_COLUMNS].to_csv(index=False))  # never half-written


def load_consistency(path: str | Path) -> pd.DataFrame:
    """docs/method.md §11: read result rows written by save_consistency, checking the columns."""
    df = pd.read_csv(path)
    missing = set(RESULT_COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"{path} is not a consistency result file: missing columns {sorted(missing)}")
    return df[RESULT_COLUMNS]
