"""Shared fixtures: one torch thread, exact-covariance Gaussian samples, and a hermetic session:
task samples are cached in a temporary folder, never in the checkout's data/cache."""
from __future__ import annotations

import os
import signal
import uuid
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
# Training runs eagerly in the tests unless a test asks for torch.compile (tests/test_compiled.py);
# compiled kernels are cached by content in data/cache/inductor (git-ignored), across sessions.
os.environ.setdefault("MINDE_COMPILE", "0")
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(REPO / "data" / "cache" / "inductor"))


TAG = "MINDE_TEST_SESSION"  # set in the environment of every process this test session starts


@pytest.fixture(autouse=True, scope="session")
def _session_sample_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Task samples and autoencoders of this session go to a temporary folder (shared by its tests);
    every process the session starts carries a tag, and any still alive at its end is ended."""
    saved = {k: os.environ.get(k) for k in ("MINDE_CACHE_DIR", TAG)}
    os.environ["MINDE_CACHE_DIR"] = str(tmp_path_factory.mktemp("minde-cache"))
    os.environ[TAG] = tag = uuid.uuid4().hex
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    end_tagged_processes(tag)


def end_tagged_processes(tag: str) -> list[int]:
    """SIGKILL every process whose environment holds this session's tag (a worker pool or kernel
    orphaned by a test that killed its parent); returns their ids. Needs /proc (Linux)."""
    ended, marker = [], f"{TAG}={tag}".encode()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
                ended.append(int(entry.name))
        except (OSError, ValueError):  # gone, not ours to read, or not a process folder
            continue
    return ended


@pytest.fixture
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary project root ($MINDE_HOME) holding only the inputs (MNIST), so that notebooks
    recompute their results and write figures there, never into the checkout."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mnist").symlink_to(REPO / "data" / "mnist")
    monkeypatch.setenv("MINDE_HOME", str(tmp_path))
    return tmp_path
