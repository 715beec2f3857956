"""Figure 2 plotting from saved consistency results (docs/method.md §11); imports no training code.

Re-plot without training: ``plot_consistency(pandas.read_csv("data/results/fig02_consistency_mnist/quick/results.csv"))``.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["PANELS", "variant_label", "seed_summary", "plot_consistency"]

# docs/method.md §11: (test key, panel title, y-axis label) of the three panels, in order (a), (b), (c).
PANELS: tuple[tuple[str, str, str], ...] = (
    ("baseline", "(a) baseline", r"$I(A;B_r)\,/\,I(A;B_{28})$"),
    ("data_processing", "(b) data processing", r"$I(A;[B_{r+3},B_r])\,/\,I(A;B_{r+3})$"),
    ("additivity", "(c) additivity", r"$I([A^1,A^2];[B^1_r,B^2_r])\,/\,I(A^1;B^1_r)$"),
)


def variant_label(method: str, variant: str) -> str:
    """docs/method.md §3: legend label, e.g. ("MINDE-C", "mi_sigma") -> "MINDE-C(σ)"."""
    from minde.repro.analysis import method_label

    name = method_label(str(method))  # e.g. "infonce" -> "InfoNCE"; "MINDE-C" stays as it is
    return f"{name}(σ)" if variant == "mi_sigma" else name


def seed_summary(df: pd.DataFrame) -> pd.DataFrame:
    """docs/method.md §11: mean, std (ddof 1; 0 for one seed) and number of seeds of each ratio.

    One row per (test, method, variant, r), sorted; rows without a ``seed`` column count as one
    seed. Each group is summed in the order of its seeds, so the result (to the last bit) does
    not depend on the order of the input rows."""
    keys = ["test", "method", "variant", "r"]
    df = df.sort_values(keys + (["seed"] if "seed" in df.columns else []), kind="stable")
    out = df.groupby(keys, sort=True).agg(
        mean=("ratio", "mean"), std=("ratio", "std"), n_seeds=("ratio", "size"), ideal=("ideal", "first"))
    return out.fillna({"std": 0.0}).reset_index()


def plot_consistency(df: pd.DataFrame, title: str | None = None) -> Figure:
    """docs/method.md §11: three panels of ratio against crop level r, one line per method/variant.

    Args:
        df: rows with columns test, r, method, variant, ratio, ideal and optionally seed (the
            rows of ``minde.repro.consistency.run_consistency``); ratios are dimensionless.
        title: optional figure title.

    Returns:
        The figure. Each line is the mean over seeds; with more than one seed a band and error
        bars show ± one standard deviation and the title says how many seeds. Each panel draws its ideal
        value as a dashed black line.
    """
    summary = seed_summary(df)
    n_seeds = int(summary["n_seeds"].max()) if len(summary) else 0
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.6), constrained_layout=True)
    colours = {m: f"C{i}" for i, m in enumerate(sorted(summary["method"].unique()))}  # one per method
    for ax, (test, panel_title, ylabel) in zip(axes, PANELS):
        sub = summary[summary["test"] == test]
        for (method, variant), grp in sub.groupby(["method", "variant"], sort=True):
            grp = grp.sort_values("r")
            lab = variant_label(method, variant)
            style, marker = (":", "s") if variant == "mi_sigma" else ("-", "o")  # ideal alone is dashed
            ax.plot(grp["r"], grp["mean"], ls=style, marker=marker, ms=4, color=colours[method], label=lab)
            if n_seeds > 1:
                ax.fill_between(grp["r"], grp["mean"] - grp["std"], grp["mean"] + grp["std"],
                                color=colours[method], alpha=0.12, lw=0)
                ax.errorbar(grp["r"], grp["mean"], yerr=grp["std"], fmt="none", ecolor=colours[method],
                            elinewidth=0.8, capsize=2)  # visible where a test has a single r
        if len(sub):
            ax.axhline(float(sub["ideal"].iloc[0]), color="black", ls=(0, (4, 3)), lw=1, label="ideal")
        ax.set(title=panel_title, xlabel="rows kept $r$", ylabel=ylabel)
        ax.grid(alpha=0.3)
    handles, names = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:
        for h, n in zip(*ax.get_legend_handles_labels()):
            if n not in names:
                handles.append(h)
                names.append(n)
    fig.legend(handles, names, loc="outside right center", frameon=False)
    if title:
        fig.suptitle(f"{title}; mean ± std over {n_seeds} seeds" if n_seeds > 1 else title)
    return fig
