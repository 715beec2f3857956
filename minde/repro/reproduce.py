"""Execute every notebook with papermill and check the files each declares (docs/method.md §8-§13).

    minde reproduce [--budget smoke|quick|paper] [--only PATTERN] [--list]
                              [--workers N] [--scheduler ADDR] [--no-report]

Executed notebooks go to ``runs/<budget>/`` (git-ignored). A failing notebook does not stop the
others; the run ends with a table (notebook, status, duration, outputs) and exits 1 if any failed.
A run of every notebook then regenerates the claims report ``reports/<budget>.md``
(``minde.repro.report``) from the results on disk, unless ``--no-report``.

Kernels talk to the runner over IPC (Unix sockets) rather than TCP, so ipykernel has no reason
to warn that the connection is unencrypted ("Kernel is running over TCP without encryption").
Each kernel's sockets get a name of their own in jupyter's runtime folder, so several runners
may execute notebooks of one folder at the same time.
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minde._io import project_root
from minde.repro.experiments import BUDGET_NAMES, EXPERIMENTS, declared_outputs

__all__ = ["NotebookRun", "find_notebooks", "run_notebook", "run_all", "format_table", "main"]


@dataclass
class NotebookRun:
    """Outcome of one notebook execution."""

    name: str  # notebook stem
    status: str  # ok | failed | missing-outputs
    seconds: float  # wall time of the execution
    outputs: list[Path] = field(default_factory=list)  # declared files found after the run
    missing: list[Path] = field(default_factory=list)  # declared files not (re)written
    error: str = ""  # first line of the error, if any


def find_notebooks(nb_dir: Path, only: str | None = None) -> list[Path]:
    """Notebooks in ``nb_dir`` (sorted), optionally filtered by ``only``: comma-separated globs
    or substrings of their names."""
    paths = sorted(p for p in nb_dir.glob("*.ipynb") if not p.name.startswith("."))
    if only:
        pats = [s.strip() for s in only.split(",") if s.strip()]
        paths = [p for p in paths if any(fnmatch.fnmatch(p.stem, o) or o in p.stem for o in pats)]
    return paths


def _declared(stem: str, budget: str, root: Path | None, n_train: Any = None) -> list[Path]:
    """Declared outputs of a notebook; [] for a notebook that is not in EXPERIMENTS."""
    return declared_outputs(stem, budget, root, n_train) if stem in EXPERIMENTS else []


def parse_params(items: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` pairs (values read as YAML: 10000, true, [0, 1, 2], a string) for papermill."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise ValueError(f"--param: expected NAME=VALUE, got {item!r}")
        if name in ("budget", "workers", "scheduler"):
            raise ValueError(f"--param: set {name} with --{name}")
        out[name] = yaml.safe_load(value)
    return out


_MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to about 107 bytes


def kernel_config():
    """Kernel-manager settings for one papermill kernel: IPC transport where it works, else TCP.

    Over TCP without CurveZMQ keys, ipykernel's ``init_sockets`` logs a warning on every start;
    an IPC kernel binds Unix sockets and logs nothing. jupyter_client would name the sockets
    ``kernel-ipc-1`` ... relative to the working directory (the notebook's folder), so two runners
    executing notebooks of one folder at once would bind the same sockets and read each other's
    messages ("Invalid Signature"), and the files would stay behind in the folder. Each call
    therefore names a fresh prefix in jupyter's runtime folder; the kernel manager removes the
    sockets at shutdown. Windows has no IPC transport, and a very long runtime path would not fit
    in a socket address, so those keep TCP.
    """
    from traitlets.config import Config

    if os.name != "posix":
        return Config()
    from jupyter_core.paths import jupyter_runtime_dir

    runtime = Path(jupyter_runtime_dir()).resolve()
    prefix = runtime / f"minde-{uuid.uuid4().hex}-ipc"
    if len(f"{prefix}-99") > _MAX_SOCKET_PATH:
        return Config()
    runtime.mkdir(parents=True, exist_ok=True)
    return Config({"KernelManager": {"transport": "ipc", "ip": str(prefix)}})


def run_notebook(path: Path, budget: str, out_dir: Path, parameters: dict, root: Path | None = None,
                 kernel: str = "python3") -> NotebookRun:
    """Run one notebook with papermill (cwd = its folder, MPLBACKEND=Agg); never raises."""
    import papermill as pm

    declared = _declared(path.stem, budget, root, parameters.get("n_train"))
    start = time.time()
    os.environ["MPLBACKEND"] = "Agg"
    error = ""
    try:
        pm.execute_notebook(str(path), str(out_dir / path.name), parameters=parameters,
                            kernel_name=kernel, cwd=str(path.parent), progress_bar=False,
                            log_output=False, config=kernel_config())
    except Exception as exc:  # the runner continues past a failing notebook
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
    seconds = time.time() - start
    fresh = [p for p in declared if p.exists() and p.stat().st_mtime >= start - 1]
    missing = [p for p in declared if p not in fresh]
    status = "failed" if error else ("missing-outputs" if missing else "ok")
    return NotebookRun(path.stem, status, seconds, fresh, missing, error)


def run_all(budget: str, only: str | None = None, workers: int | None = None,
            scheduler: str | None = None, nb_dir: Path | None = None, runs_dir: Path | None = None,
            root: Path | None = None, echo=print, extra: dict[str, Any] | None = None) -> list[NotebookRun]:
    """Execute every (selected) notebook at ``budget`` and return one NotebookRun each.

    ``extra``: further papermill parameters for every notebook (e.g. ``n_train``)."""
    if budget not in BUDGET_NAMES:
        raise ValueError(f"unknown budget {budget!r}; valid budgets: {', '.join(BUDGET_NAMES)}")
    nb_dir = nb_dir or project_root() / "notebooks"
    out_dir = (runs_dir or project_root() / "runs") / budget
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {"budget": budget, "scheduler": scheduler, "workers": workers, **(extra or {})}
    runs = []
    for path in find_notebooks(nb_dir, only):
        echo(f"[{time.strftime('%H:%M:%S')}] {path.stem} ...")
        run = run_notebook(path, budget, out_dir, params, root)
        echo(f"    {run.status} in {run.seconds:.1f} s {run.error}")
        runs.append(run)
    return runs


def format_table(runs: list[NotebookRun], root: Path | None = None) -> str:
    """The closing table: notebook, status, duration, output files (relative to the repo)."""
    base = root or project_root()

    def rel(p: Path) -> str:
        try:
            return str(p.relative_to(base))
        except ValueError:
            return str(p)

    lines = [f"{'notebook':34} {'status':16} {'seconds':>8}  outputs"]
    for r in runs:
        files = ", ".join(rel(p) for p in r.outputs) or "-"
        if r.missing:
            files += "; MISSING: " + ", ".join(rel(p) for p in r.missing)
        lines.append(f"{r.name:34} {r.status:16} {r.seconds:8.1f}  {files}")
        if r.error:
            lines.append(f"{'':34} {r.error}")
    return "\n".join(lines)


def list_notebooks(budget: str, nb_dir: Path | None = None, root: Path | None = None) -> str:
    """Text of ``--list``: each notebook, its paper item and its declared outputs."""
    lines = []
    for path in find_notebooks(nb_dir or project_root() / "notebooks"):
        spec = EXPERIMENTS.get(path.stem)
        lines.append(f"{path.stem}: {spec.paper_item if spec else '(no declared outputs)'}")
        base = root or project_root()
        lines += [f"    {p.relative_to(base) if p.is_relative_to(base) else p}"
                  for p in _declared(path.stem, budget, root)]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    """Command-line interface of ``minde reproduce``."""
    p = argparse.ArgumentParser(prog="minde reproduce", description=__doc__.split("\n")[0])
    p.add_argument("--budget", default="quick", help=f"one of {', '.join(BUDGET_NAMES)} (default quick)")
    p.add_argument("--only", default=None,
                   help="run notebooks whose name matches (comma-separated globs or substrings)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a notebook parameter for every selected notebook (repeatable), e.g. "
                        "-p n_train=10000 -p 'seeds=[0, 1, 2]' -p finished_only=true")
    p.add_argument("--list", action="store_true", help="list notebooks and their declared outputs")
    p.add_argument("--workers", type=int, default=None, help="Dask processes for the sweeps")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address or file for the sweeps")
    p.add_argument("--no-report", action="store_true",
                   help="do not regenerate reports/BUDGET.md after running every notebook")
    p.add_argument("--notebooks", type=Path, default=None, help=argparse.SUPPRESS)  # tests
    p.add_argument("--runs", type=Path, default=None, help=argparse.SUPPRESS)  # tests
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 if every notebook ran and wrote its declared files, 1 otherwise, 2 on bad args."""
    a = _parser().parse_args(argv)
    if a.budget not in BUDGET_NAMES:
        print(f"minde reproduce: error: unknown budget {a.budget!r}; valid budgets: "
              f"{', '.join(BUDGET_NAMES)}", file=sys.stderr)
        return 2
    if a.list:
        print(list_notebooks(a.budget, a.notebooks))
        return 0
    try:
        extra = parse_params(a.param)
    except ValueError as exc:
        print(f"minde reproduce: error: {exc}", file=sys.stderr)
        return 2
    start = time.time()
    runs = run_all(a.budget, a.only, a.workers, a.scheduler, a.notebooks, a.runs, extra=extra)
    if not runs:
        print(f"no notebook matches {a.only!r}", file=sys.stderr)
        return 1
    print(format_table(runs))
    print(f"total {time.time() - start:.1f} s, budget {a.budget}")
    status = 0 if all(r.status == "ok" for r in runs) else 1
    if a.only is None and not a.no_report and not extra:  # every notebook ran: the report comes last
        from minde.repro.report import write_report

        try:
            print(f"claims report: {write_report(a.budget)}")
        except Exception as exc:  # a report that cannot be written must not hide the table above
            print(f"claims report: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
