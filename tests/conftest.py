"""Shared fixtures: one torch thread, exact-covariance Gaussian samples."""
from __future__ import annotations

import os

import pytest
import torch

from minde.bench.gaussian import exact_gaussian_sample

os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(1)


@pytest.fixture
def gaussian_sample():
    """Factory fixture for exact-covariance Gaussian samples."""
    return exact_gaussian_sample
