"""Each notebook's claim from the paper, the rule that tests it on our results, and the verdict.

Each notebook's entry in ``minde.repro.experiments.EXPERIMENTS`` holds its ``Claim``: the artefact
(figure or table), the paper's claim in our words, and one of the verdict functions here.
``minde.repro.experiments.judge(stem, df, budget)`` computes the verdict from the notebook's own
results (the rows it loads or computes); the last cell of every notebook and the claims report
(``minde.repro.report``) call this same function, so both say the same.

A verdict is one of ``holds``, ``partly``, ``does not hold at this budget`` or ``no results``,
decided from named checks (``RULE``): all pass, some pass, none passes, nothing to check. A check
is data (``Check``: a name, the value, the comparison, the threshold); its line of text is written
by ``Check.text`` alone, and ``Verdict.render`` prints a verdict as the notebooks show it.
``Verdict.interpretation`` is one sentence computed from the numbers.
All quantities are in nats. Pandas only: no torch, no plotting.
"""
from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from minde.repro.analysis import WITHIN, aggregate_seeds, form_summary, method_label, pair_summary, variant_order

__all__ = ["HOLDS", "PARTLY", "FAILS", "NO_RESULTS", "VERDICTS", "RULE", "Check", "Verdict", "Claim",
           "decide", "mean_std", "quickstart_verdict", "high_mi_verdict", "consistency_verdict",
           "benchmark_verdict", "training_size_verdict", "importance_sampling_verdict", "sigma_verdict",
           "ema_verdict", "entropy_verdict", "compute_cost_verdict", "debiasing_verdict",
           "sample_size_verdict"]

HOLDS = "holds"
PARTLY = "partly"
FAILS = "does not hold at this budget"
NO_RESULTS = "no results"
VERDICTS = (HOLDS, PARTLY, FAILS, NO_RESULTS)
RULE = (f"**{HOLDS}**: every check passes; **{PARTLY}**: some checks pass, not all; "
        f"**{FAILS}**: no check passes; **{NO_RESULTS}**: nothing to check")

MINDE_VARIANTS = ("minde_c", "minde_c_sigma", "minde_j", "minde_j_sigma")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "≤": operator.le, ">": operator.gt, "≥": operator.ge, "=": operator.eq}


def _number(x: float, fmt: str) -> str:
    """``x`` in ``fmt``, or in three significant digits from 10⁵ on (a runaway estimate of
    -1.9·10⁹ nats reads -1.88e+09, not ten digits and three decimals)."""
    return format(x, ".3g" if abs(x) >= 1e5 else fmt)


@dataclass(frozen=True)
class Check:
    """One named check of a verdict, as data: it passes when ``value op threshold`` holds (a
    missing value never does). ``ok`` overrides that where the rule asks for more than the one
    comparison (e.g. also non-decreasing); ``note`` says where the numbers come from."""

    name: str  # what is compared, e.g. "MINDE-C MAE below CCA's"
    value: float  # the measured number (NaN: none)
    op: str  # one of <, ≤, >, ≥, =
    threshold: float  # what the value is compared with
    note: str = ""  # context: tasks counted, the worst case, ...
    fmt: str = ".3f"  # how value and threshold are written
    ok: bool | None = None  # the pass/fail decision where it is not the comparison alone

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"unknown comparison {self.op!r}; use one of {', '.join(_OPS)}")

    @property
    def passed(self) -> bool:
        """Does the check pass?"""
        if self.ok is not None:
            return bool(self.ok)
        return bool(np.isfinite(self.value) and _OPS[self.op](self.value, self.threshold))

    @property
    def text(self) -> str:
        """The check in one line, e.g. "MINDE-C MAE below CCA's: 0.047 < 0.120 (40 tasks)"."""
        value = _number(self.value, self.fmt) if np.isfinite(self.value) else "none"
        return (f"{self.name}: {value} {self.op} {_number(self.threshold, self.fmt)}"
                + (f" ({self.note})" if self.note else ""))


@dataclass(frozen=True, eq=False)
class Verdict:
    """The outcome of one claim on one set of results."""

    verdict: str  # one of VERDICTS
    threshold: str  # the rule, in words, with its numbers
    interpretation: str = ""  # one sentence computed from the results
    checks: tuple[Check, ...] = ()  # the named checks the verdict is decided from
    table: pd.DataFrame | None = None  # the numbers the checks use
    details: pd.DataFrame | None = None  # per task (or per setting): mean ± std over seeds

    @property
    def passed(self) -> int:
        """How many checks pass."""
        return sum(c.passed for c in self.checks)

    def check_table(self) -> pd.DataFrame:
        """The checks as a table: name, value, comparison, threshold, pass, note."""
        return pd.DataFrame({"check": [c.name for c in self.checks], "value": [c.value for c in self.checks],
                             "op": [c.op for c in self.checks], "threshold": [c.threshold for c in self.checks],
                             "pass": [c.passed for c in self.checks], "note": [c.note for c in self.checks]})

    def check_lines(self) -> list[str]:
        """One markdown checklist line per check: ``[x]`` passed, ``[ ]`` not."""
        return [f"[{'x' if c.passed else ' '}] {c.text}" for c in self.checks]

    def render(self, budget: str) -> str:
        """The verdict as the notebooks print it: verdict and threshold, the checks, the count and
        the interpretation."""
        lines = [str(self)] + [f"  {line}" for line in self.check_lines()]
        lines.append(f"{self.passed} of {len(self.checks)} checks pass at the {budget} budget. {self.interpretation}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return f"verdict: {self.verdict} (threshold: {self.threshold})"


def decide(checks: Sequence[Check]) -> str:
    """``RULE``: holds if every check passes, partly if some do, does not hold if none does."""
    if not checks:
        return NO_RESULTS
    n = sum(c.passed for c in checks)
    return HOLDS if n == len(checks) else PARTLY if n else FAILS


def _verdict(threshold: str, checks: Sequence[Check], interpretation: str,
             table: pd.DataFrame | None = None, details: pd.DataFrame | None = None) -> Verdict:
    """A Verdict decided by ``decide``."""
    if not checks:
        return _none(threshold, interpretation or "Nothing in the results can be checked against the threshold")
    return Verdict(decide(checks), threshold, interpretation, tuple(checks), table, details)


def _none(threshold: str, why: str = "No results for this budget") -> Verdict:
    """The verdict when there is nothing to check."""
    return Verdict(NO_RESULTS, threshold, why if why.endswith(".") else why + ".")


def mean_std(mean: float, std: float, n: int | float = 2) -> str:
    """``mean ± std`` (3 decimals); the std shows as – for a single seed, blank cell for NaN."""
    if mean is None or not np.isfinite(mean):
        return ""
    if n is None or not np.isfinite(n) or n < 2 or std is None or not np.isfinite(std):
        return f"{mean:.3f} ± –"
    return f"{mean:.3f} ± {std:.3f}"


def _span(lo: float, hi: float, fmt: str = ".3f") -> str:
    """"lo to hi", or one number when they agree at this precision."""
    a, b = format(lo, fmt), format(hi, fmt)
    return a if a == b else f"{a} to {b}"


def _count(n: int, noun: str) -> str:
    """"1 task", "40 tasks"."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _ok_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of finished units (sweep results carry a status column)."""
    return df[df["status"] == "ok"] if "status" in df else df


def _seed_table(agg: pd.DataFrame, index: Sequence[str], column: str = "variant") -> pd.DataFrame:
    """Per-task ``mean ± std`` cells, one column per variant, with the truth first."""
    cells = agg.assign(cell=[mean_std(m, s, n) for m, s, n in zip(agg["mean"], agg["std"], agg["n_seeds"])])
    table = cells.pivot_table(index=list(index), columns=column, values="cell", aggfunc="first", sort=False)
    table = table[variant_order(list(table.columns))]
    table.columns = [method_label(c) for c in table.columns]
    truth = agg.groupby(list(index), sort=False)["truth"].first().map(lambda t: f"{t:.3f}")
    return pd.concat([truth.rename("truth"), table], axis=1).reset_index()


def _baseline_checks(err: pd.DataFrame, main: str) -> tuple[list[Check], dict[str, tuple[float, float, int]]]:
    """``main``'s MAE against each baseline's, on the tasks both have (err: task x variant |bias|)."""
    checks, maes = [], {}
    for b in variant_order([c for c in err.columns if not c.startswith("minde_")]):
        both = err[[main, b]].dropna()
        if both.empty:
            continue
        m, e = float(both[main].mean()), float(both[b].mean())
        maes[b] = (m, e, len(both))
        # the medians beside the means: one runaway task can decide a baseline's MAE (docs/method.md §9)
        checks.append(Check(f"{method_label(main)} MAE below {method_label(b)}'s", m, "<", e,
                            f"nats, {_count(len(both), 'task')}; median |error| {both[main].median():.3f} "
                            f"against {both[b].median():.3f}"))
    return checks, maes


def _best_baseline(maes: dict[str, tuple[float, float, int]]) -> tuple[str, str]:
    """The baseline with the lowest MAE among those covering the most tasks (``_baseline_checks``'
    maes: baseline -> (main's MAE, its MAE, tasks)), so a baseline run on a few easy tasks is not
    named the best; and a clause naming the baselines that cover fewer tasks ("" if none)."""
    most = max(n for _, _, n in maes.values())
    best = min((b for b in maes if maes[b][2] == most), key=lambda b: maes[b][1])
    partial = [method_label(b) for b in maes if maes[b][2] < most]
    note = (f" ({', '.join(partial)} cover fewer tasks so far and are compared on the tasks they have)"
            if partial else "")
    return best, note


def _mae_table(agg: pd.DataFrame) -> pd.DataFrame:
    """Per variant: tasks, MAE over tasks, tasks within ``WITHIN`` nats, seeds."""
    tol = WITHIN
    g = agg.assign(abs_bias=agg["bias"].abs(), within=agg["bias"].abs() <= tol).groupby("variant")
    out = pd.DataFrame({"tasks": g.size(), "MAE": g["abs_bias"].mean().round(3),
                        f"within {tol:g} nats": g["within"].sum(), "seeds per task": g["n_seeds"].max()})
    out = out.loc[variant_order(list(out.index))]
    out.index = [method_label(v) for v in out.index]
    return out.rename_axis("estimator").reset_index()


# --- the verdicts, one per notebook ------------------------------------------------------------

QUICKSTART_TOL = 0.03


def quickstart_verdict(res: pd.DataFrame, tol: float = QUICKSTART_TOL) -> Verdict:
    """Quickstart: every MINDE variant within ``tol`` nats of the bivariate normal's closed-form MI."""
    threshold = (f"each of MINDE-C, MINDE-C(σ), MINDE-J and MINDE-J(σ) within {tol:g} nats of the "
                 "closed-form MI")
    if res is None or res.empty:
        return _none(threshold)
    g = res.groupby("variant")
    agg = pd.DataFrame({"mean": g["estimate"].mean(), "std": g["estimate"].std(),
                        "n_seeds": g["estimate"].count(), "truth": g["truth"].first()})
    checks, errs = [], {}
    for v in MINDE_VARIANTS:
        if v not in agg.index:
            checks.append(Check(f"{method_label(v)} |error|", np.nan, "≤", tol, "no estimate", ".4f"))
            continue
        m, t = agg.loc[v, "mean"], agg.loc[v, "truth"]
        errs[v] = abs(m - t)
        checks.append(Check(f"{method_label(v)} |error|", errs[v], "≤", tol,
                            f"nats; estimate {m:.4f}, truth {t:.4f}", ".4f"))
    table = pd.DataFrame({"estimator": [method_label(v) for v in errs],
                          "estimate (mean ± std)": [mean_std(agg.loc[v, "mean"], agg.loc[v, "std"],
                                                             agg.loc[v, "n_seeds"]) for v in errs],
                          "truth": [round(float(agg.loc[v, "truth"]), 4) for v in errs],
                          "|error|": [round(float(e), 4) for e in errs.values()]})
    truth = float(agg["truth"].iloc[0])
    interp = (f"The {len(errs)} estimates lie {_span(min(errs.values()), max(errs.values()))} nats "
              f"from the true MI of {truth:.4f} nats, and {sum(e <= tol for e in errs.values())} of "
              f"{len(MINDE_VARIANTS)} variants are within {tol:g} nats.") if errs else ""
    return _verdict(threshold, checks, interp, table)


HIGH_MI_MIN_TRUTH = 3.0


def high_mi_verdict(df: pd.DataFrame, min_truth: float = HIGH_MI_MIN_TRUTH, main: str = "minde_c") -> Verdict:
    """Figure 1: ``main``'s MAE over the tasks with true MI >= ``min_truth`` below every baseline's."""
    threshold = (f"{method_label(main)}'s MAE over the tasks with true MI ≥ {min_truth:g} nats below "
                 "every baseline's")
    ok = _ok_rows(df)
    if ok.empty or main not in set(ok["variant"]):
        return _none(threshold)
    agg = aggregate_seeds(ok, by=("task", "variant"))
    high = agg[agg["truth"] >= min_truth]
    if high.empty:
        return _none(threshold, f"No task has a true MI of at least {min_truth:g} nats")
    err = high.assign(e=high["bias"].abs()).pivot_table(index="task", columns="variant", values="e")
    if main not in err.columns:
        return _none(threshold, f"{method_label(main)} has no task with a true MI of at least {min_truth:g} nats yet")
    checks, maes = _baseline_checks(err, main)
    table = _mae_table(high).rename(columns={"MAE": f"MAE (truth ≥ {min_truth:g})"})
    table.insert(2, "MAE (all tasks)", _mae_table(agg)["MAE"].to_numpy())
    details = _seed_table(agg.sort_values(["truth", "task"], kind="stable"), ["task"])
    interp = ""
    if maes:
        best, partial = _best_baseline(maes)
        top = high[high["truth"] == high["truth"].max()]
        at_top = top.loc[top["variant"] == main, "mean"]
        interp = (f"On the {err[main].notna().sum()} tasks with true MI ≥ {min_truth:g} nats, "
                  f"{method_label(main)}'s MAE is {maes[best][0]:.2f} nats against {maes[best][1]:.2f} "
                  f"for {method_label(best)} (the lowest baseline MAE){partial}; at the largest true MI, "
                  f"{top['truth'].max():.2f} nats, {method_label(main)} estimates "
                  f"{_span(at_top.min(), at_top.max(), '.2f')} across {len(at_top)} task(s).")
    return _verdict(threshold, checks, interp, table, details)


CONSISTENCY_TOLS = {"baseline": 0.1, "data_processing": 0.1, "additivity": 0.2}


def _estimator_name(method: str, variant: str) -> str:
    """MINDE-C / MINDE-C(σ) / InfoNCE from the consistency rows' method and variant."""
    return method_label(method) + ("(σ)" if variant == "mi_sigma" else "")


def consistency_verdict(df: pd.DataFrame, tols: dict[str, float] | None = None) -> Verdict:
    """Figure 2: each MINDE estimator passes the baseline, data-processing and additivity tests."""
    tol = {**CONSISTENCY_TOLS, **(tols or {})}
    threshold = (f"for every MINDE estimator, on its ratios' means over seeds: (a) the baseline ratio "
                 f"non-decreasing in r and ending "
                 f"within {tol['baseline']:g} of 1 (at r = 28 it is 1 by construction); (b) every "
                 f"data-processing ratio within {tol['data_processing']:g} of 1; (c) every additivity "
                 f"ratio within {tol['additivity']:g} of 2")
    if df is None or df.empty:
        return _none(threshold)
    ratio = df.groupby(["test", "method", "variant", "r"], sort=True)["ratio"].mean()
    checks: list[Check] = []
    rows, counts = [], {"baseline": [0, 0], "data_processing": [0, 0], "additivity": [0, 0]}
    add_range: dict[bool, list[float]] = {True: [], False: []}
    for (method, variant), _ in df.groupby(["method", "variant"], sort=True):
        name, is_minde = _estimator_name(method, variant), method.upper().startswith("MINDE")
        row = {"estimator": name}
        found: list[Check] = []
        if ("baseline", method, variant) in ratio.index.droplevel("r"):
            a = ratio.loc[("baseline", method, variant)]
            mono, end = bool((np.diff(a.to_numpy()) >= 0).all()), float(a.iloc[-1])
            row.update({"(a) non-decreasing": "yes" if mono else "no", "(a) ratios by r":
                        ", ".join(f"{r}: {v:.2f}" for r, v in a.items())})
            found.append(("baseline", Check(
                f"{name} (a) |baseline ratio − 1| at the largest r", abs(end - 1), "≤", tol["baseline"],
                f"ends at {end:.2f}; {'non-decreasing' if mono else 'not monotone, which fails'} in r",
                ok=None if mono else False)))
        if ("data_processing", method, variant) in ratio.index.droplevel("r"):
            b = ratio.loc[("data_processing", method, variant)]
            dev = float((b - 1).abs().max())
            row["(b) max |ratio − 1|"] = f"{dev:.3f}"
            found.append(("data_processing", Check(f"{name} (b) max |ratio − 1|", dev, "≤",
                                                   tol["data_processing"])))
        if ("additivity", method, variant) in ratio.index.droplevel("r"):
            c = ratio.loc[("additivity", method, variant)]
            dev = float((c - 2).abs().max())
            row["(c) ratios"] = f"{c.min():.2f} to {c.max():.2f}"
            add_range[is_minde] += [float(c.min()), float(c.max())]
            found.append(("additivity", Check(f"{name} (c) max |ratio − 2|", dev, "≤", tol["additivity"])))
        rows.append(row)
        if is_minde:
            for test, check in found:
                counts[test][0] += check.passed
                counts[test][1] += 1
                checks.append(check)
    table = pd.DataFrame(rows).fillna("")
    cells = df.groupby(["test", "r", "method", "variant"], sort=True)["ratio"].mean().reset_index()
    cells["estimator"] = [_estimator_name(m, v) for m, v in zip(cells["method"], cells["variant"])]
    details = cells.pivot_table(index=["test", "r"], columns="estimator", values="ratio", sort=True).round(3)
    if "ideal" in df:
        details.insert(0, "ideal", df.groupby(["test", "r"], sort=True)["ideal"].first())
    details = details.reset_index()
    interp = ""
    if checks:
        parts = [f"({k}) {counts[t][0]}/{counts[t][1]}" for k, t in
                 (("a", "baseline"), ("b", "data_processing"), ("c", "additivity")) if counts[t][1]]
        interp = "MINDE's checks passed, by test: " + ", ".join(parts)
        if add_range[True]:
            interp += f"; MINDE's additivity ratios: {_span(min(add_range[True]), max(add_range[True]), '.2f')}"
        if add_range[False]:
            interp += (f", the baselines': {_span(min(add_range[False]), max(add_range[False]), '.2f')} "
                       "(ideal 2)")
        interp += "."
    return _verdict(threshold, checks, interp, table, details)


def benchmark_verdict(df: pd.DataFrame, main: str = "minde_c") -> Verdict:
    """Table 1 and Figures 3-4: ``main``'s MAE over the tasks below every baseline's."""
    threshold = f"{method_label(main)}'s MAE over the tasks below every baseline's"
    ok = _ok_rows(df)
    if ok.empty or main not in set(ok["variant"]):
        return _none(threshold)
    agg = aggregate_seeds(ok, by=("task", "variant"))
    err = agg.assign(e=agg["bias"].abs()).pivot_table(index="task", columns="variant", values="e")
    checks, maes = _baseline_checks(err, main)
    table = _mae_table(agg)
    details = _seed_table(agg, ["task"])
    interp = ""
    if maes:
        best, partial = _best_baseline(maes)
        within = int((err[main] <= WITHIN).sum())
        interp = (f"Over {int(err[main].notna().sum())} tasks {method_label(main)} has an MAE of "
                  f"{float(err[main].mean()):.3f} nats and is within {WITHIN:g} nats of the truth on {within}; "
                  f"the lowest baseline MAE is {method_label(best)}'s {maes[best][1]:.3f} nats, and "
                  f"{method_label(main)} is below {sum(c.passed for c in checks)} of {len(checks)} baselines"
                  f"{partial}.")
    return _verdict(threshold, checks, interp, table, details)


def training_size_verdict(df: pd.DataFrame, mains: Sequence[str] = ("minde_c", "minde_j")) -> Verdict:
    """Figures 5-8: each MINDE estimator's MAE over the tasks falls from each training size to the next."""
    threshold = ("the MAE over the tasks of MINDE-C (and of MINDE-J, when run) lower at each training "
                 "size than at the next smaller one")
    ok = _ok_rows(df)
    if ok.empty:
        return _none(threshold)
    agg = aggregate_seeds(ok)
    sizes = sorted(int(n) for n in agg["n_train"].unique())
    if len(sizes) < 2:
        return _none(threshold, f"Only one training size (n_train = {sizes[0]}) is in these results; the claim "
                                "compares two or more.")
    # each size against the next smaller one, on the tasks that have both: a larger size may cover
    # a subset of the tasks, or none yet, and each pair is judged and described on its own tasks
    # the standard error of a task's seed mean (NaN with one seed) says how much of a change of
    # the MAE the seeds alone would explain; it is reported beside each check, not used to pass it
    err = agg.assign(e=agg["bias"].abs(), se=agg["std"] / np.sqrt(agg["n_seeds"].where(agg["n_seeds"] > 1)))
    rows, checks, interp = [], [], []
    for v in variant_order(list(agg["variant"].unique())):
        both = err[err["variant"] == v].pivot_table(index="task", columns="n_train", values=["e", "se"], dropna=False)
        full, se = both["e"], both["se"]
        steps = []
        for a, b in zip(sizes, sizes[1:]):
            pair = full[[a, b]].dropna() if {a, b} <= set(full.columns) else pd.DataFrame()
            if pair.empty:
                continue
            before, after, k = float(pair[a].mean()), float(pair[b].mean()), len(pair)
            falls = int((pair[b] < pair[a]).sum())
            spread = float(np.sqrt((se.loc[pair.index, [a, b]] ** 2).to_numpy().sum()) / k)
            rows.append({"estimator": method_label(v), "n_train": f"{a} → {b}", "tasks": k,
                         "MAE before": round(before, 3), "MAE after": round(after, 3),
                         "change": round(after - before, 3), "its standard error": round(spread, 3),
                         "error falls on": falls})
            if v in mains:
                checks.append(Check(f"{method_label(v)} MAE at n_train = {b} below at {a}", after, "<", before,
                                    f"nats, {_count(k, 'task')}; change {after - before:+.3f}"
                                    + (f", standard error {spread:.3f} from the seeds" if np.isfinite(spread) else "")))
                steps.append(f"{before:.3f} → {after:.3f} nats from n_train = {a} to {b} "
                             f"({_count(k, 'task')}, lower on {falls})")
        if steps:
            interp.append(f"{method_label(v)}'s MAE goes " + " and ".join(steps))
    table = pd.DataFrame(rows)
    details = _seed_table(agg, ["task", "n_train"])
    return _verdict(threshold, checks, "; ".join(interp) + ("." if interp else ""), table, details)


def _paired_verdict(df: pd.DataFrame, column: str, chosen: str, other: str, threshold: str,
                    names: tuple[str, str]) -> Verdict:
    """Ablations with two settings: the paper's ``chosen`` against ``other`` over (task, variant) pairs."""
    if df is None or df.empty or not {chosen, other} <= set(df[column]):
        return _none(threshold)
    g = df.groupby(["task", "variant", column], sort=False)["estimate"]
    agg = pd.DataFrame({"mean": g.mean(), "std": g.std(), "n": g.count()}).unstack(column)
    truth = df.groupby(["task", "variant"], sort=False)["truth"].first()
    err_c, err_o = (agg[("mean", chosen)] - truth).abs(), (agg[("mean", other)] - truth).abs()
    mc, mo = float(err_c.mean()), float(err_o.mean())
    wins, n = int((err_c < err_o).sum()), len(err_c)
    checks = [Check(f"mean |error| with {chosen} below with {other}", mc, "<", mo, "nats"),
              Check(f"(task, variant) pairs where {chosen} has the lower |error|", wins, ">", n / 2,
                    f"a majority of {n}", "g")]
    seeds = int(agg[("n", chosen)].min())
    spread = ""
    if seeds >= 2:
        sc, so = float(agg[("std", chosen)].mean()), float(agg[("std", other)].mean())
        checks.append(Check(f"mean std over seeds with {chosen} below with {other}", sc, "<", so, "nats"))
        spread = f"; over {seeds} seeds its mean std is {sc:.3f} nats against {so:.3f}"
    else:
        spread = "; with one seed the spread over seeds cannot be compared"
    table = pd.DataFrame({
        "task": [t for t, _ in agg.index], "estimator": [method_label(v) for _, v in agg.index],
        "truth": truth.round(3).to_numpy(),
        chosen: [mean_std(m, s, k) for m, s, k in zip(agg[("mean", chosen)], agg[("std", chosen)], agg[("n", chosen)])],
        other: [mean_std(m, s, k) for m, s, k in zip(agg[("mean", other)], agg[("std", other)], agg[("n", other)])],
        f"|error| {chosen}": err_c.round(3).to_numpy(), f"|error| {other}": err_o.round(3).to_numpy()})
    interp = (f"With {names[0]} the mean |error| is {mc:.3f} nats against {mo:.3f} with {names[1]}, lower on "
              f"{wins} of {n} (task, variant) pairs{spread}.")
    return _verdict(threshold, checks, interp, table)


def importance_sampling_verdict(df: pd.DataFrame) -> Verdict:
    """Ablation: t ~ q(t) (importance sampling, the paper's choice) against t ~ U[ε, 1]."""
    threshold = ("importance sampling gives a lower mean |error| than uniform t over the (task, variant) "
                 "pairs, a lower |error| on a majority of them and, with two or more seeds, a lower mean "
                 "std over seeds")
    return _paired_verdict(df, "sampling", "importance", "uniform", threshold,
                           ("importance sampling", "uniform t"))


def ema_verdict(df: pd.DataFrame) -> Verdict:
    """Ablation: estimation with the EMA weights (the paper's choice) against the raw weights."""
    threshold = ("EMA weights give a lower mean |error| than the raw weights over the (task, variant) pairs, "
                 "a lower |error| on a majority of them and, with two or more seeds, a lower mean std "
                 "over seeds")
    return _paired_verdict(df, "weights", "EMA", "raw", threshold, ("EMA weights", "raw weights"))


SIGMA_TOL = 0.1


def sigma_verdict(df: pd.DataFrame, tol: float = SIGMA_TOL) -> Verdict:
    """Ablation: each (σ) estimate moves by at most ``tol`` nats over the σ grid."""
    threshold = (f"for every task and (σ) variant, the estimate (mean over seeds) moves by at most "
                 f"{tol:g} nats (max − min) across the σ grid")
    if df is None or df.empty:
        return _none(threshold)
    s = df[df["variant"].str.endswith("_sigma")]
    if s.empty or s["sigma"].nunique() < 2:
        return _none(threshold, "Fewer than two values of σ")
    means = s.groupby(["task", "variant", "sigma"], sort=False)["estimate"].mean().unstack("sigma")
    means = means[sorted(means.columns)]
    spread = means.max(axis=1) - means.min(axis=1)
    lo, hi = min(means.columns), max(means.columns)
    checks = [Check(f"{t} {method_label(v)} spread over σ ∈ [{lo:g}, {hi:g}]", sp, "≤", tol, "nats")
              for (t, v), sp in spread.items()]
    table = means.round(3)
    table.columns = [f"σ = {c:g}" for c in table.columns]
    table.insert(0, "truth", s.groupby(["task", "variant"], sort=False)["truth"].first().round(3))
    table["spread"] = spread.round(3)
    table = table.reset_index()
    table["variant"] = table["variant"].map(method_label)
    worst = spread.idxmax()
    interp = (f"Over σ from {lo:g} to {hi:g} the (σ) estimates move by {_span(spread.min(), spread.max())} "
              f"nats (the most: {method_label(worst[1])} on {worst[0]}); "
              f"{int((spread <= tol).sum())} of {len(spread)} stay within {tol:g} nats.")
    return _verdict(threshold, checks, interp, table)


ENTROPY_TOL_PER_DIM = 0.1


def entropy_verdict(df: pd.DataFrame, tol_per_dim: float = ENTROPY_TOL_PER_DIM) -> Verdict:
    """Ablation: each entropy estimate within ``tol_per_dim`` nats per dimension of the closed form."""
    threshold = (f"every entropy estimate within {tol_per_dim:g} nats per dimension of its closed form "
                 "(d for H(X), H(X|Y), H(Y|X); 2d for H(X,Y))")
    if df is None or df.empty:
        return _none(threshold)
    g = df.groupby(["problem", "dim", "kind", "quantity"], sort=False)
    agg = pd.DataFrame({"mean": g["estimate"].mean(), "std": g["estimate"].std(),
                        "n": g["estimate"].count(), "truth": g["truth"].first()}).reset_index()
    agg["dims"] = [2 * d if q == "H(X,Y)" else d for d, q in zip(agg["dim"], agg["quantity"])]
    agg["error"] = (agg["mean"] - agg["truth"]).abs()
    agg["allowed"] = tol_per_dim * agg["dims"]
    names = [f"{p} MINDE-{k.upper()} {q}" for p, k, q in zip(agg["problem"], agg["kind"], agg["quantity"])]
    checks = [Check(f"{nm} |error|", e, "≤", a, "nats")
              for nm, e, a in zip(names, agg["error"], agg["allowed"])]
    per_dim = agg["error"] / agg["dims"]
    worst = int(per_dim.to_numpy().argmax())
    table = pd.DataFrame({"problem": agg["problem"], "estimator": "MINDE-" + agg["kind"].str.upper(),
                          "quantity": agg["quantity"], "truth": agg["truth"].round(3),
                          "estimate (mean ± std)": [mean_std(m, s, n) for m, s, n in
                                                    zip(agg["mean"], agg["std"], agg["n"])],
                          "|error|": agg["error"].round(3), "allowed": agg["allowed"].round(2)})
    interp = (f"{sum(c.passed for c in checks)} of {len(checks)} entropy estimates are within {tol_per_dim:g} "
              f"nats per dimension of the closed form; the largest error per dimension is "
              f"{per_dim.iloc[worst]:.3f} nats ({names[worst]}).")
    return _verdict(threshold, checks, interp, table)


STATED_SECONDS, STATED_STEPS, COST_FACTOR = 30.0, 10_000, 2.0  # README "Budgets": ~30 s per quick 1v1 model


def compute_cost_verdict(df: pd.DataFrame, budget: str, factor: float = COST_FACTOR) -> Verdict:
    """Compute cost: MINDE's training time per step on tasks with d_x <= 5 within ``factor`` times the
    stated ~30 s per 10 000-step model (README "Budgets", ``minde.config``)."""
    from minde.config import get_budget, resolve_settings

    stated_ms = 1000 * STATED_SECONDS / STATED_STEPS
    limit = factor * stated_ms
    threshold = (f"every MINDE unit on a task with d_x ≤ 5 trains at ≤ {limit:g} ms per step ({factor:g} × "
                 f"the stated ~{STATED_SECONDS:g} s per {STATED_STEPS}-step model, i.e. {stated_ms:g} ms per step)")
    if df is None or df.empty:
        return _none(threshold)
    rows = df.copy()
    rows["dim_x"] = [int(str(d).split("+")[0]) for d in rows["dims"]]
    is_minde = rows["method"].str.startswith("minde_") & (rows["status"] == "ok")
    rows["steps"] = [resolve_settings(get_budget(budget), dx, int(n), kind=meth[6]).steps if m else np.nan
                     for dx, n, m, meth in zip(rows["dim_x"], rows["n_train"], is_minde, rows["method"])]
    rows["ms per step"] = 1000 * rows["train_seconds"] / rows["steps"]
    small = rows[is_minde & (rows["dim_x"] <= 5)]
    checks = [Check(f"{t} {method_label(m)} ms per step", ms, "≤", limit, f"{s:.1f} s for {int(k)} steps", ".2f")
              for t, m, s, k, ms in zip(small["task"], small["method"], small["train_seconds"], small["steps"],
                                        small["ms per step"])]
    cols = ["task", "dims", "method", "n_train", "status", "wall_seconds", "train_seconds", "estimate_seconds",
            "steps", "ms per step", "peak_rss_mib"]
    table = rows[[c for c in cols if c in rows]].copy()
    table["method"] = table["method"].map(method_label)
    for c in ("wall_seconds", "train_seconds", "estimate_seconds", "ms per step", "peak_rss_mib"):
        if c in table:
            table[c] = table[c].round(2)
    table["steps"] = table["steps"].map(lambda k: "" if not np.isfinite(k) else str(int(k)))
    interp = ""
    if len(small):
        minde_mem = rows.loc[is_minde, "peak_rss_mib"]
        base_mem = rows.loc[~rows["method"].str.startswith("minde_"), "peak_rss_mib"]
        ms, sec = small["ms per step"], small["train_seconds"]
        interp = (f"MINDE trains at {_span(ms.min(), ms.max(), '.2f')} ms per step on tasks with d_x ≤ 5 "
                  f"({_span(sec.min(), sec.max(), '.0f')} s per model) against the stated {stated_ms:g} ms; its "
                  f"peak memory is {_span(minde_mem.min(), minde_mem.max(), '.0f')} MiB"
                  + (f", the baselines' {_span(base_mem.min(), base_mem.max(), '.0f')} MiB." if len(base_mem) else "."))
    return _verdict(threshold, checks, interp, table)


RECIPE_BASELINE = "constant-is"  # the quick budget's recipe before the recipe study
RECIPE_TARGETS = {"minde_c": 0.06, "minde_j": 0.10}  # MAE targets (nats) of a recipe worth adopting


def recipe_verdict(df: pd.DataFrame) -> Verdict:
    """Recipe study: for each kind, its best recipe beats the constant-rate, importance-sampled
    quick recipe of the same step budget and reaches the MAE target (the quick budget adopts each
    kind's best recipe, docs/method.md §7)."""
    from minde.repro.analysis import recipe_summary

    threshold = (f"for MINDE-C and for MINDE-J, the recipe with the lowest MAE beats `{RECIPE_BASELINE}` "
                 f"and reaches MAE ≤ {RECIPE_TARGETS['minde_c']} (MINDE-C) and ≤ {RECIPE_TARGETS['minde_j']} "
                 "(MINDE-J)")
    df = _ok_rows(df) if "status" in df else df
    if df.empty or RECIPE_BASELINE not in set(df.get("recipe", ())):
        return _none(threshold)
    summary = recipe_summary(df)
    s = summary.set_index(["recipe", "variant"])["mae"].unstack("variant")
    if not set(RECIPE_TARGETS) <= set(s.columns):
        return _none(threshold, "The study has not run both kinds yet")
    s = s.dropna(subset=list(RECIPE_TARGETS))
    checks: list[Check] = []
    best: dict[str, str] = {}
    for v, target in RECIPE_TARGETS.items():
        best[v] = str(s[v].idxmin())
        base, mae = float(s.loc[RECIPE_BASELINE, v]), float(s.loc[best[v], v])
        checks.append(Check(f"{best[v]}: {v} MAE below {RECIPE_BASELINE}'s", mae, "<", base))
        checks.append(Check(f"{best[v]}: {v} MAE", mae, "≤", target))
    tasks = int(summary["tasks"].max())
    interp = (f"Over the {tasks} problems every recipe has reached, the best recipe for MINDE-C is "
              f"{best['minde_c']} (MAE {s.loc[best['minde_c'], 'minde_c']:.3f}) and for MINDE-J "
              f"{best['minde_j']} (MAE {s.loc[best['minde_j'], 'minde_j']:.3f}), against {RECIPE_BASELINE}'s "
              f"{s.loc[RECIPE_BASELINE, 'minde_c']:.3f} and {s.loc[RECIPE_BASELINE, 'minde_j']:.3f}. The quick "
              "budget trains each kind with its best recipe; the 40-task benchmark at the quick budget is "
              "the test of that choice on tasks the study did not screen.")
    return _verdict(threshold, checks, interp, table=s.round(4))


DEBIAS_TARGETS = {"mae": 0.06, "within": 36 / 40, "wide_mae": 0.10}  # cross-model MINDE-J (docs/method.md §17)
DEBIAS_WIDE = 25  # d_x from which a task is wide (analysis.form_summary's default)


def debiasing_verdict(df: pd.DataFrame) -> Verdict:
    """Cross-model MINDE (docs/method.md §17): both kinds evaluated jointly on every task of the
    results; on the tasks with a joint evaluation, MINDE-J's MAE, share within ``WITHIN`` nats and
    MAE on the wide tasks at their ``DEBIAS_TARGETS``; MINDE-C's MAE no higher than the paper
    estimator's."""
    from minde.bench.tasks import get_task

    threshold = ("both kinds evaluated jointly on every task; "
                 f"cross-model MINDE-J: MAE ≤ {DEBIAS_TARGETS['mae']:g}, within {WITHIN:g} nats on ≥ "
                 f"{100 * DEBIAS_TARGETS['within']:g} % of the tasks ({round(40 * DEBIAS_TARGETS['within'])} of 40), "
                 f"MAE ≤ {DEBIAS_TARGETS['wide_mae']:g} on the tasks with d_x ≥ {DEBIAS_WIDE}; "
                 "cross-model MINDE-C: MAE no higher than MINDE-C's")
    ok = _ok_rows(df)
    if ok.empty or not ok["variant"].str.endswith("_cross").any():
        return _none(threshold, "No joint (cross-model) evaluations in these results")
    agg = aggregate_seeds(ok, by=("task", "variant"))
    table = form_summary(agg, {t: get_task(t).dim_x for t in agg["task"].unique()}, WITHIN, DEBIAS_WIDE)
    within, wide = f"within_{WITHIN:g}", f"mae_dx_ge_{DEBIAS_WIDE}"  # its columns
    tasks = agg["task"].nunique()
    checks: list[Check] = []
    rows = {label: table.loc[label] for label in table.index}
    j, c = rows.get("MINDE-J cross-model"), rows.get("MINDE-C cross-model")
    for label, row in (("MINDE-C", c), ("MINDE-J", j)):
        covered = 0 if row is None else int(row["tasks"])
        checks.append(Check(f"{label} tasks evaluated jointly", covered, "=", tasks, "every task", "g"))
    if j is not None:
        n = int(j["tasks"])
        checks += [Check("MINDE-J cross-model MAE", j["mae"], "≤", DEBIAS_TARGETS["mae"], f"nats, {n} tasks"),
                   Check(f"MINDE-J cross-model tasks within {WITHIN:g} nats", int(j[within]), "≥",
                         DEBIAS_TARGETS["within"] * n, f"of {n}: at least {DEBIAS_TARGETS['within']:.0%}", "g")]
        if pd.notna(j[wide]):
            checks.append(Check(f"MINDE-J cross-model MAE on d_x ≥ {DEBIAS_WIDE}", j[wide], "≤",
                                DEBIAS_TARGETS["wide_mae"], "nats"))
    if c is not None and "MINDE-C" in rows:
        checks.append(Check("MINDE-C cross-model MAE no higher than MINDE-C's", c["mae"], "≤",
                            rows["MINDE-C"]["mae"], "nats"))
    interp = ""
    if j is not None and "MINDE-J" in rows:
        interp = (f"On {int(j['tasks'])} tasks the cross-model MINDE-J has an MAE of {j['mae']:.3f} nats against "
                  f"{rows['MINDE-J']['mae']:.3f} for the paper's MINDE-J (d_x ≥ {DEBIAS_WIDE}: {j[wide]:.3f} "
                  f"against {rows['MINDE-J'][wide]:.3f}).")
    pairs = pair_summary(ok, {t: get_task(t).dim_x for t in ok["task"].unique()}, WITHIN, DEBIAS_WIDE)
    for _, r in pairs.iterrows():
        interp += (f" With two of the {int(r['models'])} models (mean over the pairs) MINDE-{r['kind'].upper()} "
                   f"cross-model has an MAE of {r['mae_pair']:.3f} against {r['mae_k']:.3f} with all "
                   f"{int(r['models'])} ({int(r['tasks'])} tasks; d_x ≥ {DEBIAS_WIDE}: {r[wide + '_pair']:.3f} "
                   f"against {r[wide + '_k']:.3f}); the pairs of a task differ by {r['pair_std']:.3f} nats "
                   "(standard deviation, mean over the tasks).")
    return _verdict(threshold, checks, interp.strip(),
                    table.drop(columns=["worst_3"]).rename_axis("estimator").round(4))


SMALL_DATA_TARGETS = {"c": 1_000, "j": 2_000}  # rows from which the defaults must be within tolerance
SMALL_DATA_TOL = (0.1, 0.25)  # tolerance: max(this many nats, this share of the truth)
SMALL_DATA_FEW = 500  # at most this many rows: MINDE's MAE compared with KSG's


def _tolerance(truth: pd.Series) -> pd.Series:
    """max(0.1 nats, 25 % of the truth) (``SMALL_DATA_TOL``): the small-data study's tolerance
    (docs/method.md §18)."""
    return np.maximum(SMALL_DATA_TOL[0], SMALL_DATA_TOL[1] * truth.abs())


def sample_size_verdict(df: pd.DataFrame, budget: str, plan: Any) -> Verdict:
    """Small data sets with the defaults (docs/method.md §18): every (task, n, seed) of the
    budget's plan computed; no estimate above twice the truth without a warning; every estimate
    within ``SMALL_DATA_TOL`` of the truth from ``SMALL_DATA_TARGETS`` rows; at the plan's sizes of
    at most ``SMALL_DATA_FEW`` rows MINDE's MAE at most KSG's, or every such result warned."""
    nats, share = f"{SMALL_DATA_TOL[0]:g}", f"{100 * SMALL_DATA_TOL[1]:g} %"
    tol = f"max({nats}, {share})"
    few = [int(n) for n in plan.options["sizes"] if n <= SMALL_DATA_FEW]
    threshold = ("with the defaults: no MINDE estimate above twice the truth without a warning; from "
                 f"{SMALL_DATA_TARGETS['c']} rows (MINDE-C) and {SMALL_DATA_TARGETS['j']} rows (MINDE-J) every "
                 f"estimate within max({nats} nats, {share}) of the truth; at "
                 f"{' and '.join(str(n) for n in few)} rows MINDE's MAE at most "
                 "KSG's on the same rows, or every such result carries a warning")
    few_rows = "-".join(str(n) for n in dict.fromkeys((min(few), max(few)))) if few else ""
    if df is None or df.empty or "method" not in df:
        return _none(threshold)
    d = df.copy()
    d["err"] = (d["estimate"] - d["truth"]).abs()
    d["warned"] = d["warned"].astype(str).str.lower().eq("true")
    ours = d[d["method"].isin(["minde_c", "minde_j"])]
    want = {(t, n, s) for t in plan.tasks for n in plan.options["sizes"] for s in plan.seeds}
    have = set(zip(d["task"], d["n"].astype(int), d["seed"].astype(int))) & want
    checks: list[Check] = [Check(f"(task, n, seed) of the {budget} plan computed", len(have), "=", len(want),
                                 fmt="g")]  # have is a subset of want
    loud = ours[(ours["estimate"] > 2 * ours["truth"]) & ~ours["warned"]]
    checks.append(Check("MINDE estimates above twice the truth without a warning", len(loud), "=", 0,
                        f"of {len(ours)}", "g"))
    for kind, rows in SMALL_DATA_TARGETS.items():
        big = ours[(ours["method"] == f"minde_{kind}") & (ours["n"] >= rows)]
        if big.empty:
            continue
        bad = big[big["err"] > _tolerance(big["truth"])]
        worst = big.loc[big["err"].idxmax()]
        checks.append(Check(f"MINDE-{kind.upper()} estimates from {rows} rows farther than {tol} from the truth",
                            len(bad), "=", 0, f"of {len(big)}; worst {worst['task']} n={int(worst['n'])} seed "
                            f"{int(worst['seed'])}: {worst['estimate']:.3f} for {worst['truth']:.3f}", "g"))
    small = d[d["n"] <= SMALL_DATA_FEW]
    ksg = small[small["method"] == "ksg"]["err"].mean()
    for kind in ("c", "j"):
        mine = small[small["method"] == f"minde_{kind}"]
        if mine.empty or not np.isfinite(ksg):
            continue
        checks.append(Check(f"MINDE-{kind.upper()} MAE at {few_rows} rows at most KSG's", mine["err"].mean(), "≤", ksg,
                            f"{int(mine['warned'].sum())} of {len(mine)} warned; all warned also passes",
                            ok=True if bool(mine["warned"].all()) else None))
    table = (d.groupby(["method", "n"])["err"].mean().unstack("n").rename_axis(index="method (MAE)", columns="n")
             .round(4))
    former = d[d["method"].str.endswith("_former")]
    interp = ""
    nce = small[small["method"] == "infonce"]["err"]
    if not nce.empty:
        interp = f"At {few_rows} rows InfoNCE's MAE is {nce.mean():.3f} nats (KSG's {ksg:.3f}). "
    if not former.empty:
        now = d[d["method"].isin(former["method"].str.replace("_former", "", regex=False).unique())
                & d["n"].isin(former["n"].unique())]
        interp += (f"Where both were run, the defaults' MAE is {now['err'].mean():.3f} nats against "
                  f"{former['err'].mean():.3f} for the former defaults (largest former estimate "
                  f"{former['estimate'].max():.2f} nats).")
    return _verdict(threshold, checks, interp, table)


# --- a claim ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """What one notebook's results are checked against (its entry in
    ``minde.repro.experiments.EXPERIMENTS`` holds it)."""

    artefact: str  # the paper's figure or table (or the notebook's subject)
    summary: str  # the claim in a few words, for the summary table
    claim: str  # the claim in one or two sentences (our words)
    verdict: Callable[[pd.DataFrame, str, Any], Verdict]  # (results, budget, plan) -> Verdict
