"""Shared fixtures: one torch thread, exact-covariance Gaussian samples, and a hermetic session:
task samples are cached in a temporary folder, never in the checkout's data/cache."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from minde.bench.gaussian import exact_gaussian_sample

os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(1)


@pytest.fixture
def gaussian_sample():
    """Factory fixture for exact-covariance Gaussian samples."""
    return exact_gaussian_sample


REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _session_sample_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Task samples and autoencoders of this session go to a temporary folder (shared by its tests)."""
    previous = os.environ.get("MINDE_CACHE_DIR")
    os.environ["MINDE_CACHE_DIR"] = str(tmp_path_factory.mktemp("minde-cache"))
    yield
    if previous is None:
        os.environ.pop("MINDE_CACHE_DIR", None)
    else:
        os.environ["MINDE_CACHE_DIR"] = previous


@pytest.fixture
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary project root ($MINDE_HOME) holding only the inputs (MNIST), so that notebooks
    recompute their results and write figures there, never into the checkout."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mnist").symlink_to(REPO / "data" / "mnist")
    monkeypatch.setenv("MINDE_HOME", str(tmp_path))
    return tmp_path
