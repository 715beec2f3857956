"""The ``minde`` command line: estimate MI from files, list tasks, write task samples.

    minde estimate DATA [--x COLS] [--y COLS] [--y-file FILE] [--kind c|j|both] [--budget B]
                   [--n-seeds K] [--seed S] [--test-size F] [--device D] [--bits] [--json]
                   [--out FILE] [--no-progress]
    minde tasks [--group all|benchmark|highmi] [--json]
    minde sample TASK --n N [--seed S] --out FILE.npz
    minde sweep ... | minde reproduce ... | minde report ... | minde recipes ...   (code in
        ``minde.repro``; ``--help`` on each)

``python -m minde ...`` is the same command line.

Exit status: 0 success, 1 training failure (diverged), 2 bad input or usage, 130 interrupted.
Bad input never prints a traceback; ``--traceback`` shows one for unexpected errors.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ._io import atomic_write
from .datafiles import SUFFIXES, InputError, load_xy

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_LN2 = math.log(2.0)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as ``minde: error: ...`` with exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"minde: error: {message}\n")


# the reproduction layer's commands, run by ``minde NAME ARGS``: module and one-line help
REPRO_COMMANDS = {"sweep": ("minde.repro.sweep", "run or resume a sweep of benchmark units"),
                  "reproduce": ("minde.repro.reproduce", "run the notebooks of a budget"),
                  "report": ("minde.repro.report", "write the claims report of a budget"),
                  "recipes": ("minde.repro.recipes", "run or resume the training-recipe study (docs/method.md §7)")}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the subcommands."""
    p = _Parser(prog="minde", description="MINDE mutual information estimation (ICLR 2024).")
    p.add_argument("--traceback", action="store_true", help="show tracebacks of unexpected errors")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    e = sub.add_parser("estimate", help="estimate I(X;Y) from a data file")
    e.add_argument("data", metavar="DATA", help=f"data file ({', '.join(SUFFIXES)})")
    e.add_argument("--x", metavar="COLS", help="X columns: names or index ranges (0:3, 0,2,5); "
                   ".npz: array name (default x)")
    e.add_argument("--y", metavar="COLS", help="Y columns (default: the columns not in --x); "
                   ".npz: array name (default y)")
    e.add_argument("--y-file", metavar="FILE", help="read Y from this file instead of DATA")
    e.add_argument("--kind", choices=("c", "j", "both"), default="both",
                   help="c: MINDE-C(+σ), j: MINDE-J(+σ), both (default)")
    e.add_argument("--budget", choices=("smoke", "quick", "paper"), default="quick")
    e.add_argument("--n-seeds", type=int, default=None, metavar="K",
                   help="independent models on one split, seeds S..S+K-1 (default: 2 for MINDE-J, "
                   "whose answer is their cross-model estimate, 1 for MINDE-C)")
    e.add_argument("--no-debias", action="store_true",
                   help="answer with the paper's estimator of one model per fold or split (MINDE-J "
                   "otherwise answers with the cross-model estimate of two; docs/method.md §17)")
    e.add_argument("--seeds", dest="seeds_list", metavar="LIST", help=argparse.SUPPRESS)
    e.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the split and models")
    e.add_argument("--test-size", type=float, default=None, metavar="F",
                   help="held-out fraction of one random split (default 0.1)")
    e.add_argument("--folds", type=int, default=None, metavar="K",
                   help="cross-fit K models, each scored on the rows it did not train on (0: one "
                   "random split; default: 5 folds below 5000 rows unless --test-size or "
                   "--n-seeds is given, else the split)")
    e.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    e.add_argument("--bits", action="store_true", help="report bits instead of nats")
    e.add_argument("--json", action="store_true", help="machine-readable JSON record")
    e.add_argument("--out", metavar="FILE", help="write the report to FILE (atomically)")
    e.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    t = sub.add_parser("tasks", help="list the benchmark tasks with dims and true MI")
    t.add_argument("--group", choices=("all", "benchmark", "highmi"), default="all")
    t.add_argument("--json", action="store_true", help="JSON list instead of a table")
    s = sub.add_parser("sample", help="write a sample of a task to FILE.npz (arrays x and y)")
    s.add_argument("task", metavar="TASK", help="task id (see `minde tasks`)")
    s.add_argument("--n", type=int, required=True, help="number of rows")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True, metavar="FILE.npz")
    for name, (_, text) in REPRO_COMMANDS.items():  # listed in --help; their arguments are their own
        sub.add_parser(name, help=text, add_help=False)
    return p


def write_atomic(path: str | Path, text: str | None = None, arrays: dict | None = None) -> None:
    """Write text or an .npz of arrays atomically; the folder must exist."""
    path = Path(path)
    if path.parent and not path.parent.is_dir():
        raise InputError(f"output folder does not exist: {path.parent}")
    atomic_write(path, (lambda fh: np.savez(fh, **arrays)) if arrays is not None else (text or ""),
                 mkdir=False)


def _versions() -> dict[str, str | None]:
    """Versions of the software that produced a record."""
    import torch

    from . import __version__
    return {"minde": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__, "platform": platform.platform()}


def _check_options(args: argparse.Namespace, n_rows: int) -> tuple[int, int]:
    """Validate --n-seeds/--seed/--test-size against the row count; returns (n_train, n_test)."""
    from .api import default_folds, fold_indices
    from .data import split_sizes

    if args.seeds_list is not None:
        raise InputError("minde estimate takes --n-seeds K (the number of models) and --seed S (the first "
                         "seed); --seeds is a list of seeds in minde sweep")
    if args.n_seeds is not None and args.n_seeds < 1:
        raise InputError(f"--n-seeds must be >= 1, got {args.n_seeds}")
    if args.seed < 0:
        raise InputError(f"--seed must be >= 0, got {args.seed}")
    if args.folds is None:
        args.folds = default_folds(n_rows, args.n_seeds, args.test_size)
    if args.folds:
        if args.n_seeds not in (None, 1) or args.test_size is not None:
            raise InputError("--folds trains one model per fold and scores every row; it cannot be "
                             "combined with --n-seeds or --test-size")
        try:
            parts = fold_indices(n_rows, args.folds, args.seed)
        except ValueError as exc:
            raise InputError(str(exc).replace("folds must", "--folds must")) from None
        return n_rows - max(len(p) for p in parts), n_rows
    args.test_size = 0.1 if args.test_size is None else args.test_size
    try:
        return split_sizes(n_rows, args.test_size)
    except ValueError as exc:
        raise InputError(str(exc).replace("test_size=", "--test-size ").replace(
            "test_size must", "--test-size must")) from None


def _run_kinds(args: argparse.Namespace, x: np.ndarray, y: np.ndarray) -> dict:
    """Fit and estimate each requested kind (``minde.estimate_mi`` with the options); kind -> MIEstimate."""
    from .api import estimate_mi

    kinds = ("c", "j") if args.kind == "both" else (args.kind,)
    return {kind: estimate_mi(x, y, kind, test_size=None if args.folds else args.test_size, folds=args.folds,
                              debias=False if args.no_debias else None, n_seeds=args.n_seeds, seed=args.seed,
                              budget=args.budget, device=args.device, progress=not args.no_progress)
            for kind in kinds}


def _record(args: argparse.Namespace, cols: tuple, results: dict, split: tuple[int, int],
            seconds: dict[str, float]) -> dict[str, Any]:
    """The machine-readable record: settings, data, versions, timings, estimates."""
    scale = 1 / _LN2 if args.bits else 1.0
    estimates: dict[str, Any] = {}
    for kind, r in results.items():
        for suffix, mi, se, sd, per in (("", r.mi, r.mi_stderr, r.mi_seed_std, r.mi_per_seed),
                                        ("_sigma", r.mi_sigma, r.mi_sigma_stderr, r.mi_sigma_seed_std,
                                         r.mi_sigma_per_seed)):
            estimates[f"minde_{kind}{suffix}"] = {
                "mi": mi * scale, "stderr": se * scale, "seed_std": sd * scale,
                "per_seed": [v * scale for v in per]}
        if r.cross is not None:  # beyond the paper (docs/method.md §17)
            c = r.cross
            for suffix, mi, se, model_se in (("", c.mi, c.mi_stderr, c.mi_model_se),
                                             ("_sigma", c.mi_sigma, c.mi_sigma_stderr, c.mi_sigma_model_se)):
                estimates[f"minde_{kind}{suffix}_cross"] = {"mi": mi * scale, "stderr": se * scale,
                                                           "model_se": model_se * scale, "models": c.n_models}
    x, y = cols
    return {
        "tool": "minde estimate", "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "unit": "bits" if args.bits else "nats",
        "answer": {k: {"variant": r.answer_variant, "mi": r.answer_mi * scale, "stderr": r.answer_stderr * scale}
                   for k, r in results.items()},
        "estimates": estimates,
        "entropies": {k: {h: v * scale for h, v in r.entropies.items()} for k, r in results.items()},
        "data": {"path": args.data, "y_file": args.y_file, "x_columns": x.labels,
                 "y_columns": y.labels, "n_rows": int(x.values.shape[0]), "dim_x": len(x.labels),
                 "dim_y": len(y.labels), "n_train": split[0], "n_test": split[1]},
        "settings": {"kind": args.kind, "budget": args.budget, "n_seeds": args.n_seeds, "seed": args.seed,
                     "debias": not args.no_debias,
                     "test_size": None if args.folds else args.test_size, "folds": args.folds,
                     "device": args.device,
                     "resolved": {k: r.settings for k, r in results.items()}},
        "timings": dict(seconds, **{f"train_{k}": r.train_seconds for k, r in results.items()},
                        **{f"estimate_{k}": r.estimate_seconds for k, r in results.items()}),
        "versions": _versions(), "results_nats": {k: r.to_dict() for k, r in results.items()},
        "warnings": {k: list(r.warnings) for k, r in results.items()},
    }


def _strict_json(obj: Any) -> Any:
    """Replace NaN/inf floats by None so the record is valid (strict) JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict_json(v) for v in obj]
    return obj


def _label(variant: str) -> str:
    """Display name of an estimate variant: minde_j_sigma_cross -> MINDE-J(σ) cross-model."""
    parts = variant.split("_")
    return ("MINDE-" + parts[1].upper() + ("(σ)" if "sigma" in parts else "")
            + (" cross-model" if parts[-1] == "cross" else ""))


def _table(rec: dict[str, Any]) -> str:
    """Human-readable report of a record: the answer of each kind first, then every estimate."""
    d, s, unit = rec["data"], rec["settings"], rec["unit"]
    resolved = s["resolved"]
    kinds = ", ".join(f"MINDE-{k.upper()} {r['n_seeds']}" for k, r in resolved.items())
    lines = [f"X: {d['dim_x']} column(s) [{', '.join(d['x_columns'][:8])}"
             f"{', ...' if d['dim_x'] > 8 else ''}]   Y: {d['dim_y']} column(s) "
             f"[{', '.join(d['y_columns'][:8])}{', ...' if d['dim_y'] > 8 else ''}]",
             (f"{d['n_rows']} rows, cross-fitted: {s['folds']} folds of {d['n_train']} training rows, "
              f"the models of each scored on the fold they did not see ({kinds} models in all); budget "
              f"{s['budget']}, seeds from {s['seed']}" if s.get("folds") else
              f"{d['n_rows']} rows: {d['n_train']} train / {d['n_test']} test; budget {s['budget']}, "
              f"models: {kinds}, seeds from {s['seed']}"), ""]
    for kind, a in rec["answer"].items():
        extra = " (beyond the paper, docs/method.md §17)" if a["variant"].endswith("_cross") else ""
        lines.append(f"answer, MINDE-{kind.upper()}: I = {a['mi']:.4f} ± {a['stderr']:.4f} {unit}"
                     f"  [{_label(a['variant'])}{extra}]")
    lines.append("")
    spread = any(e.get("seed_std") for e in rec["estimates"].values())
    head = f"{'estimate':<24}{'I (' + unit + ')':>12}{'± s.e.':>10}"
    lines.append(head + (f"{'seed std':>10}" if spread else ""))
    for name, e in rec["estimates"].items():
        row = f"{_label(name):<24}{e['mi']:>12.4f}{e['stderr']:>10.4f}"
        lines.append(row + (f"{e['seed_std']:>10.4f}" if spread and "seed_std" in e else ""))
    for kind, ents in rec["entropies"].items():
        text = ", ".join(f"{h} = {v:.4f}" for h, v in ents.items())
        lines.append(f"entropies ({unit}, from MINDE-{kind.upper()}): {text}")
    for kind, r in rec["results_nats"].items():
        lines += [f"WARNING (MINDE-{kind.upper()}): {w}" for w in r["warnings"]]
    t = rec["timings"]
    lines.append(f"time: {t['total']:.1f} s (loading {t['load']:.1f} s)")
    return "\n".join(lines) + "\n"


def _emit(text: str, out: str | None) -> None:
    """Print the report, or write it atomically to --out."""
    if out is None:
        sys.stdout.write(text)
        return
    write_atomic(out, text)
    print(f"minde: wrote {out}", file=sys.stderr)


def cmd_estimate(args: argparse.Namespace) -> int:
    """``minde estimate``: read X and Y, fit MINDE per kind, report."""
    start = time.perf_counter()
    if args.out is not None and not Path(args.out).parent.is_dir():
        raise InputError(f"--out folder does not exist: {Path(args.out).parent}")
    x, y = load_xy(args.data, args.x, args.y, args.y_file)
    split = _check_options(args, x.values.shape[0])
    loaded = time.perf_counter()
    results = _run_kinds(args, x.values.astype(np.float32), y.values.astype(np.float32))
    seconds = {"load": loaded - start, "total": time.perf_counter() - start}
    rec = _record(args, (x, y), results, split, seconds)
    _emit(json.dumps(_strict_json(rec), indent=2, allow_nan=False) + "\n" if args.json else _table(rec), args.out)
    for kind, r in results.items():  # on stderr too, so that --json and --out cannot hide them
        for text in r.warnings:
            print(f"minde: warning (MINDE-{kind.upper()}): {text}", file=sys.stderr)
    return EXIT_OK


def cmd_tasks(args: argparse.Namespace) -> int:
    """``minde tasks``: list task ids, dims and true MI in nats (docs/method.md §8, §10)."""
    from minde.bench import tasks

    infos = tasks.list_tasks(args.group)
    if args.json:
        rows = [{"id": i.id, "dim_x": i.dim_x, "dim_y": i.dim_y, "mi": i.mi, "family": i.family}
                for i in infos]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return EXIT_OK
    width = max(len(i.id) for i in infos)
    print(f"{'task':<{width}}  {'dim_x':>5}  {'dim_y':>5}  {'MI (nats)':>9}  family")
    for i in infos:
        print(f"{i.id:<{width}}  {i.dim_x:>5}  {i.dim_y:>5}  {i.mi:>9.4f}  {i.family}")
    return EXIT_OK


def cmd_sample(args: argparse.Namespace) -> int:
    """``minde sample``: write n rows of a task as FILE.npz with arrays x and y (docs/method.md §8)."""
    from minde.bench import tasks

    if args.n < 1:
        raise InputError(f"--n must be >= 1, got {args.n}")
    if args.seed < 0:
        raise InputError(f"--seed must be >= 0, got {args.seed}")
    if Path(args.out).suffix.lower() != ".npz":
        raise InputError(f"--out must end in .npz, got {args.out}")
    if not Path(args.out).parent.is_dir():
        raise InputError(f"--out folder does not exist: {Path(args.out).parent}")
    info = tasks.get_task(args.task)
    x, y = tasks._draw(args.task, args.n, args.seed)
    write_atomic(args.out, arrays={"x": x, "y": y})
    print(f"minde: wrote {args.out}: x {x.shape}, y {y.shape} from {info.id} (seed {args.seed}); "
          f"true MI {info.mi:.4f} nats", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``minde`` console script; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in REPRO_COMMANDS:  # the reproduction layer parses its own arguments
        import importlib

        try:
            return int(importlib.import_module(REPRO_COMMANDS[args_list[0]][0]).main(args_list[1:]) or 0)
        except SystemExit as exc:  # --help (0) or a usage error (2)
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        except KeyboardInterrupt:
            print("minde: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): return, don't exit
        return int(exc.code or 0)
    handler = {"estimate": cmd_estimate, "tasks": cmd_tasks, "sample": cmd_sample}[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("minde: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (InputError, ValueError) as exc:  # bad input, also as reported by the minde API
        print(f"minde: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # unreadable input or unwritable output
        print(f"minde: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001  (never a bare traceback unless asked)
        from .training import TrainingDivergedError

        if args.traceback:
            raise
        if isinstance(exc, TrainingDivergedError):
            print(f"minde: error: {exc}", file=sys.stderr)
        else:
            print(f"minde: unexpected {type(exc).__name__}: {exc} (rerun with "
                  f"`minde --traceback ...` and report it)", file=sys.stderr)
        return EXIT_FAILED
