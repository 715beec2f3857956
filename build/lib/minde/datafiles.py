"""Reading X and Y from user files for the command line (docs/method.md §7 data preparation).

Formats: ``.npy`` (one array; columns chosen by index), ``.npz`` (named arrays), ``.csv`` /
``.tsv`` (columns chosen by header name or index; a header row is assumed when the first row
has a non-numeric field). Every problem with the input raises :class:`InputError` whose message
names the file, the column or the rows at fault; nothing here trains or estimates.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["InputError", "Columns", "load_xy", "parse_columns", "SUFFIXES"]

SUFFIXES = (".npy", ".npz", ".csv", ".tsv")  # the file types ``load_xy`` reads
_MISSING = {"", "na", "nan", "n/a", "null", "none", "-nan"}  # text cells read as missing
_RANGE = re.compile(r"^(-?\d*):(-?\d*)$")
_SHOWN = 5  # how many offending rows an error message lists


class InputError(ValueError):
    """A problem with the user's input files or column choices (exit status 2 on the CLI)."""


@dataclass(frozen=True)
class Columns:
    """One variable read from a file: values and where they came from."""

    values: np.ndarray  # (n, d) float64, may hold NaN (checked by load_xy)
    labels: list[str]  # one label per column: header name, index, or array name
    source: str  # file path (and array name for .npz)
    line_of_row: int  # file line of data row 0 (1-based; 0 for binary formats)


def parse_columns(spec: str, names: list[str] | None, n_cols: int, what: str) -> list[int]:
    """Column indices for a spec such as ``a,b``, ``0:3``, ``0,2,5`` or ``-1``.

    Items are separated by commas; each item is a header name (exact match first), an integer
    index (negative counts from the end) or a Python-style range ``start:stop``.
    """
    out: list[int] = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            raise InputError(f"{what}: empty item in column list {spec!r}")
        if names is not None and item in names:
            out.append(names.index(item))
        elif re.fullmatch(r"-?\d+", item):
            idx = int(item)
            if not -n_cols <= idx < n_cols:
                raise InputError(f"{what}: column index {idx} out of range; the data have "
                                 f"{n_cols} column(s) (valid 0..{n_cols - 1})")
            out.append(idx % n_cols)
        elif (m := _RANGE.match(item)) is not None:
            a, b = (int(g) if g else None for g in m.groups())
            picked = list(range(n_cols))[slice(a, b)]
            if not picked:
                raise InputError(f"{what}: range {item!r} selects no columns of {n_cols}")
            out.extend(picked)
        else:
            known = f"; columns are: {', '.join(names)}" if names else " (the file has no header row)"
            raise InputError(f"{what}: unknown column {item!r}{known}")
    if len(set(out)) != len(out):
        raise InputError(f"{what}: column list {spec!r} names a column twice")
    return out


def _require_file(path: Path, role: str) -> None:
    """Missing file, folder or unknown extension -> InputError."""
    if not path.exists():
        raise InputError(f"{role} file not found: {path}")
    if not path.is_file():
        raise InputError(f"{role} path is not a file: {path}")
    if path.suffix.lower() not in SUFFIXES:
        raise InputError(f"{role} file {path} has unknown extension {path.suffix!r}; "
                         f"supported: {', '.join(SUFFIXES)}")


def _is_number(cell: str) -> bool:
    """True for a cell that parses as a float or is a missing-value marker."""
    if cell.strip().lower() in _MISSING:
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class _Table:
    """A .npy array or a .csv/.tsv file, read once; columns are picked by ``select``."""

    path: Path
    names: list[str] | None  # header names (text with a header row), else None
    n_cols: int  # number of columns
    first_line: int  # file line of data row 0 (text), 0 for .npy
    array: np.ndarray | None  # (n, d) float64 for .npy
    rows: list[list[str]] | None  # data rows as strings for text

    def indices(self, spec: str | None, what: str) -> list[int] | None:
        """Indices for a --x/--y spec, or None when no spec is given."""
        return parse_columns(spec, self.names, self.n_cols, what) if spec else None

    def select(self, idx: list[int], what: str) -> Columns:
        """The chosen columns as floats; a non-numeric text cell is an InputError."""
        labels = [self.names[j] if self.names else str(j) for j in idx]
        if self.array is not None:
            return Columns(self.array[:, idx], labels, str(self.path), 0)
        assert self.rows is not None
        vals = np.empty((len(self.rows), len(idx)))
        for k, j in enumerate(idx):
            for i, row in enumerate(self.rows):
                cell = row[j].strip()
                if cell.lower() in _MISSING:
                    vals[i, k] = np.nan
                    continue
                try:
                    vals[i, k] = float(cell)
                except ValueError:
                    raise InputError(f"{what}: column {labels[k]!r} of {self.path} is not numeric: "
                                     f"{cell!r} on line {i + self.first_line}") from None
        return Columns(vals, labels, str(self.path), self.first_line)


def _read_text(path: Path) -> _Table:
    """A .csv (comma) or .tsv (tab) file; header row assumed if its first row is non-numeric."""
    delim = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh, delimiter=delim) if r and any(c.strip() for c in r)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read {path} as {delim!r}-separated text: {exc}") from exc
    if not rows:
        raise InputError(f"{path} is empty")
    header = None if all(_is_number(c) for c in rows[0]) else [c.strip() for c in rows[0]]
    body = rows[1:] if header is not None else rows
    width = len(rows[0])
    for i, r in enumerate(body):
        if len(r) != width:
            line = i + 1 + (header is not None)
            raise InputError(f"{path}: line {line} has {len(r)} fields, expected {width} "
                             f"(check the delimiter: .csv uses ',', .tsv uses tabs)")
    return _Table(path, header, width, 1 + (header is not None), None, body)


def _numeric(arr: np.ndarray, where: str) -> np.ndarray:
    """Float64 copy of a loaded array, with an InputError for non-numeric dtypes."""
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{where} is not numeric (dtype {arr.dtype})")
    return arr.astype(np.float64)


def _numeric_2d(arr: np.ndarray, what: str) -> np.ndarray:
    """A numeric (n,) or (n, d) array as (n, d); anything else is an InputError naming ``what``."""
    arr = _numeric(arr, what)
    arr = arr[:, None] if arr.ndim == 1 else arr
    if arr.ndim != 2:
        raise InputError(f"{what} has shape {arr.shape}; expected (n,) or (n, d)")
    return arr


def _read_npy(path: Path) -> _Table:
    """A 1-D or 2-D .npy array (columns by index)."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"cannot read {path} as a .npy array: {exc}") from exc
    arr = _numeric_2d(arr, f"array in {path}")
    return _Table(path, None, arr.shape[1], 0, arr, None)


def _read_table(path: Path) -> _Table:
    """Dispatch .npy vs .csv/.tsv."""
    return _read_npy(path) if path.suffix.lower() == ".npy" else _read_text(path)


def _npz_array(path: Path, name: str | None, fallback: str, what: str) -> Columns:
    """One named array of a .npz file (default ``fallback``; a lone array is used if unnamed)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            files = list(data.files)
            chosen = name or (fallback if fallback in files or len(files) != 1 else files[0])
            if chosen not in files:
                raise InputError(f"{what}: no array {chosen!r} in {path}; it holds: "
                                 f"{', '.join(files) or 'nothing'} (choose one with --x/--y NAME)")
            arr = data[chosen]
    except InputError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"cannot read {path} as a .npz archive: {exc}") from exc
    arr = _numeric_2d(arr, f"array {chosen!r} in {path}")
    return Columns(arr, [f"{chosen}[{j}]" for j in range(arr.shape[1])], f"{path}:{chosen}", 0)


def _whole_file(path: Path, spec: str | None, what: str, npz_default: str) -> Columns:
    """The chosen (default: all) columns of one file, for the two-file form."""
    if path.suffix.lower() == ".npz":
        return _npz_array(path, spec, npz_default, what)
    table = _read_table(path)
    return table.select(table.indices(spec, what) or list(range(table.n_cols)), what)


def _split_one_file(path: Path, x_spec: str | None, y_spec: str | None) -> tuple[Columns, Columns]:
    """X and Y from the columns of one table: given specs, or the complement of the other."""
    if path.suffix.lower() == ".npz":
        return _npz_array(path, x_spec, "x", "--x"), _npz_array(path, y_spec, "y", "--y")
    table = _read_table(path)
    width = table.n_cols
    if x_spec is None and y_spec is None:
        if width != 2:
            raise InputError(f"{path} has {width} column(s); say which are X and which are Y "
                             f"with --x COLS and/or --y COLS (e.g. --x 0:3 --y 3)")
        x_idx, y_idx = [0], [1]
    else:
        x_idx, y_idx = table.indices(x_spec, "--x"), table.indices(y_spec, "--y")
        x_idx = x_idx or [j for j in range(width) if j not in (y_idx or [])]
        y_idx = y_idx or [j for j in range(width) if j not in x_idx]
        if not x_idx or not y_idx:
            raise InputError(f"no columns left for {'X' if not x_idx else 'Y'} in {path}")
        if set(x_idx) & set(y_idx):
            raise InputError(f"--x and --y share column(s) {sorted(set(x_idx) & set(y_idx))}")
    return table.select(x_idx, "--x"), table.select(y_idx, "--y")


def _check_rows(col: Columns, var: str) -> None:
    """NaN/inf rows -> InputError with their count and where they are."""
    bad = np.flatnonzero(~np.isfinite(col.values).all(axis=1))
    if bad.size == 0:
        return
    shown = bad[:_SHOWN]
    where = (f"file line(s) {', '.join(str(i + col.line_of_row) for i in shown)}" if col.line_of_row
             else f"row index(es) {', '.join(map(str, shown.tolist()))}")
    more = f" and {bad.size - shown.size} more" if bad.size > shown.size else ""
    raise InputError(f"{var} ({col.source}) has missing, NaN or infinite values in {bad.size} of "
                     f"{col.values.shape[0]} rows: {where}{more}; remove or impute those rows")


def load_xy(data: str | Path, x_spec: str | None = None, y_spec: str | None = None,
            y_file: str | Path | None = None, min_rows: int = 2) -> tuple[Columns, Columns]:
    """Read X: (n, d_x) and Y: (n, d_y) from one file (by columns) or two files.

    One file: ``--x``/``--y`` choose columns (names or indices); a missing one is the remaining
    columns; with neither, a two-column table is read as X = column 0, Y = column 1. For .npz
    they name arrays (default "x" and "y"). Two files: X from ``data`` (``x_spec`` or all its
    columns), Y from ``y_file`` (``y_spec`` or all). Raises InputError on any bad input.
    """
    path = Path(data)
    _require_file(path, "DATA")
    if y_file is None:
        x, y = _split_one_file(path, x_spec, y_spec)
    else:
        ypath = Path(y_file)
        _require_file(ypath, "--y-file")
        x = _whole_file(path, x_spec, "--x", "x")
        y = _whole_file(ypath, y_spec, "--y", "y")
    if x.values.shape[0] != y.values.shape[0]:
        raise InputError(f"X and Y have different numbers of rows: {x.values.shape[0]} in "
                         f"{x.source} and {y.values.shape[0]} in {y.source}")
    _check_rows(x, "X")
    _check_rows(y, "Y")
    if x.values.shape[0] < min_rows:
        raise InputError(f"too few rows: {x.values.shape[0]} in {x.source}; need at least {min_rows}")
    return x, y
