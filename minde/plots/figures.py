"""Figures and tables from tidy results (docs/method.md §8-§13): saving helpers and plot functions.

Imports only numpy, pandas, matplotlib and seaborn, never training code, so figures can be
re-plotted from the shipped CSVs anywhere. Estimates and truths are in nats.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from minde._io import atomic_write, csv_text, figure_dir  # noqa: E402
from minde.repro.analysis import LABELS, method_label, variant_order  # noqa: E402
from minde.repro.results import is_joint_variant  # noqa: E402

__all__ = ["save_figure", "save_table", "plot_estimates_vs_truth", "plot_high_mi",
           "plot_benchmark_table", "cell_label", "plot_training_size", "plot_lines", "plot_table", "plot_recipe_study",
           "plot_bias_vs_dimension"]

# no creation date in PDFs, so re-plotting unchanged results leaves the committed files unchanged
_STABLE_METADATA = {"pdf": {"CreationDate": None}}
# one distinct colour per entry of LABELS: the paper's MINDE variants, seven dark ones for the
# cross-model and loss-difference variants, a teal for the MINDE-J answer (two models), then matplotlib's other six and three dark ones for KDE and
# DoE, then two for the former small-data defaults (docs/method.md §18)
_PALETTE = [f"C{i}" for i in range(4)] + ["#000000", "#7f3b08", "#542788", "#b2182b", "#666666", "#b35806",
                                          "#8073ac"] + ["#01857a"] + \
    [f"C{i}" for i in range(4, 10)] + ["#1b1b7a", "#a0760b", "#2f5f4f"] + ["#e7298a", "#66a61e"]


def save_figure(fig: Figure, stem: str, budget: str, formats: Sequence[str] = ("pdf", "png"),
                root: str | os.PathLike | None = None, dpi: int = 150) -> list[Path]:
    """write ``fig`` as ``<figure_dir(budget)>/<stem>.<fmt>`` atomically; return the paths."""
    if not stem or "/" in stem:
        raise ValueError(f"stem must be a plain file stem, got {stem!r}")
    out = figure_dir(budget, root)
    return [atomic_write(out / f"{stem}.{fmt}",
                          lambda fh, fmt=fmt: fig.savefig(fh, format=fmt, dpi=dpi, bbox_inches="tight",
                                                           metadata=_STABLE_METADATA.get(fmt)))
            for fmt in formats]


def save_table(df: pd.DataFrame, stem: str, budget: str, root: str | os.PathLike | None = None) -> Path:
    """write a table as ``<figure_dir(budget)>/<stem>.csv`` atomically.

    A meaningful index (method names, task ids) is written as the first column, headed by its
    name or "method"; a plain 0..n-1 row index is left out. Rows keep the order of ``df`` (the
    analysis functions make it canonical); floats are written with ``minde._io.CSV_DIGITS``
    significant digits, so a re-plot that sums in another order rewrites the same bytes.
    """
    path = figure_dir(budget, root) / f"{stem}.csv"
    plain = isinstance(df.index, pd.RangeIndex) and df.index.name is None
    label = None if plain or df.index.nlevels > 1 else (df.index.name or "method")
    return atomic_write(path, csv_text(df, index=not plain, index_label=label))


def _colours(variants: Sequence[str]) -> dict[str, str]:
    """A fixed colour per variant so that every figure uses the same one."""
    return {v: _PALETTE[i] for i, v in enumerate(LABELS) if v in set(variants)} | {
        v: "grey" for v in set(variants) - set(LABELS)}


def _grid(n: int, ncols: int, size: tuple[float, float]) -> tuple[Figure, list]:
    """A figure with n panels on a grid of ncols columns (unused panels hidden)."""
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def _log_ticks(ax, values) -> None:
    """Log x-axis labelled with the plotted values only (no overlapping minor labels)."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ticks = sorted(set(float(v) for v in values))
    ax.set_xticks(ticks, [f"{v:g}" for v in ticks], fontsize=7)
    ax.xaxis.set_minor_formatter(NullFormatter())


def _legend(fig: Figure, axes, right: bool = False) -> None:
    """One legend for the whole figure without duplicates: below the panels, or in one column to
    their right (``right``, for a figure too narrow to hold it below)."""
    seen: dict[str, object] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    if not seen:
        return
    if right:
        fig.legend(list(seen.values()), list(seen), loc="center left", frameon=False, bbox_to_anchor=(1.0, 0.5))
        return
    fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=min(len(seen), 7),
               frameon=False, bbox_to_anchor=(0.5, -0.02))


def _task_panels(agg: pd.DataFrame, tasks: Sequence[str], ncols: int, title: str | None,
                 bottom: float, draw) -> Figure:
    """One panel per task with the task's truth dashed, one legend below, an optional title.

    ``draw(ax, sub, variants, colours)`` plots one task's rows ``sub`` (mean ± std per variant).
    """
    if not len(tasks):  # e.g. a partial sweep that has not reached these tasks yet
        fig, ax = plt.subplots(figsize=(6.0, 2.0))
        ax.axis("off")
        ax.text(0.5, 0.5, "no finished results for these tasks yet", ha="center", va="center")
        if title:
            ax.set_title(title)
        return fig
    variants = variant_order(agg["variant"].unique())
    colours = _colours(variants)
    fig, axes = _grid(len(tasks), ncols, (3.0, 2.6))
    for ax, task in zip(axes, tasks):
        sub = agg[agg["task"] == task]
        draw(ax, sub, variants, colours)
        if len(sub):
            ax.axhline(float(sub["truth"].iloc[0]), color="black", ls="--", lw=1, label="ground truth")
        ax.set_title(task, fontsize=7)
        ax.set_ylabel("MI (nats)", fontsize=8)
    right = len(tasks) < 3  # one or two panels: the legend would be wider than the figure below them
    _legend(fig, axes, right)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0 if right else bottom, 1, 1))
    return fig


# Figures 3–4: an estimate further than FAR * max(|truth|, 0.2) nats from the truth (a fit that ran
# away) would set its panel's scale alone; it is drawn at the panel's edge with its value written
FAR = 5.0


def plot_estimates_vs_truth(agg: pd.DataFrame, tasks: Sequence[str], ncols: int = 5,
                            title: str | None = None) -> Figure:
    """docs/method.md §8 (Figures 3–4): one panel per task, mean ± std over seeds per variant, truth
    dashed; an estimate further than ``FAR`` times the truth from it is a triangle at the panel's
    edge, its value written beside it. Estimators beyond the paper (cross-model, loss-difference) are
    diamonds, the paper's own and the baselines circles."""
    def draw(ax, sub: pd.DataFrame, variants: list[str], colours: dict[str, str]) -> None:
        sub = sub.set_index("variant")
        truth = float(sub["truth"].iloc[0]) if len(sub) else 0.0
        far = sub.index[(sub["mean"] - truth).abs() > FAR * max(abs(truth), 0.2)]
        near = sub.drop(index=far)
        for i, v in enumerate(variants):
            if v in sub.index:  # a far estimate: its legend entry only (no point), the triangle below
                y = np.nan if v in far else sub.at[v, "mean"]
                ax.errorbar(i, y, yerr=sub.at[v, "std"], fmt="D" if is_joint_variant(v) else "o", ms=5,
                            capsize=3, color=colours[v], label=method_label(v))
        if len(far):  # the scale of the others and the truth; the far estimates at its edge, written out
            spread = near["std"].fillna(0.0)
            lo = float(np.min([truth, *(near["mean"] - spread)]))
            hi = float(np.max([truth, *(near["mean"] + spread)]))
            pad = 0.1 * (hi - lo) or 0.1 * max(abs(truth), 0.2)
            ax.set_ylim(lo - pad, hi + pad)
            row = {True: 0, False: 0}  # far values on one edge: their labels alternate between two rows
            for i, v in enumerate(variants):
                if v in far:
                    up = bool(sub.at[v, "mean"] > truth)
                    y = hi + pad if up else lo - pad
                    ax.plot(i, y, "^" if up else "v", ms=7, color=colours[v], clip_on=False, label="_far")
                    inset = 9 * (1 + row[up] % 2)
                    row[up] += 1
                    ax.annotate(cell_label(float(sub.at[v, "mean"])), (i, y), xytext=(0, -inset if up else inset),
                                textcoords="offset points", ha="center", va="center", fontsize=6, color=colours[v])
        ax.set_xticks([])
        ax.grid(alpha=0.3, axis="y")

    return _task_panels(agg, tasks, ncols, title, 0.06, draw)


def plot_high_mi(agg: pd.DataFrame, transforms: Sequence[str] = ("sparse", "half_cube", "spiral"),
                 titles: Sequence[str] = ("(a) original", "(b) half-cube", "(c) spiral")) -> Figure:
    """docs/method.md §10 (Figure 1): one column per transform, x = true MI, y = estimate, identity dashed."""
    variants = variant_order(agg["variant"].unique())
    colours = _colours(variants)
    fig, axes = plt.subplots(1, len(transforms), figsize=(4.0 * len(transforms), 3.8), squeeze=False)
    axes = list(axes.flat)
    hi = float(np.nanmax(np.r_[agg["truth"], agg["mean"] + agg["std"], 1.0]))
    for ax, tr, ttl in zip(axes, transforms, titles):
        sub = agg[agg["transform"] == tr]
        for v in variants:
            s = sub[sub["variant"] == v].sort_values("truth")
            if len(s):
                ax.errorbar(s["truth"], s["mean"], yerr=s["std"], marker="o", ms=4, capsize=2,
                            color=colours[v], label=method_label(v))
        ax.plot([0, hi], [0, hi], color="black", ls="--", lw=1, label="true MI")
        ax.set(title=ttl, xlabel="true MI (nats)", ylabel="estimated MI (nats)")
        ax.grid(alpha=0.3)
    _legend(fig, axes)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def cell_label(value: float) -> str:
    """A Table 1 cell's text, at most five characters so that labels never overlap: one decimal
    below 10 nats, whole nats below 1 000, else one significant digit (a fit that ran away:
    -1.9e9 nats reads "-2e9")."""
    if abs(value) < 9.95:
        return f"{value:.1f}"
    if abs(value) < 999.5:
        return f"{value:.0f}"
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def plot_benchmark_table(table: pd.DataFrame, clip: float = 1.0) -> Figure:
    """docs/method.md §8 (Table 1): cells show the estimate, coloured by bias (estimate - truth), clipped."""
    bias = table.iloc[1:] - table.iloc[0]
    colour = np.vstack([np.zeros((1, table.shape[1])), bias.to_numpy(float)])
    fig, ax = plt.subplots(figsize=(0.42 * table.shape[1] + 2.5, 0.42 * table.shape[0] + 2.2))
    im = ax.imshow(np.clip(colour, -clip, clip), cmap="RdBu_r", vmin=-clip, vmax=clip, aspect="auto")
    for (i, j), val in np.ndenumerate(table.to_numpy(float)):
        if np.isfinite(val):  # white text on the dark (strongly biased) cells
            ink = "white" if abs(colour[i, j]) > 0.6 * clip else "black"
            ax.text(j, i, cell_label(val), ha="center", va="center", fontsize=6, color=ink)
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=90, fontsize=6)
    ax.set_yticks(range(table.shape[0]), table.index, fontsize=8)
    ax.axhline(0.5, color="black", lw=1)
    fig.colorbar(im, ax=ax, shrink=0.6, label=f"bias = estimate − truth (nats, clipped at ±{clip:g})")
    fig.tight_layout()
    return fig


def plot_training_size(agg: pd.DataFrame, tasks: Sequence[str], ncols: int = 5,
                       title: str | None = None) -> Figure:
    """docs/method.md §12 (Figures 5–8): estimate vs training size (log x), mean ± std, truth dashed."""
    def draw(ax, sub: pd.DataFrame, variants: list[str], colours: dict[str, str]) -> None:
        for v in variants:
            s = sub[sub["variant"] == v].sort_values("n_train")
            if len(s):
                ax.errorbar(s["n_train"], s["mean"], yerr=s["std"], marker="o", ms=3, capsize=2,
                            color=colours[v], label=method_label(v))
        _log_ticks(ax, sub["n_train"])
        ax.set_xlabel("training size", fontsize=8)
        ax.grid(alpha=0.3)

    return _task_panels(agg, tasks, ncols, title, 0.07, draw)


def plot_lines(df: pd.DataFrame, x: str, y: str, hue: str, panel: str, truth: str | None = "truth",
               err: str | None = None, logx: bool = False, ylabel: str = "MI (nats)",
               identity: bool = False) -> Figure:
    """docs/method.md §13 ablations: y against x, one line per ``hue``, one panel per ``panel`` value.

    A non-numeric ``x`` (e.g. "EMA" / "raw") is placed at 0, 1, ... in order of appearance and
    labelled on the axis, so each line joins one method's estimates across the settings.
    """
    if df.empty:  # nothing computed yet: one empty panel that says so
        fig, axes = _grid(1, 1, (3.4, 2.9))
        axes[0].text(0.5, 0.5, "no results", transform=axes[0].transAxes, ha="center", va="center", color="0.4")
        axes[0].set(xlabel=x, ylabel=ylabel)
        return fig
    cats: list[Any] | None = None
    if not pd.api.types.is_numeric_dtype(df[x]):
        cats = list(dict.fromkeys(df[x]))
        df = df.assign(**{x: df[x].map({c: i for i, c in enumerate(cats)})})
    panels = list(dict.fromkeys(df[panel]))
    fig, axes = _grid(len(panels), 4, (3.4, 2.9))
    for ax, p in zip(axes, panels):
        sub = df[df[panel] == p]
        for i, (h, s) in enumerate(sub.groupby(hue, sort=False)):
            s = s.sort_values(x)
            ax.errorbar(s[x], s[y], yerr=None if err is None else s[err], marker="o", ms=4,
                        capsize=2, color=f"C{i}", label=method_label(str(h)))
        if identity:
            lo, hi = float(np.nanmin(sub[[x, y]])), float(np.nanmax(sub[[x, y]]))
            ax.plot([lo, hi], [lo, hi], color="black", ls="--", lw=1, label="closed form")
        elif truth is not None and len(sub):
            ax.axhline(float(sub[truth].iloc[0]), color="black", ls="--", lw=1, label="ground truth")
        if logx:
            _log_ticks(ax, sub[x])
        if cats is not None:
            ax.set_xticks(range(len(cats)), [str(c) for c in cats])
            ax.set_xlim(-0.4, len(cats) - 0.6)
        ax.set(title=str(p), xlabel=x, ylabel=ylabel)
        ax.title.set_fontsize(8)
        ax.grid(alpha=0.3)
    _legend(fig, axes)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def plot_table(df: pd.DataFrame, title: str | None = None, fmt: str = "{:.3g}") -> Figure:
    """Render a small table (e.g. compute cost) as a figure for PDF/PNG output; a missing value
    (NaN, e.g. the GPU memory of a CPU run) shows as "–"."""

    def cell(v) -> str:
        if isinstance(v, (float, np.floating)):
            return "–" if np.isnan(v) else fmt.format(v)
        return str(v)

    cells = [[cell(v) for v in row] for row in df.itertuples(index=False)]
    fig, ax = plt.subplots(figsize=(0.9 * df.shape[1] + 1, 0.3 * len(df) + 0.8))
    ax.axis("off")
    tab = ax.table(cellText=cells, colLabels=list(df.columns), loc="center")
    tab.auto_set_font_size(False)
    tab.set_fontsize(7)
    tab.auto_set_column_width(list(range(df.shape[1])))
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_recipe_study(summary: pd.DataFrame) -> Figure:
    """Recipe study: MAE over tasks (± std over seeds) against training seconds per model, one
    panel per MINDE variant, one marker per recipe."""
    variants = variant_order(summary["variant"].unique())
    fig, axes = _grid(len(variants), min(4, len(variants)), (3.6, 3.0))
    recipes = list(dict.fromkeys(summary["recipe"]))
    for ax, v in zip(axes, variants):
        sub = summary[summary["variant"] == v].set_index("recipe")
        for i, r in enumerate(recipes):
            if r in sub.index:
                row = sub.loc[r]
                ax.errorbar(row["seconds"], row["mae"], yerr=row["mae_seed_std"], fmt="o", capsize=3,
                            color=f"C{i}", label=r)
        ax.set_title(method_label(v))
        ax.set_xlabel("training seconds per model")
        ax.set_ylabel("MAE over tasks (nats)")
        ax.set_ylim(bottom=0)
    fig.tight_layout(rect=(0, 0.12, 1, 1))  # room for the shared legend below the panels
    _legend(fig, axes)
    return fig


def plot_bias_vs_dimension(agg: pd.DataFrame, dims: dict[str, int]) -> Figure:
    """docs/method.md §17: bias (estimate - truth, nats) against d_x + d_y, one panel per MINDE
    estimator, one marker per form (the paper's, cross-model, loss-difference); ``agg`` from
    ``aggregate_seeds`` (the paper's form: mean over seeds), ``dims``: task -> d_x + d_y."""
    from minde.repro.analysis import FORMS

    bases = ("minde_c", "minde_c_sigma", "minde_j", "minde_j_sigma")
    fig, axes = _grid(len(bases), 4, (3.6, 3.1))
    colours = _colours([v for vs in FORMS.values() for v in vs])
    markers = {"paper": "o", "cross-model": "s", "loss-difference": "^"}
    rng = np.random.default_rng(0)  # a fixed horizontal jitter, so that equal dimensions stay apart
    for ax, base in zip(axes, bases):
        for form, variants in FORMS.items():
            v = {"paper": base}.get(form, f"{base}_{'cross' if form == 'cross-model' else 'loss'}")
            sub = agg[agg["variant"] == v].sort_values("task")
            if v not in variants or sub.empty:
                continue
            d = sub["task"].map(dims).to_numpy(float) * np.exp(rng.uniform(-0.08, 0.08, len(sub)))
            ax.scatter(d, sub["bias"], s=16, marker=markers[form], color=colours[v], alpha=0.8,
                       label=f"{method_label(v)}: MAE {sub['bias'].abs().mean():.3f}, {len(sub)} tasks")
        ax.axhline(0.0, color="black", lw=1)
        ax.axhspan(-0.1, 0.1, color="0.9", zorder=0)
        if len(agg):
            _log_ticks(ax, sorted(set(dims[t] for t in agg["task"].unique())))
        ax.set(title=method_label(base), xlabel="d_x + d_y (log scale)", ylabel="bias (nats)")
        if ax.collections:
            ax.legend(fontsize=6.5, loc="best")
        else:
            ax.text(0.5, 0.5, "no results", transform=ax.transAxes, ha="center", va="center", color="0.4")
    fig.suptitle("Bias against dimension: the paper's estimators and the cross-model forms (beyond the paper)",
                 fontsize=10)
    fig.tight_layout()
    return fig
