"""Input validation and standardisation for user arrays (numpy, torch, pandas, lists)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["as_2d_array", "check_pair", "Standardiser", "MIN_ROWS", "split_sizes", "train_test_split",
           "check_not_constant"]

MIN_ROWS = 16  # fewer rows than this cannot train or estimate anything meaningful


def as_2d_array(a: Any, name: str) -> np.ndarray:
    """Convert to a float32 (n, d) array; 1-D becomes (n, 1). Raises ValueError naming ``name``."""
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # torch tensor
        a = a.detach().cpu().numpy()
    elif hasattr(a, "to_numpy"):  # pandas
        a = a.to_numpy()
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric; could not convert it to floats ({exc})") from exc
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D (n, d), got an array with shape {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no columns (shape {arr.shape})")
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValueError(f"{name} contains NaN or inf in {rows.size} row(s), e.g. rows "
                         f"{rows[:5].tolist()}; remove or impute them first")
    return arr.astype(np.float32)


def check_pair(x: Any, y: Any, min_rows: int = MIN_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """Validate a pair of samples: same rows, at least ``min_rows``, finite, 2-D."""
    xa, ya = as_2d_array(x, "x"), as_2d_array(y, "y")
    if xa.shape[0] != ya.shape[0]:
        raise ValueError(f"x and y must have the same number of rows, got {xa.shape[0]} and {ya.shape[0]}")
    if xa.shape[0] < min_rows:
        raise ValueError(f"need at least {min_rows} rows, got {xa.shape[0]}")
    return xa, ya


def check_not_constant(name: str, mean: np.ndarray, scale: np.ndarray) -> None:
    """The one standardisation policy: a zero-variance column is an error naming the column.

    ``mean`` and ``scale`` are the per-column mean and standard deviation of ``name``.
    """
    const = np.flatnonzero(np.asarray(scale) <= 1e-12 * np.maximum(1.0, np.abs(np.asarray(mean))))
    if const.size:
        raise ValueError(f"{name} has zero-variance column(s) {const.tolist()}: a constant "
                         f"column carries no information and cannot be standardised")


def split_sizes(n_rows: int, test_size: float) -> tuple[int, int]:
    """(n_train, n_test) for a random split holding out ``test_size`` of ``n_rows`` rows.

    Raises ValueError when ``test_size`` is not in (0, 1) or the training part would have fewer
    than ``MIN_ROWS`` rows (the message says how many rows are needed).
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be between 0 and 1 (exclusive), got {test_size!r}")
    n_test = max(2, int(round(n_rows * test_size)))
    if n_rows - n_test < MIN_ROWS:
        need = math.ceil((MIN_ROWS + 2) / (1 - test_size))
        raise ValueError(f"too few rows: {n_rows}; with test_size={test_size} the training part "
                         f"would have {n_rows - n_test} rows (minimum {MIN_ROWS}); provide at "
                         f"least ~{need} rows")
    return n_rows - n_test, n_test


def train_test_split(x: np.ndarray, y: np.ndarray, test_size: float, seed: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seeded random split of paired rows: (x_train, y_train, x_test, y_test)."""
    _, n_test = split_sizes(x.shape[0], test_size)
    perm = np.random.default_rng(seed).permutation(x.shape[0])
    test, train = perm[:n_test], perm[n_test:]
    return x[train], y[train], x[test], y[test]


@dataclass(frozen=True)
class Standardiser:
    """Per-dimension standardisation with training statistics (docs/method.md §7)."""

    mean: np.ndarray  # (d,)
    scale: np.ndarray  # (d,) standard deviations

    @staticmethod
    def fit(a: np.ndarray, name: str) -> "Standardiser":
        """Statistics of a (n, d) array; zero-variance columns are an error."""
        mean = a.mean(axis=0, dtype=np.float64)
        scale = a.std(axis=0, dtype=np.float64)
        check_not_constant(name, mean, scale)
        return Standardiser(mean, scale)

    def __call__(self, a: np.ndarray) -> np.ndarray:
        """Standardised float32 copy of a (n, d) array."""
        return ((a - self.mean) / self.scale).astype(np.float32)

    @property
    def log_det(self) -> float:
        """sum log(scale): entropy of the original data = entropy of standardised + this."""
        return float(np.log(self.scale).sum())
