"""Internal I/O: atomic writes, checksums, and where the project's data, results and figures live.

Every file the package writes goes through :func:`atomic_write` (a temporary file in the same
folder, fsync, then one ``os.replace``), so a killed process never leaves a half-written file.

CSV text goes through :func:`csv_text`, which depends on the content only (row order by key,
floats at a fixed number of significant digits, LF line ends), so that re-plotting unchanged
results rewrites the committed tables byte for byte.

Locations come from the *project root*, never from the installed package: ``$MINDE_HOME`` if set,
else the nearest folder at or above the current directory holding this project's
``pyproject.toml``, else the current directory. A non-editable install therefore never writes
inside site-packages.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:  # pandas is imported by the callers; this module stays light
    import pandas as pd

__all__ = ["atomic_write", "sha256_hex", "csv_text", "stable_float", "read_csv_exact", "CSV_DIGITS",
           "project_root", "results_root", "cache_root", "mnist_dir",
           "figures_root", "figure_dir", "source_revision", "HOME_ENV", "CACHE_ENV", "DIRTY_SUFFIX"]

HOME_ENV = "MINDE_HOME"  # environment variable naming the project root
DIRTY_SUFFIX = "+dirty"  # appended to a revision when minde/ has uncommitted changes
CACHE_ENV = "MINDE_CACHE_DIR"  # environment variable overriding the sample/model cache folder
_PROJECT_NAME = 'name = "minde-repro"'  # how a pyproject.toml marks this project's root

Content = str | bytes | Callable[[BinaryIO], None]


def atomic_write(path: str | os.PathLike, content: Content, *, mkdir: bool = True,
                 mode: int = 0o644) -> Path:
    """Write ``content`` (text, bytes, or a callback writing to a binary file) to ``path`` atomically."""
    path = Path(path)
    if mkdir:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(content):
                content(fh)
            else:
                fh.write(content.encode("utf-8") if isinstance(content, str) else content)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return path


def sha256_hex(*chunks: bytes | str) -> str:
    """SHA-256 hex digest of the concatenated chunks (text encoded as UTF-8)."""
    h = hashlib.sha256()
    for c in chunks:
        h.update(c.encode("utf-8") if isinstance(c, str) else c)
    return h.hexdigest()


# significant digits of the floats in derived tables (figures/**/*.csv). A re-plot may sum the same
# values in another order, on another CPU, or after a CSV round trip: that moves the last one or
# two of repr's 17 digits (up to ~5e-14 relative was seen in a std over seeds). 10 digits keep a
# margin of over 1000x above that noise, so the printed digits do not move, and stay far finer than
# any estimate's spread over seeds (~1e-3 relative).
CSV_DIGITS = 10


def stable_float(x: float, digits: int = CSV_DIGITS) -> str:
    """``x`` rounded to ``digits`` significant digits, written as the shortest text that reads
    back as that rounded value (``0.41333928659223396`` -> ``0.4133392866``, ``2.0`` stays
    ``2.0``); -0.0 is written as 0.0."""
    return repr(float(f"{x:.{digits}g}") + 0.0)  # + 0.0 turns -0.0 into 0.0


def csv_text(df: pd.DataFrame, *, sort_by: Sequence[str] | None = None, digits: int | None = CSV_DIGITS,
             **to_csv: Any) -> str:
    """CSV text of ``df`` that depends on its content only, for files that are committed.

    ``sort_by``: rows are ordered by these columns (a stable sort, so rows with equal keys keep
    their order), never by the order they were produced (files listed, workers finished).
    ``digits``: the floats of float columns (and a float index) are printed by
    :func:`stable_float`; None prints them exactly (shortest round-trip repr: for results data,
    which are read back). Lines end in LF on every OS. Other keywords (``index``,
    ``index_label``, ...) go to ``DataFrame.to_csv``.
    """
    if sort_by:
        df = df.sort_values(list(sort_by), kind="stable")
    fmt = None if digits is None else (lambda x: stable_float(x, digits))
    return df.to_csv(float_format=fmt, lineterminator="\n", **to_csv)


def read_csv_exact(path: str | os.PathLike, **kwargs: Any) -> pd.DataFrame:
    """``pandas.read_csv`` with the round-trip float parser: pandas' default parser may read
    a 17-digit float one unit in the last place off, so a table re-plotted from a CSV would
    differ in its last digits from one plotted from the values that were written."""
    import pandas as pd

    return pd.read_csv(path, float_precision="round_trip", **kwargs)


def _is_project(folder: Path) -> bool:
    """Does ``folder`` hold this project's pyproject.toml?"""
    f = folder / "pyproject.toml"
    try:
        return f.is_file() and _PROJECT_NAME in f.read_text(encoding="utf-8")
    except OSError:
        return False


def project_root() -> Path:
    """$MINDE_HOME, else the nearest project folder at or above the current directory, else cwd."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if _is_project(folder):
            return folder
    return cwd


def results_root() -> Path:
    """Default results folder: ``<project root>/data/results``."""
    return project_root() / "data" / "results"


def cache_root() -> Path:
    """Cache folder for samples and trained autoencoders: $MINDE_CACHE_DIR, else ``data/cache``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else project_root() / "data" / "cache"


def mnist_dir() -> Path:
    """The gzipped MNIST files: ``<project root>/data/mnist``."""
    return project_root() / "data" / "mnist"


def figures_root() -> Path:
    """Figures and tables: ``<project root>/figures``."""
    return project_root() / "figures"


def figure_dir(budget: str, root: str | os.PathLike | None = None) -> Path:
    """``figures/`` for the paper budget, ``figures/<budget>/`` for smaller ones (under ``root``)."""
    base = Path(root) if root is not None else project_root()
    return base / "figures" if budget == "paper" else base / "figures" / budget


def source_revision(paths: tuple[str, ...] = ("minde",)) -> str:
    """Git commit of the checkout the package was imported from, ``+dirty`` if ``paths`` have
    uncommitted changes; "" when the package is not in a git checkout (e.g. site-packages)."""
    repo = Path(__file__).resolve().parents[1]
    if not (repo / ".git").exists():
        return ""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *paths],
                               cwd=repo, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return rev + (DIRTY_SUFFIX if rev and dirty else "")
