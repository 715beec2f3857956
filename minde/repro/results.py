"""Results store for sweeps (docs/method.md §8, §12): one checksummed JSON record per unit.

Layout: ``<root>/<experiment>/<budget>/units/<task>__<method>__n<n_train>__s<seed>.json``,
aggregated into ``<root>/<experiment>/<budget>/results.csv`` (tidy: one row per variant) and
``meta.json``. A unit is keyed by (task, method, n_train, seed); a MINDE unit of kind c gives
two variant rows (``minde_c``, ``minde_c_sigma``), likewise kind j. This module imports neither
torch, jax nor bmi, so results load anywhere.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata as _md
import json
import math
import os
import platform
import re
import socket
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from minde._io import atomic_write, csv_text, results_root, source_revision

__all__ = ["UnitRecord", "UnitKey", "results_root", "method_variants", "is_joint_variant", "ANSWER_VARIANTS",
           "shown_variant", "unit_dir", "unit_path",
           "write_unit", "load_unit", "load_units", "aggregate", "tidy_csv", "write_meta", "environment",
           "atomic_write_text", "CorruptRecordWarning", "TIDY_COLUMNS", "machine_info", "environment_fingerprint",
           "cpu_description", "checkpoint_dir",
           "checkpoint_path"]

SCHEMA = 1
PACKAGES = ("minde-repro", "torch", "numpy", "pandas", "jax", "jaxlib", "benchmark-mi", "dask",
            "distributed")
TIDY_COLUMNS = ["experiment", "budget", "task", "method", "variant", "n_train", "n_test", "seed",
                "estimate", "truth", "abs_error", "seconds", "status", "error", "timestamp",
                "git_rev"]
TIDY_ORDER = ["task", "method", "variant", "n_train", "seed"]  # row order of results.csv: one row each
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")

UnitKey = tuple[str, str, int, int]  # (task, method, n_train, seed)


class CorruptRecordWarning(UserWarning):
    """A unit record that is truncated, garbled or fails its checksum (docs/method.md §12: recompute it)."""


def is_joint_variant(variant: str) -> bool:
    """Is ``variant`` a seed group's joint evaluation (``*_cross``, ``*_loss``; docs/method.md §17)
    rather than an estimate of one seed?"""
    return variant.endswith(("_cross", "_loss"))


# the joint variants that are the repository's answer (minde.api.DEBIASED_KINDS with
# minde.api.ANSWER_MODELS = 2 models): drawn in the paper's figures beside the paper's estimators,
# labelled beyond the paper, wherever the records have them (docs/method.md §17)
ANSWER_VARIANTS = ("minde_j_pair_cross",)


def shown_variant(variant: str, joint: bool) -> bool:
    """Does a figure show ``variant``? Every variant when it reads the joint evaluations
    (``joint``, the debiasing study), otherwise the per-seed ones and ``ANSWER_VARIANTS``."""
    return joint or not is_joint_variant(variant) or variant in ANSWER_VARIANTS


def method_variants(method: str) -> list[str]:
    """Variant rows a method's unit yields (docs/method.md §3): minde_c -> [minde_c, minde_c_sigma]."""
    return [method, f"{method}_sigma"] if method in ("minde_c", "minde_j") else [method]


@dataclass
class UnitRecord:
    """Outcome of one unit (task, method, n_train, seed): estimates in nats per variant."""

    task: str  # task id (minde.bench.tasks)
    method: str  # unit method, e.g. "minde_c" or "cca"
    n_train: int  # training-set size
    n_test: int  # test-set size
    seed: int  # seed of data sampling and initialisation
    budget: str  # smoke | quick | paper
    status: str = "ok"  # ok | failed
    estimates: dict[str, float] = field(default_factory=dict)  # variant -> MI estimate (nats)
    truth: float | None = None  # ground-truth MI (nats), if known
    seconds: float = 0.0  # wall time of the unit (sampling + training + estimation)
    error: str = ""  # "ExceptionType: message" when failed
    error_type: str = ""  # exception class name when failed
    diverged_step: int | None = None  # TrainingDivergedError.step when training diverged
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. stderr, settings, seconds split
    versions: dict[str, str] = field(default_factory=dict)  # package -> version
    git_rev: str = ""  # git revision of the code that ran the unit
    host: str = ""  # hostname of the process that ran the unit
    timestamp: str = ""  # ISO-8601 UTC time the record was made
    # fields added later: left out of the JSON at their default, so older records load unchanged
    resumed_from_step: int = 0  # training steps restored from a checkpoint (0: not resumed)
    machine: str = ""  # OS, architecture and CPU model of the host ("" in older records)
    fingerprint: str = ""  # hash of CPU model, instruction sets, versions, threads ("" in older records)

    @property
    def key(self) -> UnitKey:
        """The unit key (task, method, n_train, seed)."""
        return (self.task, self.method, int(self.n_train), int(self.seed))

    @property
    def ok(self) -> bool:
        """True when the unit finished and has an estimate for every variant."""
        return self.status == "ok" and set(self.estimates) == set(method_variants(self.method))

    def to_json(self) -> str:
        """Canonical JSON with a sha256 ``checksum`` over every other field."""
        body = {"schema": SCHEMA, **asdict(self)}
        for name, default in _OPTIONAL_FIELDS.items():
            if body[name] == default:
                del body[name]
        body["estimates"] = {k: _json_float(v) for k, v in self.estimates.items()}
        body["truth"] = _json_float(self.truth)
        body["extra"] = _jsonable(self.extra)
        body["checksum"] = _checksum(body)
        return json.dumps(body, indent=1, sort_keys=True, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "UnitRecord":
        """Parse and validate a record; ValueError on bad JSON, schema, fields or checksum."""
        body = json.loads(text)
        if not isinstance(body, dict) or body.get("schema") != SCHEMA:
            raise ValueError(f"not a schema-{SCHEMA} unit record")
        stored = body.pop("checksum", None)
        if stored != _checksum(body):
            raise ValueError("checksum mismatch (truncated or edited record)")
        body.pop("schema")
        rec = cls(**body)
        rec.estimates = {k: (math.nan if v is None else float(v)) for k, v in rec.estimates.items()}
        rec.truth = None if rec.truth is None else float(rec.truth)
        if rec.status not in ("ok", "failed"):
            raise ValueError(f"unknown status {rec.status!r}")
        return rec

    def cross_estimates(self) -> dict[str, float]:
        """The cross-model variants of this record's seed group and their denoising-loss forms
        (docs/method.md §17), given by the record of the seed whose test rows they were evaluated
        on; plus, on every seed's record of a group of K >= 3, ``<method>_pair_cross``: the
        cross-model estimate of two models alone (this seed's and the next one's in the group, on
        the same draws), so that the group's K rows show what K = 2 would have given."""
        cross = self.extra.get("cross") or {}
        if not self.ok or not cross:
            return {}
        out: dict[str, Any] = {}
        if cross.get("test_seed") == self.seed:
            out = {f"{self.method}_cross": cross["mi"], f"{self.method}_sigma_cross": cross["mi_sigma"],
                   f"{self.method}_loss": cross.get("mi_loss"), f"{self.method}_sigma_loss": cross.get("mi_sigma_loss")}
        seeds, gram = cross.get("seeds", []), (cross.get("gram") or {}).get("mi")
        if gram is not None and len(seeds) >= 3 and self.seed in seeds:
            i = seeds.index(self.seed)
            j = (i + 1) % len(seeds)
            out[f"{self.method}_pair_cross"] = 0.5 * (gram[i][j] + gram[j][i])
        return {k: float(v) for k, v in out.items() if v is not None and math.isfinite(v)}

    def rows(self) -> list[dict[str, Any]]:
        """Tidy rows, one per variant (failed units give NaN estimates), plus the cross-model
        variants of a seed group on the record of its first seed."""
        out = []
        cross = self.cross_estimates()
        for variant in method_variants(self.method) + list(cross):
            est = self.estimates.get(variant, cross.get(variant, math.nan))
            truth = math.nan if self.truth is None else self.truth
            out.append({"task": self.task, "method": self.method, "variant": variant,
                        "n_train": self.n_train, "n_test": self.n_test, "seed": self.seed,
                        "estimate": est, "truth": truth, "abs_error": abs(est - truth),
                        "seconds": self.seconds, "status": self.status, "error": self.error,
                        "timestamp": self.timestamp, "git_rev": self.git_rev})
        return out


_OPTIONAL_FIELDS = {"resumed_from_step": 0, "machine": "", "fingerprint": ""}  # field -> default left out of the JSON


def _json_float(v: float | None) -> float | None:
    """NaN/inf are not JSON: store them as null."""
    return None if v is None or not math.isfinite(v) else float(v)


def _jsonable(obj: Any) -> Any:
    """Recursively make ``obj`` strict JSON: non-finite floats -> null, unknown types -> str."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, (str, int)):
        return obj
    if isinstance(obj, float):
        return _json_float(obj)
    try:
        return _json_float(float(obj))  # numpy scalars
    except (TypeError, ValueError):
        return str(obj)


def _checksum(body: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a record body (without its checksum)."""
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canon.encode()).hexdigest()


def unit_dir(experiment: str, budget: str, root: str | os.PathLike | None = None) -> Path:
    """Directory ``<root>/<experiment>/<budget>`` of one experiment at one budget."""
    return Path(root if root is not None else results_root()) / experiment / budget


def unit_path(experiment: str, budget: str, key: UnitKey, root: str | os.PathLike | None = None) -> Path:
    """Path of the JSON record of unit ``key`` = (task, method, n_train, seed)."""
    task, method, n_train, seed = key
    name = f"{_SAFE.sub('_', task)}__{_SAFE.sub('_', method)}__n{int(n_train)}__s{int(seed)}.json"
    return unit_dir(experiment, budget, root) / "units" / name


def checkpoint_dir(experiment: str, budget: str, root: str | os.PathLike | None = None) -> Path:
    """Folder of the training checkpoints of units in flight: ``<root>/<experiment>/<budget>/checkpoints``."""
    return unit_dir(experiment, budget, root) / "checkpoints"


def checkpoint_path(folder: str | os.PathLike, keys: list[UnitKey]) -> Path:
    """Checkpoint of one unit, or of a seed group (same task, method, n_train): named after its seeds."""
    task, method, n_train, _ = keys[0]
    seeds = "-".join(str(int(k[3])) for k in keys)
    return Path(folder) / f"{_SAFE.sub('_', task)}__{_SAFE.sub('_', method)}__n{int(n_train)}__s{seeds}.pt"


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write text to ``path`` atomically (see ``minde._io.atomic_write``)."""
    return atomic_write(path, text)


def write_unit(experiment: str, record: UnitRecord, root: str | os.PathLike | None = None) -> Path:
    """Write one unit record atomically (replacing an older record of the same unit)."""
    path = unit_path(experiment, record.budget, record.key, root)
    atomic_write_text(path, record.to_json())
    return path


def load_unit(path: str | os.PathLike) -> UnitRecord | None:
    """Load one record; a corrupt one gives a CorruptRecordWarning naming its path and None."""
    try:
        return UnitRecord.from_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
        warnings.warn(f"ignoring corrupt unit record {path}: {exc}; the unit will be recomputed",
                      CorruptRecordWarning, stacklevel=2)
        return None


def load_units(experiment: str, budget: str, root: str | os.PathLike | None = None) -> dict[UnitKey, UnitRecord]:
    """All valid records of an experiment/budget, keyed by unit; temp files are ignored."""
    units = unit_dir(experiment, budget, root) / "units"
    out: dict[UnitKey, UnitRecord] = {}
    for path in sorted(units.glob("*.json")) if units.is_dir() else []:
        rec = load_unit(path)
        if rec is None:
            continue
        if path.name != unit_path(experiment, budget, rec.key, root).name or rec.budget != budget:
            warnings.warn(f"ignoring unit record {path}: its content (key {rec.key}, budget "
                          f"{rec.budget}) does not match its location", CorruptRecordWarning, stacklevel=2)
            continue
        out[rec.key] = rec
    return out


def clean_stale_temps(experiment: str, budget: str, root: str | os.PathLike | None = None) -> int:
    """Remove temp files left by a killed writer; returns how many were removed."""
    units = unit_dir(experiment, budget, root) / "units"
    stale = list(units.glob(".*.tmp")) if units.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)


def aggregate(experiment: str, budget: str, root: str | os.PathLike | None = None,
              write: bool = True) -> pd.DataFrame:
    """Tidy DataFrame (TIDY_COLUMNS) of every valid record; also writes ``results.csv`` atomically."""
    recs = load_units(experiment, budget, root)
    rows = [r for rec in recs.values() for r in rec.rows()]
    df = pd.DataFrame(rows, columns=TIDY_COLUMNS[2:])
    df.insert(0, "budget", budget)
    df.insert(0, "experiment", experiment)
    df = df.sort_values(TIDY_ORDER, kind="stable").reset_index(drop=True)
    if write:
        atomic_write_text(unit_dir(experiment, budget, root) / "results.csv", tidy_csv(df))
    return df


def tidy_csv(df: pd.DataFrame) -> str:
    """CSV text of tidy rows that depends on their content only: rows sorted by TIDY_ORDER (the
    unit key and variant, whatever order the records were listed or the workers finished in),
    floats exact (shortest round-trip repr: results.csv is data that re-plots read back)."""
    return csv_text(df, sort_by=[c for c in TIDY_ORDER if c in df.columns], digits=None, index=False)


def git_revision() -> str:
    """Commit of the package's source checkout, ``+dirty`` if ``minde/`` has uncommitted changes."""
    return source_revision()


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages results depend on (no imports, metadata only)."""
    out = {}
    for name in packages:
        try:
            out[name] = _md.version(name)
        except _md.PackageNotFoundError:
            out[name] = "not installed"
    return out


_ENV_CACHE: dict[str, Any] = {}


def machine_info() -> str:
    """The CPU type results depend on (its vector kernels round differently): OS, architecture
    and CPU model name, e.g. ``Linux x86_64 AMD EPYC``."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        model = ""
    model = model or platform.processor()
    return " ".join(p for p in (platform.system(), platform.machine(), model) if p)


_CPU_KEYS = ("model name", "cpu family", "model", "stepping", "flags",  # x86
             "cpu implementer", "cpu architecture", "cpu variant", "cpu part", "features")  # Arm
_NUMERIC_PACKAGES = ("torch", "numpy", "jax", "jaxlib", "benchmark-mi")  # versions that change numbers


def cpu_description() -> dict[str, str]:
    """The CPU fields that decide which vector kernels run: model, family, stepping and the
    instruction-set flags (x86), or implementer, part and features (Arm); flags sorted."""
    found: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key in _CPU_KEYS and key not in found:
                    found[key] = value.strip()
    except OSError:
        pass
    for key in ("flags", "features"):
        if key in found:
            found[key] = " ".join(sorted(found[key].split()))
    found.setdefault("processor", platform.processor())
    found["machine"] = platform.machine()
    return found


def environment_fingerprint(threads: int | None = None) -> str:
    """A short hash of everything that decides the last bits of a result: the CPU's model and
    instruction sets (:func:`cpu_description`), the numeric packages' versions and the number of
    torch threads (``$MINDE_NUM_THREADS``, default 1). Equal fingerprints make bit-identical
    recomputation expected; different ones make agreement within tolerance the only test."""
    if threads is None:
        raw = os.environ.get("MINDE_NUM_THREADS", "1")
        threads = int(raw) if raw.strip().isdigit() else -1  # -1: unreadable, as configure_threads refuses it
    versions = package_versions(_NUMERIC_PACKAGES)
    body = json.dumps({"cpu": cpu_description(), "versions": versions, "threads": threads}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def environment() -> dict[str, Any]:
    """Provenance stamped on each record: versions, git revision, host, machine, environment
    fingerprint (cached per process)."""
    if not _ENV_CACHE:
        _ENV_CACHE.update(versions=package_versions(), git_rev=git_revision(),
                          host=socket.gethostname(), machine=machine_info(),
                          fingerprint=environment_fingerprint())
    return dict(_ENV_CACHE)


def utc_now() -> str:
    """Current UTC time, ISO-8601 with seconds."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def write_meta(experiment: str, budget: str, root: str | os.PathLike | None = None, *,
               path: str | os.PathLike | None = None, **info: Any) -> Path:
    """Write ``meta.json`` (git revision, package versions, budget, device, ...) atomically, to
    ``path`` if given (a store table's settings file), else into the experiment's folder."""
    env = environment()
    meta = {"experiment": experiment, "budget": budget, "git_rev": env["git_rev"],
            "versions": env["versions"], "host": env["host"], "machine": env["machine"],
            "written": utc_now(), **info}
    path = Path(path) if path is not None else unit_dir(experiment, budget, root) / "meta.json"
    atomic_write_text(path, json.dumps(meta, indent=1, sort_keys=True, default=str) + "\n")
    return path
