"""Crop operator and per-crop MNIST autoencoders with a checksummed disk cache (docs/method.md §11)."""
from __future__ import annotations

import dataclasses
import io
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from minde._io import atomic_write, cache_root, sha256_hex

__all__ = [
    "IMAGE_SIDE",
    "AutoencoderConfig",
    "Autoencoder",
    "crop_top_rows",
    "train_autoencoder",
    "save_autoencoder",
    "load_autoencoder",
    "cached_autoencoder",
    "encode",
]

IMAGE_SIDE = 28  # docs/method.md §11: MNIST images are 28 x 28
_FORMAT = "minde-ae-v1"  # first line of a checkpoint file: format tag, then the payload's SHA-256


def crop_top_rows(images: np.ndarray, r: int) -> np.ndarray:
    """docs/method.md §11: the crop B_r, keeping rows 0..r-1 of each image and zeroing rows >= r.

    Args:
        images: (N, 28, 28) or (N, 784) array (any dtype); not modified.
        r: number of top rows kept, 0 <= r <= 28 (r = 0 gives all zeros, r = 28 the image).

    Returns:
        A new array with the input's shape and dtype.
    """
    if not 0 <= r <= IMAGE_SIDE:
        raise ValueError(f"r must be in [0, {IMAGE_SIDE}], got {r}")
    flat = images.ndim == 2
    if images.shape[-2:] != (IMAGE_SIDE, IMAGE_SIDE) and not (flat and images.shape[1] == IMAGE_SIDE**2):
        raise ValueError(f"images must be (N, 28, 28) or (N, 784), got {images.shape}")
    out = images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE).copy()
    out[:, r:, :] = 0
    return out.reshape(images.shape)


@dataclass(frozen=True)
class AutoencoderConfig:
    """docs/method.md §11: architecture and training recipe of one crop-level autoencoder."""

    hidden: int = 400  # width of the single hidden layer of encoder and decoder
    latent: int = 16  # latent dimension (A and B_r live here)
    epochs: int = 100  # passes over the training images
    batch_size: int = 64  # mini-batch size
    lr: float = 1e-3  # Adam learning rate, no schedule


class Autoencoder(nn.Module):
    """docs/method.md §11: MLP autoencoder 784 -> 400 -> latent (ReLU) and latent -> 400 -> 784 (sigmoid)."""

    def __init__(self, hidden: int = 400, latent: int = 16) -> None:
        super().__init__()
        d = IMAGE_SIDE**2
        self.encoder = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, d), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of x: (n, 784) in [0, 1] -> (n, 784) in [0, 1]."""
        return self.decoder(self.encoder(x))


def _to_unit_float(images: np.ndarray) -> torch.Tensor:
    """docs/method.md §11: uint8 (N, 28, 28) or (N, 784) pixels -> float32 tensor (N, 784) in [0, 1]."""
    arr = np.asarray(images)
    x = torch.from_numpy(np.array(arr.reshape(len(arr), -1), dtype=np.float32))  # a writable copy
    return x / 255.0 if arr.dtype == np.uint8 else x


def train_autoencoder(
    images: np.ndarray, config: AutoencoderConfig, seed: int = 0, progress: bool = True, desc: str = "AE"
) -> tuple[Autoencoder, list[float]]:
    """docs/method.md §11: train one autoencoder with MSE and Adam on (already cropped) images.

    Args:
        images: (N, 28, 28) uint8 (scaled to [0, 1]) or float in [0, 1].
        config: architecture and recipe; seed drives initialisation and batch order.
        progress: show a tqdm bar over epochs.

    Returns:
        The trained model in eval mode, and the mean training MSE (per pixel) of each epoch.
    """
    from tqdm import tqdm

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = Autoencoder(config.hidden, config.latent)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    x = _to_unit_float(images)
    losses: list[float] = []
    bar = tqdm(range(config.epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        total = 0.0
        for idx in torch.randperm(len(x), generator=gen).split(config.batch_size):
            loss = nn.functional.mse_loss(model(x[idx]), x[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / len(x))
        bar.set_postfix(mse=f"{losses[-1]:.4f}")
    return model.eval(), losses


def save_autoencoder(path: Path, model: Autoencoder, meta: dict) -> None:
    """docs/method.md §11: write a checkpoint atomically (``minde._io.atomic_write``) with a SHA-256 header."""
    buffer = io.BytesIO()
    torch.save({"state_dict": model.state_dict(), "meta_json": json.dumps(meta, sort_keys=True)}, buffer)
    payload = buffer.getvalue()
    header = f"{_FORMAT} {sha256_hex(payload)}\n".encode()
    atomic_write(path, header + payload)


def load_autoencoder(path: Path) -> tuple[Autoencoder, dict]:
    """docs/method.md §11: read a checkpoint, verifying its SHA-256; raises ValueError naming the path if corrupt."""
    blob = Path(path).read_bytes()
    head, sep, payload = blob.partition(b"\n")
    parts = head.decode("ascii", errors="replace").split(" ")
    if not sep or len(parts) != 2 or parts[0] != _FORMAT:
        raise ValueError(f"autoencoder checkpoint {path} has no valid '{_FORMAT}' header")
    if sha256_hex(payload) != parts[1]:
        raise ValueError(f"autoencoder checkpoint {path} fails its SHA-256 check (corrupted or truncated)")
    state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    meta = json.loads(state["meta_json"])
    model = Autoencoder(meta["config"]["hidden"], meta["config"]["latent"])
    model.load_state_dict(state["state_dict"])
    return model.eval(), meta


def cached_autoencoder(
    images: np.ndarray,
    r: int,
    config: AutoencoderConfig,
    budget: str,
    seed: int = 0,
    cache_dir: Path | None = None,
    progress: bool = True,
) -> tuple[Autoencoder, dict]:
    """docs/method.md §11: the autoencoder of crop level r, loaded from cache or trained on B_r and cached.

    The file is ``<cache_dir>/ae_r{r:02d}_{budget}_seed{seed}.pt``. A checkpoint that is corrupt,
    or whose config or number of training images differ, triggers a warning naming the path and
    a retrain; it is never silently used.

    Args:
        images: (N, 28, 28) uint8 *uncropped* training images; the crop B_r is applied here.

    Returns:
        The model (eval mode) and its metadata (r, budget, seed, config, n_train, seconds, losses).
    """
    path = Path(cache_dir or cache_root() / "autoencoders") / f"ae_r{r:02d}_{budget}_seed{seed}.pt"
    expected = {"r": r, "budget": budget, "seed": seed, "config": dataclasses.asdict(config), "n_train": len(images)}
    if path.exists():
        try:
            model, meta = load_autoencoder(path)
            if all(meta.get(k) == v for k, v in expected.items()):
                return model, meta
            warnings.warn(f"autoencoder cache {path} was made with other settings; retraining", stacklevel=2)
        except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is retrained, never used
            warnings.warn(f"corrupted autoencoder cache {path} ({exc}); retraining", stacklevel=2)
    start = time.perf_counter()
    model, losses = train_autoencoder(crop_top_rows(images, r), config, seed, progress, desc=f"AE r={r}")
    meta = {**expected, "seconds": time.perf_counter() - start, "losses": losses}
    save_autoencoder(path, model, meta)
    return model, meta


@torch.no_grad()
def encode(model: Autoencoder, images: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """docs/method.md §11: latent codes of (already cropped) images: (N, 28, 28) uint8 -> (N, latent) float32."""
    x = _to_unit_float(images)
    return torch.cat([model.encoder(chunk) for chunk in x.split(batch_size)]).numpy()
