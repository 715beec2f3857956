"""Shared fixtures: one torch thread, exact-covariance Gaussian samples."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(1)


def exact_gaussian_sample(cov: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n zero-mean rows whose empirical covariance (1/n) equals ``cov`` exactly."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, cov.shape[0]))
    z -= z.mean(0)
    chol_emp = np.linalg.cholesky(z.T @ z / n)
    z = z @ np.linalg.inv(chol_emp).T
    return z @ np.linalg.cholesky(cov).T


@pytest.fixture
def gaussian_sample():
    """Factory fixture for exact-covariance Gaussian samples."""
    return exact_gaussian_sample
