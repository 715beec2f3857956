"""Analysis of tidy results: seed aggregation, summaries, the benchmark matrix, method labels.

Torch-free (pandas only); ``minde.plots`` draws what these functions compute.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

__all__ = ["WITHIN", "method_label", "variant_order", "aggregate_seeds", "drop_bad_baselines",
           "summary_by_method", "benchmark_matrix", "recipe_summary", "FORMS", "form_summary", "pair_summary"]

WITHIN = 0.1  # nats: an estimate this close to the truth counts as "within" in the tables and sentences

# display name of each result variant, in the canonical order (MINDE variants, then baselines)
# the cross-model and loss-difference variants go beyond the paper (docs/method.md §17);
# minde_j_pair_cross is the repository's MINDE-J answer (two models), drawn in the paper's figures
LABELS = {"minde_c": "MINDE-C", "minde_c_sigma": "MINDE-C(σ)", "minde_j": "MINDE-J",
          "minde_j_sigma": "MINDE-J(σ)", "minde_c_cross": "MINDE-C cross-model",
          "minde_c_sigma_cross": "MINDE-C(σ) cross-model", "minde_j_cross": "MINDE-J cross-model",
          "minde_j_sigma_cross": "MINDE-J(σ) cross-model", "minde_c_loss": "MINDE-C loss-difference",
          "minde_c_sigma_loss": "MINDE-C(σ) loss-difference", "minde_j_sigma_loss": "MINDE-J(σ) loss-difference",
          "minde_j_pair_cross": "MINDE-J debiased, 2 models (beyond the paper)",
          "mine": "MINE", "infonce": "InfoNCE", "nwj": "NWJ",
          "dv": "DV", "ksg": "KSG", "cca": "CCA", "kde": "KDE", "doe_gauss": "DoE (Gaussian)",
          "doe_logistic": "DoE (logistic)",
          "minde_c_former": "MINDE-C, former defaults", "minde_j_former": "MINDE-J, former defaults"}


def method_label(variant: str) -> str:
    """Display name of a variant (docs/method.md §3, §9), e.g. minde_c_sigma -> MINDE-C(σ)."""
    return LABELS.get(variant, variant)


def variant_order(variants: Sequence[str]) -> list[str]:
    """MINDE variants first, then baselines, in the canonical order."""
    known = [v for v in LABELS if v in set(variants)]
    return known + sorted(set(variants) - set(known))


def aggregate_seeds(df: pd.DataFrame, by: Sequence[str] = ("task", "variant", "n_train")) -> pd.DataFrame:
    """docs/method.md §8: mean ± std over seeds of the ok rows; columns by + mean, std, n_seeds, truth, bias.

    Rows come out sorted by ``by``, and each group is summed in the order of its seeds, so the
    result (to the last bit) does not depend on the order of the input rows.
    """
    ok = df[df["status"] == "ok"] if "status" in df else df
    ok = ok.sort_values(_keys(ok, by, "seed"), kind="stable")
    g = ok.groupby(list(by), sort=True)
    out = g["estimate"].agg(mean="mean", std="std", n_seeds="count").reset_index()
    out["std"] = out["std"].fillna(0.0)
    out["truth"] = g["truth"].first().to_numpy()
    out["bias"] = out["mean"] - out["truth"]
    return out


def _keys(df: pd.DataFrame, by: Sequence[str], *extra: str) -> list[str]:
    """``by`` and those of ``extra`` that are columns of ``df`` (not already in ``by``): the
    columns that put rows in a canonical order before they are aggregated."""
    return list(by) + [c for c in extra if c in df.columns and c not in by]


def drop_bad_baselines(agg: pd.DataFrame, factor: float = 2.0) -> pd.DataFrame:
    """docs/method.md §12: drop (task, baseline) whose |mean - truth| exceeds factor·truth at any size."""
    bad = agg["bias"].abs() > factor * agg["truth"].abs()
    is_minde = agg["variant"].str.startswith("minde_")
    drop = agg.loc[bad & ~is_minde, ["task", "variant"]].drop_duplicates()
    keys = set(map(tuple, drop.to_numpy()))
    return agg[[(t, v) not in keys for t, v in zip(agg["task"], agg["variant"])]].reset_index(drop=True)


def summary_by_method(agg: pd.DataFrame, tol: float = WITHIN, worst: int = 3) -> pd.DataFrame:
    """docs/method.md §8: per variant, MAE over tasks (nats), how many tasks lie within ``tol``
    nats, the median absolute error, and the ``worst`` tasks with the largest error ("task (bias)")."""
    d = agg.assign(abs_bias=agg["bias"].abs(), within=agg["bias"].abs() <= tol)
    g = d.groupby("variant")

    def worst_tasks(sub: pd.DataFrame) -> str:
        top = sub.sort_values(["abs_bias", "task"], ascending=[False, True], kind="stable").head(worst)
        return "; ".join(f"{t} ({b:+.3f})" for t, b in zip(top["task"], top["bias"]))

    out = pd.DataFrame({"tasks": g.size(), "mae": g["abs_bias"].mean(), f"within_{tol:g}": g["within"].sum(),
                        "median_ae": g["abs_bias"].median(),
                        f"worst_{worst}": pd.Series({v: worst_tasks(sub) for v, sub in g})})
    out = out.loc[variant_order(list(out.index))]
    out.index = [method_label(v) for v in out.index]
    return out


def benchmark_matrix(agg: pd.DataFrame, tasks: Sequence[str]) -> pd.DataFrame:
    """docs/method.md §8 (Table 1): rows = ground truth then variants, columns = tasks, mean estimates."""
    mean = agg.pivot_table(index="variant", columns="task", values="mean", aggfunc="first")
    truth = agg.groupby("task")["truth"].first()
    tasks = [t for t in tasks if t in mean.columns]
    table = mean.reindex(index=variant_order(list(mean.index)), columns=tasks)
    table.index = [method_label(v) for v in table.index]
    return pd.concat([truth.reindex(tasks).to_frame("ground truth").T, table])


def recipe_summary(df: pd.DataFrame, tol: float = WITHIN) -> pd.DataFrame:
    """Per (recipe, variant) of a recipe study: accuracy over tasks and cost per model.

    mae: mean over tasks of |mean over seeds - truth|; mae_seed_std: std over seeds of each seed's
    MAE over tasks; within: tasks within ``tol`` nats; worst: the task with the largest error;
    seconds: mean training seconds per model. Rows are sorted by variant, then MAE, then recipe
    name, whatever the order of the input rows. Only the
    tasks that every (recipe, variant) has reached count, so a partial study compares like with like.
    """
    df = df.sort_values(_keys(df, ("recipe", "variant", "task"), "seed"), kind="stable")  # summation order
    reached = df.groupby("task")[["recipe", "variant"]].apply(lambda s: len(s.drop_duplicates()))
    df = df[df["task"].isin(reached.index[reached == len(df[["recipe", "variant"]].drop_duplicates())])]
    per_task = (df.groupby(["recipe", "variant", "task"], sort=False)
                .agg(mean=("estimate", "mean"), truth=("truth", "first"), seconds=("seconds", "mean"))
                .reset_index())
    per_task["err"] = (per_task["mean"] - per_task["truth"]).abs()
    per_seed = (df.assign(err=(df["estimate"] - df["truth"]).abs())
                .groupby(["recipe", "variant", "seed"], sort=False)["err"].mean()
                .groupby(["recipe", "variant"], sort=False).std().rename("mae_seed_std"))
    g = per_task.groupby(["recipe", "variant"], sort=False)
    out = pd.DataFrame({"tasks": g.size(), "mae": g["err"].mean(), "median_err": g["err"].median(),
                        f"within_{tol:g}": g["err"].apply(lambda e: int((e <= tol).sum())),
                        "worst": g.apply(lambda s: s.loc[s["err"].idxmax(), "task"]),
                        "worst_err": g["err"].max(), "seconds": g["seconds"].mean()})
    out = out.join(per_seed).reset_index()
    order = {v: i for i, v in enumerate(LABELS)}
    return out.sort_values(["variant", "mae", "recipe"],
                           key=lambda c: c.map(order) if c.name == "variant" else c,
                           kind="stable").reset_index(drop=True)


# the estimator forms of the debiasing study (docs/method.md §17): the paper's, beyond the paper
FORMS = {"paper": ("minde_c", "minde_c_sigma", "minde_j", "minde_j_sigma"),
         "cross-model": ("minde_c_cross", "minde_c_sigma_cross", "minde_j_cross", "minde_j_sigma_cross"),
         "loss-difference": ("minde_c_loss", "minde_c_sigma_loss", "minde_j_sigma_loss")}


def form_summary(agg: pd.DataFrame, dims: dict[str, int], tol: float = WITHIN, wide: int = 25) -> pd.DataFrame:
    """docs/method.md §17: ``summary_by_method`` of every estimator form, plus the MAE on the tasks
    with d_x <= 5 and with d_x >= ``wide``; each kind's forms are compared on the same tasks (those
    with a joint evaluation of that kind). ``agg``: ``aggregate_seeds`` rows; ``dims``: task -> d_x."""
    forms = [v for vs in FORMS.values() for v in vs]
    d = agg[agg["variant"].isin(forms)]
    for kind in ("c", "j"):
        joint = set(d.loc[d["variant"] == f"minde_{kind}_cross", "task"])
        d = d[~d["variant"].str.startswith(f"minde_{kind}") | d["task"].isin(joint)]
    if d.empty:
        return pd.DataFrame(columns=["form", "tasks", "mae", f"within_{tol:g}", "median_ae", "worst_3",
                                     "mae_dx_le_5", f"mae_dx_ge_{wide}"])
    out = summary_by_method(d, tol)
    absb = d.assign(abs_bias=d["bias"].abs(), dim_x=d["task"].map(dims))
    for name, keep in (("mae_dx_le_5", absb["dim_x"] <= 5), (f"mae_dx_ge_{wide}", absb["dim_x"] >= wide)):
        out[name] = absb[keep].groupby("variant")["abs_bias"].mean().rename(index=method_label)
    form_of = {method_label(v): form for form, vs in FORMS.items() for v in vs}
    out.insert(0, "form", [form_of[label] for label in out.index])
    return out


def pair_summary(df: pd.DataFrame, dims: dict[str, int], tol: float = WITHIN, wide: int = 25) -> pd.DataFrame:
    """docs/method.md §17: what two models give against all K of a seed group. ``df``: per-seed
    rows (``UnitRecord.rows``) with ``minde_<kind>_cross`` (K models) and ``minde_<kind>_pair_cross``
    (two of them, one pair per seed's row); ``dims``: task -> d_x. Per kind, over the tasks that
    have both: the K-model MAE and within-``tol`` count, and the same for a pair of models
    averaged over the group's pairs (the mean absolute error of a K = 2 ensemble), overall and on
    the tasks with d_x >= ``wide``; ``pair_std``: the standard deviation over a task's pairs,
    averaged over the tasks."""
    ok = df[df["status"] == "ok"] if "status" in df else df
    rows = []
    for kind in ("c", "j"):
        full = ok[ok["variant"] == f"minde_{kind}_cross"].groupby("task")["abs_error"].first()
        pairs = ok[ok["variant"] == f"minde_{kind}_pair_cross"].groupby("task")
        pair = pairs["abs_error"]
        tasks = sorted(set(full.index) & set(pair.groups))
        if not tasks:
            continue
        full, pair_mae = full[tasks], pair.mean()[tasks]
        pair_within = pair.apply(lambda e: float((e <= tol).mean()))[tasks]
        spread = pairs["estimate"].std()[tasks]
        w = [t for t in tasks if dims.get(t, 0) >= wide]
        rows.append({"kind": kind, "tasks": len(tasks), "models": int(pair.size()[tasks].max()),
                     "mae_k": full.mean(), "mae_pair": pair_mae.mean(),
                     f"within_{tol:g}_k": int((full <= tol).sum()), f"within_{tol:g}_pair": pair_within.sum(),
                     f"mae_dx_ge_{wide}_k": full[w].mean() if w else float("nan"),
                     f"mae_dx_ge_{wide}_pair": pair_mae[w].mean() if w else float("nan"),
                     "pair_std": spread.mean()})
    return pd.DataFrame(rows)
