"""Training checkpoints: a run's full state on disk, resumed bit-exactly (docs/method.md §7).

A checkpoint file is three parts: a format line, one line of JSON (what ``minde sweep
--status`` reads without loading torch: step, total steps, last loss, time saved, and the
SHA-256 and length of the payload) and a ``torch.save`` payload holding the state (parameters,
EMA, Adam's state, generator states, losses) with a *fingerprint* of what produced it: the code
(git revision and a digest of the package's sources), the settings, the data, the initial weights
and generator states. A file that is truncated, corrupt, or carries another fingerprint is
reported (``CheckpointWarning``, naming the path and the reason) and ignored: training starts
from step 0 and overwrites it. Files are written with ``minde._io.atomic_write`` only.
"""
from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ._io import atomic_write, sha256_hex, source_revision

__all__ = ["Checkpoint", "CheckpointWarning", "DEFAULT_SECONDS", "FORMAT", "code_digest", "fingerprint",
           "load_state", "read_header", "save_state"]

FORMAT = 1  # layout of the state; part of the fingerprint
MAGIC = b"MINDE-CHECKPOINT 1\n"
DEFAULT_SECONDS = 600.0  # default time between checkpoints


class CheckpointWarning(UserWarning):
    """A checkpoint was ignored (corrupt, truncated, other settings or code) or could not be saved."""


@dataclass(frozen=True)
class Checkpoint:
    """Where a training run keeps its checkpoint and how often it saves it.

    A checkpoint is written at the first chunk boundary (at most 256 steps apart, see
    ``minde.training._chunk_size``) after ``every_steps`` steps or ``every_seconds`` seconds since
    the last one, whichever comes first; None turns a criterion off. ``meta``: further entries of
    the fingerprint (e.g. the caller's name and options).
    """

    path: Path
    every_steps: int | None = None
    every_seconds: float | None = DEFAULT_SECONDS
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        s, t = self.every_steps, self.every_seconds
        if s is not None and (isinstance(s, bool) or not isinstance(s, int) or s < 1):
            raise ValueError(f"checkpoint_every must be a positive number of steps or None, got {s!r}")
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float))
                              or not math.isfinite(t) or t <= 0):
            raise ValueError(f"checkpoint_seconds must be a positive number or None, got {t!r}")


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 over the package's Python sources (relative path and content of each file)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def fingerprint(**items: Any) -> dict[str, Any]:
    """The fingerprint of a run: format, code revision and digest, then ``items`` (JSON-normalised)."""
    body = {"format": FORMAT, "revision": source_revision(), "code": code_digest(), **items}
    return json.loads(json.dumps(body, sort_keys=True, default=str))


def save_state(path: str | Path, state: dict[str, Any], header: dict[str, Any]) -> int:
    """Write ``state`` (with ``header`` in the JSON line) atomically; returns the file's size in bytes."""
    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getvalue()
    head = json.dumps({**header, "sha256": sha256_hex(payload), "bytes": len(payload)}, sort_keys=True)
    blob = MAGIC + head.encode() + b"\n" + payload
    atomic_write(path, blob)
    return len(blob)


def read_header(path: str | Path) -> dict[str, Any]:
    """The JSON line of a checkpoint file (no payload check); ValueError if it is not one."""
    with open(path, "rb") as fh:
        if fh.read(len(MAGIC)) != MAGIC:
            raise ValueError("not a MINDE checkpoint (bad first line)")
        line = fh.readline(1 << 20)
    if not line.endswith(b"\n"):
        raise ValueError("truncated header")
    return json.loads(line)


def _ignore(path: Path, reason: str) -> None:
    warnings.warn(f"ignoring checkpoint {path}: {reason}; training starts from step 0",
                  CheckpointWarning, stacklevel=3)


def load_state(path: str | Path, expected: dict[str, Any]) -> dict[str, Any] | None:
    """The state saved at ``path`` if it is intact and has fingerprint ``expected``, else None.

    A missing file is a fresh start (no warning); anything else that cannot be trusted gives a
    ``CheckpointWarning`` naming the path and the reason. Tensors are loaded onto the CPU.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        data = path.read_bytes()
        if not data.startswith(MAGIC):
            raise ValueError("not a MINDE checkpoint (bad first line)")
        end = data.find(b"\n", len(MAGIC))
        if end < 0:
            raise ValueError("truncated header")
        head = json.loads(data[len(MAGIC):end])
        payload = data[end + 1:]
        if len(payload) != head["bytes"]:
            raise ValueError(f"truncated or padded file ({len(payload)} of {head['bytes']} payload bytes)")
        if sha256_hex(payload) != head["sha256"]:
            raise ValueError("checksum mismatch (corrupt file)")
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
        stored = json.loads(state["fingerprint"])
    except Exception as exc:  # an untrusted file: whatever fails to parse, it is not used
        _ignore(path, f"{type(exc).__name__}: {exc}")
        return None
    if stored != expected:
        keys = sorted(k for k in set(stored) | set(expected) if stored.get(k) != expected.get(k))
        _ignore(path, f"it was made by other code, settings or data ({', '.join(keys)} differ)")
        return None
    return state
