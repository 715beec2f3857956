"""The claims report: for each notebook, the paper's claim, its figure, the numbers and a verdict.

    minde report --budget smoke|quick|paper [--out DIR]
    minde report --budget paper --n-train 10000 --training-sizes 5000,10000,50000 --seeds 0-2 --only STEM,STEM

writes ``<DIR or project root>/reports/<budget>.md`` (``<budget>_n<N>.md`` for one training size
and its seeds, e.g. the paper protocol at 10 000 samples) from the results under
``data/results/<experiment>/<budget>/`` alone (nothing is computed): unit records of the sweeps
and the tables the other notebooks store. Verdicts come from ``minde.repro.experiments.judge``, the
function each notebook's last cell calls. The report lists the code revision (``git_rev``) of
every record used and flags any that is ``+dirty``, unknown, or not an ancestor of HEAD
(``minde.repro.provenance``), and any results file git does not hold as committed. The output
is deterministic (no dates, sorted everything), so a committed report equals its regeneration.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from minde._io import atomic_write, figure_dir, project_root, results_root
from minde.config import BUDGETS
from minde.repro import results as res
from minde.repro.claims import NO_RESULTS, RULE, Verdict
from minde.repro.experiments import (
    EXPERIMENTS,
    check_budget,
    epoch_rule,
    get_plan,
    judge,
    output_stem,
    results_folder,
    wants_joint,
)
from minde.repro.provenance import RevisionStatus, git, revision_status
from minde.repro.store import budget_fingerprint

__all__ = ["ORDER", "Loaded", "load_results", "build_report", "write_report", "report_path",
           "main"]


ORDER = tuple(EXPERIMENTS)  # the registry's order: the paper's items, then beyond it


@dataclass
class Loaded:
    """One notebook's committed results and what the report says about them."""

    stem: str  # notebook stem
    folder: Path  # data/results/<experiment>/<budget>
    df: pd.DataFrame | None = None  # the rows the notebook's verdict reads (None: no results)
    records: str = ""  # what was read, e.g. "200 unit records"
    revisions: Counter = field(default_factory=Counter)  # git_rev -> number of records
    n_train: str = ""  # training sizes
    steps: str = ""  # training steps, and where they come from
    seeds: str = ""  # seeds
    recipe: str = ""  # non-empty: the results were trained with an earlier recipe of the budget


def _ints(values: Iterable) -> str:
    """Sorted distinct integers, comma-separated."""
    vals = sorted({int(v) for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))})
    return ", ".join(str(v) for v in vals)


def _budget_steps(budget: str) -> str:
    """The budget's MINDE steps, in words."""
    b = BUDGETS[budget]
    return (f"{b.steps} (the {budget} budget's; not stored in the results)" if b.steps is not None
            else "the paper's epoch rule, docs/method.md §7 (not stored in the results)")


def _load_sweep(stem: str, budget: str, root: Path, out: Loaded, sizes: list[int] | None = None,
                seeds: list[int] | None = None) -> Loaded:
    """Unit records of a sweep experiment (results.csv when there are none); ``sizes`` /
    ``seeds``: only the records of those training sizes and seeds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", res.CorruptRecordWarning)
        recs = res.load_units(out.folder.parent.name, budget, root)
    recs = {k: r for k, r in recs.items()
            if (sizes is None or r.n_train in sizes) and (seeds is None or r.seed in seeds)}
    if recs:
        from minde.repro.units import DOE_METHODS, MINDE_METHODS, outdated_records

        stale = outdated_records(recs, budget, epoch_rule(stem, budget))
        n_checked = sum(r.ok and r.method in MINDE_METHODS + DOE_METHODS for r in recs.values())
        if stale:
            k, why = next(iter(sorted(stale.items())))
            out.recipe = (f"{len(stale)} of {n_checked} MINDE and DoE unit records were trained with other settings than "
                          f"the {budget} budget's current recipe (e.g. {k[0]} {k[1]} seed {k[3]}: {why}); the "
                          "verdict and numbers below leave them out; rerun the notebook, and the sweep retrains them")
        joint = wants_joint(stem, budget)  # only the debiasing study reads all joint evaluations (§17)
        rows = [r for k, rec in recs.items() if k not in stale for r in rec.rows()
                if res.shown_variant(r["variant"], joint)]
        df = pd.DataFrame(rows, columns=res.TIDY_COLUMNS[2:])  # empty when every record is stale
        df = df.sort_values(["task", "method", "variant", "n_train", "seed"], kind="stable")
        out.df = df.reset_index(drop=True)
        out.records = f"{len(recs)} unit records ({len(df)} variant rows)"
        out.revisions = Counter(rec.git_rev for rec in recs.values())
        steps: dict[str, set] = {}
        for rec in recs.values():
            s = rec.extra.get("settings", {}).get("steps") if isinstance(rec.extra, dict) else None
            if rec.method.startswith("minde_") and s is not None:
                steps.setdefault(rec.method, set()).add(int(s))
        out.steps = ("; ".join(f"{m}: {_ints(v)}" for m, v in sorted(steps.items()))
                     + " (MINDE units, from the records' settings; baselines: docs/method.md §9)") if steps else ""
    elif (out.folder / "results.csv").is_file():
        out.df = pd.read_csv(out.folder / "results.csv")
        out.records = f"results.csv ({len(out.df)} rows; no unit records)"
        out.revisions = Counter(out.df["git_rev"].fillna("").astype(str)) if "git_rev" in out.df else Counter()
    if out.df is not None and not out.df.empty:
        out.n_train, out.seeds = _ints(out.df["n_train"]), _ints(out.df["seed"])
    return out


def _sizes(n_train: int | Sequence[int] | None) -> str:
    """A training size or sizes as the report writes them."""
    return str(n_train) if n_train is None or isinstance(n_train, int) else ", ".join(str(n) for n in n_train)


def _compares_sizes(stem: str, budget: str) -> bool:
    """Does notebook ``stem``'s plan at ``budget`` compare training sizes (Figures 5-8)?"""
    sizes = get_plan(stem, budget).n_train
    return sizes is not None and len(sizes) > 1


def _meta(folder: Path) -> dict:
    """meta.json of a results folder ({} when missing or unreadable)."""
    try:
        return json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _load_table(stem: str, budget: str, out: Loaded) -> Loaded:
    """A table stored by the notebook (``minde.repro.store``), with the revision per row in a
    ``git_rev`` column (rows without one, and tables stored before rows were stamped: meta.json's);
    a ratio table's ``git_rev_denominator`` adds the revisions of denominators computed elsewhere."""
    spec = EXPERIMENTS[stem]
    path = out.folder / "results.csv"
    if not path.is_file():
        return out
    df = pd.read_csv(path)
    meta = _meta(out.folder)
    out.df, out.records = df, f"results.csv ({len(df)} rows)"
    if "git_rev" in df:  # rows stamped one by one (a table computed in parts, e.g. the recipe study)
        revs = df["git_rev"].fillna(str(meta.get("git_rev", ""))).astype(str)
        out.revisions = Counter(revs)
        if "git_rev_denominator" in df:  # a ratio also rests on its denominator's revision
            den = df["git_rev_denominator"].fillna(str(meta.get("git_rev", ""))).astype(str)
            out.revisions.update(den[den != revs])
    else:
        out.revisions = Counter({str(meta.get("git_rev", "")): len(df)})
    params = meta.get("params", {}) if isinstance(meta.get("params"), dict) else {}
    if not spec.own_recipe and params.get("budget_settings") != budget_fingerprint(budget):
        out.recipe = (f"these results were computed under {'other' if 'budget_settings' in params else 'unrecorded'} "
                      f"settings of the {budget} budget (an earlier training recipe); rerun the notebook, "
                      "which recomputes them")
    if spec.store == "consistency":
        from minde.repro.consistency import CONSISTENCY_BUDGETS

        cfg = CONSISTENCY_BUDGETS[budget]
        out.n_train = f"{cfg.n_train} MNIST training images ({cfg.n_test} test; the {budget} budget's)"
        out.steps = (f"{cfg.minde_steps} (the {budget} budget's, docs/method.md §11; not stored in the results)"
                     if cfg.minde_steps else _budget_steps(budget))
    else:
        out.n_train = (_ints(df["n_train"]) if "n_train" in df
                       else f"{BUDGETS[budget].n_train} (the {budget} budget's)")
        out.steps = (_ints(df["steps"]) + " (from the results)") if "steps" in df else _budget_steps(budget)
    if "seed" in df:
        out.seeds = _ints(df["seed"])
    elif "seed" in params:
        out.seeds = _ints([params["seed"]])
    return out


def load_results(stem: str, budget: str, root: str | os.PathLike | None = None,
                 n_train: int | Sequence[int] | None = None,
                 seeds: Iterable[int] | None = None) -> Loaded:
    """The committed results of notebook ``stem`` at ``budget`` under the results root ``root``;
    ``n_train`` / ``seeds``: only the rows of that training size (or those sizes) and those seeds
    (a sweep's)."""
    root = Path(root) if root is not None else results_root()
    out = Loaded(stem, root / results_folder(stem, budget) / budget)
    sizes = [n_train] if isinstance(n_train, int) else None if n_train is None else list(n_train)
    picked = None if seeds is None else list(seeds)
    out = (_load_sweep(stem, budget, root, out, sizes, picked) if EXPERIMENTS[stem].store == "sweep"
           else _load_table(stem, budget, out))
    if (n_train is not None or seeds is not None) and out.df is not None and "n_train" in out.df:
        keep = out.df["n_train"].isin(sizes) if sizes is not None else out.df["n_train"].notna()
        if seeds is not None:
            keep &= out.df["seed"].isin(list(seeds))
        out.df = out.df[keep].reset_index(drop=True)
        out.records += f"; this report reads the {len(out.df)} rows with n_train = {_sizes(n_train)}" + (
            f" and seeds {_ints(seeds)}" if seeds is not None else "")
        if not out.df.empty:
            out.n_train, out.seeds = _ints(out.df["n_train"]), _ints(out.df["seed"])
    return out


def _uncommitted(folder: Path, repo: Path) -> str:
    """A note when files under ``folder`` are untracked, ignored or modified in git ("" if none)."""
    if not folder.exists():
        return ""
    out = git(repo, "status", "--porcelain", "--ignored", "--untracked-files=all", "--", str(folder.resolve()))
    if out is None or out.returncode != 0:
        return "cannot check whether these results are committed (no git repository)"
    lines = [ln for ln in out.stdout.splitlines() if ln.strip()]
    if not lines:
        return ""
    kinds = Counter({"??": "untracked", "!!": "git-ignored"}.get(ln[:2], "modified") for ln in lines)
    return ("results files not committed: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))


# --- rendering ----------------------------------------------------------------------------------

def _cell(v) -> str:
    """One table cell: numbers compact, NaN blank, pipes escaped."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return str(int(v)) if v == round(v) and abs(v) < 1e12 else f"{v:.3f}"
    if isinstance(v, (np.integer,)):
        return str(int(v))
    return str(v).replace("|", "\\|").replace("\n", " ")


def md_table(df: pd.DataFrame) -> str:
    """A DataFrame as a GitHub markdown table: a named index (e.g. the recipe of each row) becomes
    the first column(s); an unnamed one (0, 1, ...) is dropped."""
    if any(name is not None for name in df.index.names):
        df = df.reset_index()
    head = [_cell(c) for c in df.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def _rel(path: Path, base: Path) -> str:
    """``path`` relative to ``base``, with forward slashes."""
    return Path(os.path.relpath(path, base)).as_posix()


def _short(rev: str) -> str:
    """A revision as the report shows it."""
    return f"`{rev}`" if rev else "none recorded"


def _section(stem: str, budget: str, loaded: Loaded, verdict: Verdict, statuses: dict[str, RevisionStatus],
             project: Path, report_dir: Path, repo: Path, details_in: str | None = None,
             n_train: int | Sequence[int] | None = None) -> list[str]:
    """The markdown of one notebook's section."""
    claim = EXPERIMENTS[stem].claim
    lines = [f"## {claim.artefact} (`notebooks/{stem}.ipynb`)", "",
             f"**Paper item.** {EXPERIMENTS[stem].paper_item}.", "",
             f"**Claim.** {claim.claim}", "",
             f"**Verdict: {verdict.verdict}** — threshold: {verdict.threshold}."]
    if verdict.checks:
        lines[-1] += f" ({verdict.passed} of {len(verdict.checks)} checks pass.)"
    lines += ["", verdict.interpretation, ""]
    pngs = [figure_dir(budget, project) / f"{output_stem(f, n_train)}.png" for f in EXPERIMENTS[stem].figures]
    lines += ["**Figure.** " + " ".join(
        f"[`{_rel(p, project)}`]({_rel(p, report_dir)})" + ("" if p.is_file() else " (not generated)")
        for p in pngs), ""]
    lines += [f"![{claim.artefact}]({_rel(p, report_dir)})" for p in pngs if p.is_file()]
    lines.append("")
    where = _rel(loaded.folder, project) + "/"
    if loaded.df is None:
        lines += [f"**Results.** none under `{where}`.", ""]
        return lines
    lines += [f"**Results.** `{where}`: {loaded.records}. n_train: {loaded.n_train or 'not recorded'}; "
              f"steps: {loaded.steps or 'not recorded'}; seeds: {loaded.seeds or 'not recorded'}.", ""]
    note = _uncommitted(loaded.folder, repo)
    if note:
        lines += [f"**FLAG:** {note}.", ""]
    if loaded.recipe:
        lines += [f"**FLAG (earlier recipe):** {loaded.recipe}.", ""]
    revs = []
    for rev, n in sorted(loaded.revisions.items()):
        st = statuses[rev]
        what = f"{_short(rev)} ({n} records): {st.status}" if rev else f"{st.status} ({n} records)"
        revs.append(what + (" — **FLAGGED**" if st.flagged else ""))
    lines += ["**Code revisions.** " + "; ".join(revs) + ".", ""]
    if verdict.checks:
        lines += ["**Checks.**", ""]
        lines += [f"- {line}" for line in verdict.check_lines()]
        lines.append("")
    if verdict.table is not None and not verdict.table.empty:
        lines += ["**Numbers.** MI and entropies in nats; `mean ± std` over seeds (– with a single seed).", "",
                  md_table(verdict.table), ""]
    if details_in:
        lines += [f"Per-task numbers: see {details_in} above (the same results).", ""]
    elif verdict.details is not None and not verdict.details.empty:
        lines += ["<details><summary>Per task or setting</summary>", "", md_table(verdict.details), "",
                  "</details>", ""]
    return lines


def build_report(budget: str, results: str | os.PathLike | None = None, report_dir: str | os.PathLike | None = None,
                 repo: str | os.PathLike | None = None, stems: Iterable[str] = ORDER, n_train: int | None = None,
                 seeds: Iterable[int] | None = None, training_sizes: Sequence[int] | None = None) -> str:
    """The report's markdown for ``budget`` (results root ``results``; links relative to ``report_dir``);
    ``n_train`` / ``seeds``: one training size and its seeds (e.g. the paper protocol at 10 000
    samples, seeds 0-2), with the figures the notebooks write for it (``output_stem``);
    ``training_sizes``: with ``n_train``, the sizes a notebook whose plan compares training sizes
    (Figures 5-8) reads instead, e.g. 5 000, 10 000 and 50 000 (those computed so far are shown)."""
    check_budget(budget)
    project = project_root()
    repo = Path(repo) if repo is not None else project
    report_dir = Path(report_dir) if report_dir is not None else project / "reports"
    stems = list(stems)
    seeds = sorted(seeds) if seeds is not None else None
    training_sizes = list(training_sizes) if training_sizes and n_train is not None else None
    # a notebook whose plan compares training sizes reads ``training_sizes`` (default: n_train)
    size = {s: training_sizes if training_sizes and _compares_sizes(s, budget) else n_train for s in stems}
    loaded = {s: load_results(s, budget, results, size[s], seeds) for s in stems}
    verdicts = {s: judge(s, loaded[s].df, budget) for s in stems}
    revs = sorted({r for ld in loaded.values() for r in ld.revisions})
    statuses = {r: revision_status(r, repo) for r in revs}
    flagged = [r for r in revs if statuses[r].flagged]

    where = f"{budget} budget" if n_train is None else (
        f"{'paper protocol' if budget == 'paper' else budget + ' budget'} at n_train = {n_train:,}".replace(",", " ")
        + (f", seeds {_ints(seeds)}" if seeds is not None else ""))
    command = f"minde report --budget {budget}" + (
        f" --n-train {n_train}" if n_train is not None else "") + (
        f" --training-sizes {','.join(str(n) for n in training_sizes)}" if training_sizes else "") + (
        f" --seeds {','.join(str(s) for s in seeds)}" if seeds is not None else "") + (
        f" --only {','.join(stems)}" if n_train is not None else "")
    regenerated = ("`make reproduce` regenerates it last. " if n_train is None else
                   "`make paper-10k` regenerates it after the figures. " if (budget, n_train) == ("paper", 10_000)
                   else "")
    lines = [f"# Claims report: {where}", "",
             f"Written by `{command}` from the results under "
             f"`data/results/<experiment>/{budget}/` alone (unit records and the CSVs the notebooks "
             "cache); nothing is recomputed. " + regenerated + "Each verdict is "
             "computed by `minde.repro.experiments.judge`, the function each notebook's last cell calls, "
             "and its threshold is written next to it. Verdict rule: " + RULE + ". All quantities are in "
             "nats; the paper is Franzese, Bounoua and Michiardi, ICLR 2024 (arXiv:2310.09031), and "
             "docs/method.md describes what the code computes.", "",
             "## Summary", "",
             "| artefact | claim | verdict | budget |", "|---|---|---|---|"]
    for s in stems:
        lines.append(f"| {EXPERIMENTS[s].claim.artefact} | {EXPERIMENTS[s].claim.summary} | {verdicts[s].verdict} | "
                     f"{budget if n_train is None else f'{budget}, n_train = {_sizes(size[s])}'} |")
    lines.append("")
    # the results folder each notebook read at this budget (fig03 and tab01 share one; at the paper
    # budget fig05 reads the benchmark's too)
    folder = {s: loaded[s].folder.parent.name for s in stems}
    by_exp = {folder[s]: loaded[s].revisions for s in stems}
    n_flag = sum(c.get(r, 0) for c in by_exp.values() for r in flagged)
    missing = [EXPERIMENTS[s].claim.artefact for s in stems if verdicts[s].verdict == NO_RESULTS and loaded[s].df is None]
    lines.append(f"**Provenance:** {len(flagged)} of {len(revs)} recorded code revisions flagged "
                 f"({n_flag} records; see \"Code revisions\" below)." if revs else
                 "**Provenance:** no records.")
    if missing:
        lines.append(f"No results for this budget: {', '.join(missing)}.")
    old = [EXPERIMENTS[s].claim.artefact for s in stems if loaded[s].recipe]
    lines.append(f"**Training recipe:** {len(old)} of {len(stems)} artefacts rest on results trained with an "
                 f"earlier recipe of the {budget} budget" + (
                     f" ({', '.join(old)}; flagged below). A sweep's verdict leaves such MINDE units out; a "
                     "cached table's verdict is computed from it and flagged." if old else "."))
    uncovered = sorted(p.name for p in (project / "notebooks").glob("*.ipynb") if p.stem not in EXPERIMENTS)
    if uncovered:
        lines.append("Notebooks without an entry in the registry (`minde.repro.experiments.EXPERIMENTS`): "
                     f"{', '.join(f'`{n}`' for n in uncovered)}.")
    lines.append("")
    # (experiment, sizes) -> artefact whose section showed those rows' per-task numbers
    shown: dict[tuple[str, str], str] = {}
    for s in stems:
        rows = (folder[s], _sizes(size[s]))
        lines += _section(s, budget, loaded[s], verdicts[s], statuses, project, report_dir, repo,
                          shown.get(rows), size[s])
        shown.setdefault(rows, EXPERIMENTS[s].claim.artefact)
    lines += ["## Code revisions", "",
              "Every `git_rev` stamped on the records used above, checked against this checkout's HEAD. "
              "Flagged: `+dirty` (computed with uncommitted changes in `minde/`), no revision recorded, a "
              "commit this repository does not know, or one that is not an ancestor of HEAD.", ""]
    if revs:
        table = pd.DataFrame({
            "revision": [_short(r) for r in revs],
            "records (unit records or CSV rows)": [sum(c.get(r, 0) for c in by_exp.values()) for r in revs],
            "results": [", ".join(sorted(e for e, c in by_exp.items() if r in c)) for r in revs],
            "status": [statuses[r].status for r in revs],
            "flagged": ["**yes**" if statuses[r].flagged else "no" for r in revs]})
        lines += [md_table(table), ""]
    else:
        lines += ["No records.", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def report_path(budget: str, out: str | os.PathLike | None = None, n_train: int | None = None) -> Path:
    """``<out or project root>/reports/<budget>.md`` (``<budget>_n<n_train>.md`` for one size)."""
    name = check_budget(budget) + ("" if n_train is None else f"_n{int(n_train)}")
    return (Path(out) if out is not None else project_root()) / "reports" / f"{name}.md"


def write_report(budget: str, out: str | os.PathLike | None = None,
                 results: str | os.PathLike | None = None, n_train: int | None = None,
                 seeds: Iterable[int] | None = None, stems: Iterable[str] = ORDER,
                 training_sizes: Sequence[int] | None = None) -> Path:
    """Write the report of ``budget`` (atomically) and return its path."""
    path = report_path(budget, out, n_train)
    atomic_write(path, build_report(budget, results, report_dir=path.parent, stems=stems, n_train=n_train,
                                    seeds=seeds, training_sizes=training_sizes))
    return path


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 when the report is written, 2 on bad arguments."""
    p = argparse.ArgumentParser(prog="minde report", description=__doc__.split("\n")[0])
    p.add_argument("--budget", required=True, help="smoke, quick or paper")
    p.add_argument("--out", default=None, help="write DIR/reports/BUDGET.md (default: the project root)")
    p.add_argument("--results", default=None, help=argparse.SUPPRESS)  # tests: another results root
    p.add_argument("--n-train", type=int, default=None,
                   help="only this training size (writes reports/BUDGET_nN.md), e.g. 10000 at the paper budget")
    p.add_argument("--seeds", default=None, help="with --n-train: only these seeds, e.g. 0-2")
    p.add_argument("--training-sizes", default=None, metavar="N,N,...",
                   help="with --n-train: the sizes a training-size notebook reads instead (Figures 5-8), "
                        "e.g. 5000,10000,50000")
    p.add_argument("--only", default=None, help="comma list of notebook stems (default: every notebook)")
    a = p.parse_args(argv)
    try:
        check_budget(a.budget)
        stems = [s for s in a.only.split(",") if s] if a.only else list(ORDER)
        unknown = [s for s in stems if s not in EXPERIMENTS]
        if unknown:
            raise ValueError(f"unknown notebook(s) {unknown}; known: {', '.join(ORDER)}")
        if (a.seeds is not None or a.training_sizes is not None) and a.n_train is None:
            raise ValueError("--seeds and --training-sizes go with one --n-train; give --n-train too")
        from minde.repro.sweep import _positive_sizes, parse_seeds

        seeds = parse_seeds(a.seeds) if a.seeds is not None else None
        sizes = _positive_sizes("--training-sizes", a.training_sizes) if a.training_sizes else None
    except ValueError as exc:
        print(f"minde report: error: {exc}", file=sys.stderr)
        return 2
    path = write_report(a.budget, a.out, a.results, a.n_train, seeds, stems, sizes)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
