"""Tests of minde.plots.figures: output paths per budget, atomic writes, aggregation."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from minde.plots import figures as plotting  # noqa: E402
from minde.repro import analysis  # noqa: E402


def _fig():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    return fig


@pytest.mark.parametrize("budget, sub", [("paper", ""), ("quick", "quick"), ("smoke", "smoke")])
def test_save_figure_paths_per_budget(tmp_path, budget, sub):
    paths = plotting.save_figure(_fig(), "fig99_test", budget, root=tmp_path)
    expected = [tmp_path / "figures" / sub / f"fig99_test.{ext}" for ext in ("pdf", "png")]
    assert paths == expected
    assert all(p.stat().st_size > 0 for p in paths)
    assert paths[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "figures").rglob(".*"))  # no temp files left


def test_smaller_budget_never_overwrites_paper_figure(tmp_path):
    paper = plotting.save_figure(_fig(), "fig99_test", "paper", root=tmp_path)
    before = {p: p.read_bytes() for p in paper}
    for budget in ("quick", "smoke"):
        out = plotting.save_figure(_fig(), "fig99_test", budget, root=tmp_path)
        assert not set(out) & set(paper)
    assert {p: p.read_bytes() for p in paper} == before


def test_save_table_csv_roundtrip(tmp_path):
    df = pd.DataFrame({"mae": [0.1, 0.2]}, index=["MINDE-C", "CCA"])
    path = plotting.save_table(df, "tab99", "quick", root=tmp_path)
    assert path == tmp_path / "figures" / "quick" / "tab99.csv"
    back = pd.read_csv(path, index_col=0)
    np.testing.assert_allclose(back["mae"], [0.1, 0.2])
    assert path.read_text().splitlines()[0] == "method,mae"


def test_save_table_drops_a_plain_row_index(tmp_path):
    df = pd.DataFrame({"task": ["a", "b"], "mae": [0.1, 0.2]})
    path = plotting.save_table(df, "tab98", "quick", root=tmp_path)
    assert path.read_text().splitlines()[0] == "task,mae"
    pd.testing.assert_frame_equal(pd.read_csv(path), df)


def test_save_figure_rejects_path_stem(tmp_path):
    with pytest.raises(ValueError, match="stem"):
        plotting.save_figure(_fig(), "a/b", "paper", root=tmp_path)


def _tidy():
    rows = []
    for seed, (e_c, e_k) in enumerate([(1.0, 3.5), (1.2, 0.2)]):
        rows += [dict(task="t1", variant="minde_c", n_train=10, seed=seed, estimate=e_c, truth=1.0, status="ok"),
                 dict(task="t1", variant="ksg", n_train=10, seed=seed, estimate=e_k, truth=1.0, status="ok")]
    rows.append(dict(task="t1", variant="minde_c", n_train=10, seed=2, estimate=99.0, truth=1.0, status="failed"))
    return pd.DataFrame(rows)


def test_aggregate_seeds_mean_std_skips_failed():
    agg = analysis.aggregate_seeds(_tidy()).set_index("variant")
    assert agg.at["minde_c", "mean"] == pytest.approx(1.1, abs=1e-12)
    assert agg.at["minde_c", "std"] == pytest.approx(np.std([1.0, 1.2], ddof=1), abs=1e-12)
    assert agg.at["minde_c", "n_seeds"] == 2
    assert agg.at["minde_c", "bias"] == pytest.approx(0.1, abs=1e-12)


def test_drop_bad_baselines_keeps_minde():
    agg = analysis.aggregate_seeds(_tidy())
    agg.loc[agg["variant"] == "minde_c", "mean"] = 10.0  # MINDE is never dropped
    kept = analysis.drop_bad_baselines(agg, 2.0)
    assert set(kept["variant"]) == {"minde_c", "ksg"}  # ksg mean 1.85: error 0.85 < 2
    kept = analysis.drop_bad_baselines(agg, 0.5)
    assert set(kept["variant"]) == {"minde_c"}


def test_summary_by_method():
    agg = pd.DataFrame(dict(task=["a", "b", "a", "b"], variant=["minde_c"] * 2 + ["cca"] * 2,
                            mean=[1.05, 2.5, 1.0, 2.0], truth=[1.0, 2.0, 1.0, 2.0]))
    agg["bias"] = agg["mean"] - agg["truth"]
    s = analysis.summary_by_method(agg)
    assert list(s.index) == ["MINDE-C", "CCA"]
    assert s.at["MINDE-C", "mae"] == pytest.approx(0.275)
    assert s.at["MINDE-C", "within_0.1"] == 1 and s.at["CCA", "within_0.1"] == 2
    assert s.at["MINDE-C", "median_ae"] == pytest.approx(0.275) and s.at["CCA", "median_ae"] == 0
    assert s.at["MINDE-C", "worst_3"] == "b (+0.500); a (+0.050)"
    assert analysis.summary_by_method(agg, worst=1).at["MINDE-C", "worst_1"] == "b (+0.500)"


def test_pair_summary_scores_every_pair_of_a_group():
    """K = 2 from a group of 3: the error of each pair, averaged; the K-model error beside it."""
    def row(task, variant, seed, est, truth=1.0):
        return dict(task=task, variant=variant, seed=seed, estimate=est, abs_error=abs(est - truth), status="ok")
    rows = [row("wide", "minde_j_cross", 0, 1.05), row("narrow", "minde_j_cross", 0, 0.98)]
    rows += [row("wide", "minde_j_pair_cross", s, v) for s, v in enumerate((1.25, 0.95, 0.95))]
    rows += [row("narrow", "minde_j_pair_cross", s, v) for s, v in enumerate((0.98, 0.98, 0.98))]
    rows += [row("wide", "minde_c_cross", 0, 1.0)]  # no pairs of this kind: left out
    got = analysis.pair_summary(pd.DataFrame(rows), {"wide": 50, "narrow": 1})
    assert got["kind"].tolist() == ["j"]
    r = got.iloc[0]
    assert (r["tasks"], r["models"], r["within_0.1_k"]) == (2, 3, 2)
    assert r["mae_k"] == pytest.approx((0.05 + 0.02) / 2)
    assert r["mae_pair"] == pytest.approx(((0.25 + 0.05 + 0.05) / 3 + 0.02) / 2)
    assert r["within_0.1_pair"] == pytest.approx(2 / 3 + 1)
    assert (r["mae_dx_ge_25_k"], r["mae_dx_ge_25_pair"]) == pytest.approx((0.05, 0.35 / 3))
    assert r["pair_std"] == pytest.approx(np.std([1.25, 0.95, 0.95], ddof=1) / 2)


def test_plots_draw_truth_and_legend():
    agg = analysis.aggregate_seeds(_tidy())
    fig = plotting.plot_estimates_vs_truth(agg, ["t1"])
    ax = fig.axes[0]
    assert any(np.allclose(np.asarray(line.get_ydata(), float), 1.0) for line in ax.get_lines()
               if line.get_linestyle() == "--")  # the truth line
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {"MINDE-C", "KSG", "ground truth"} <= set(labels)
    table = analysis.benchmark_matrix(agg, ["t1"])
    assert list(table.index) == ["ground truth", "MINDE-C", "KSG"]
    plotting.plot_benchmark_table(table)
    for plot in (plotting.plot_estimates_vs_truth, plotting.plot_training_size):  # a partial sweep
        empty = plot(agg.iloc[:0], [], title="none yet")
        assert "no finished results" in " ".join(t.get_text() for t in empty.axes[0].texts)
    plt.close("all")


def test_every_method_has_its_own_colour() -> None:
    """No two variants share a colour, so a legend never pairs e.g. MINDE-C(σ) with DoE."""
    from minde.plots.figures import _colours
    from minde.repro.analysis import LABELS

    colours = _colours(list(LABELS))
    assert len(set(colours.values())) == len(LABELS)


def test_recipe_summary_and_figure():
    rows = []
    for recipe, bias in (("good", 0.01), ("bad", 0.3)):
        for task, truth in (("t1", 1.0), ("t2", 0.5)):
            for seed in (0, 1):
                rows.append(dict(recipe=recipe, variant="minde_c", task=task, seed=seed, truth=truth,
                                 estimate=truth + bias + 0.01 * seed, seconds=10.0 if recipe == "good" else 5.0))
    s = analysis.recipe_summary(pd.DataFrame(rows)).set_index("recipe")
    assert s.loc["good", "mae"] == pytest.approx(0.015) and s.loc["bad", "mae"] == pytest.approx(0.305)
    assert s.loc["good", "within_0.1"] == 2 and s.loc["bad", "within_0.1"] == 0
    assert s.loc["good", "seconds"] == 10.0 and list(s.index) == ["good", "bad"]
    fig = plotting.plot_recipe_study(s.reset_index())
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 1
    plt.close("all")


def test_recipe_summary_compares_only_tasks_every_recipe_reached():
    rows = [dict(recipe=r, variant="minde_c", task=t, seed=0, truth=1.0, estimate=1.0 + e, seconds=1.0)
            for r, t, e in (("a", "t1", 0.1), ("b", "t1", 0.2), ("a", "t2", 0.5))]  # b has not reached t2
    s = analysis.recipe_summary(pd.DataFrame(rows)).set_index("recipe")
    assert s.loc["a", "tasks"] == 1 and s.loc["a", "mae"] == pytest.approx(0.1)


def test_plot_table_shows_missing_values_as_a_dash():
    from minde.plots.figures import plot_table

    df = pd.DataFrame({"method": ["minde_c", "ksg"], "estimate_seconds": [1.234, float("nan")],
                       "peak_gpu_mib": [np.nan, np.nan]})
    fig = plot_table(df, title="t")
    texts = [c.get_text().get_text() for c in fig.axes[0].tables[0].get_celld().values()]
    assert "nan" not in texts and texts.count("–") == 3 and "1.23" in texts


def test_a_narrow_task_figure_puts_its_legend_beside_the_panels():
    """With one or two panels the legend would be wider than the figure below them (it ran into
    the axis labels), so it goes to their right; with three or more it stays below."""
    agg = analysis.aggregate_seeds(_tidy())
    for tasks, right in ((["t1"], True), (["t1"] * 3, False)):
        fig = plotting.plot_estimates_vs_truth(agg, tasks)
        fig.canvas.draw()
        legend = fig.legends[0].get_window_extent()
        panels = [ax.get_window_extent() for ax in fig.axes if ax.get_visible()]
        if right:
            assert legend.x0 >= max(p.x1 for p in panels)
        else:
            assert legend.y1 <= min(p.y0 for p in panels)
        plt.close(fig)


@pytest.mark.parametrize("value,label", [(0.36, "0.4"), (-0.04, "-0.0"), (9.94, "9.9"), (9.96, "10"),
                                         (-5.3, "-5.3"), (123.4, "123"), (999.6, "1e3"),
                                         (-998740.9, "-1e6"), (-1.9e9, "-2e9")])
def test_table_cells_stay_short(value, label):
    """Table 1's cell text stays within five characters however far a baseline runs away."""
    assert plotting.cell_label(value) == label
    assert len(plotting.cell_label(value)) <= 5


def test_table_cell_text_is_the_short_label():
    table = pd.DataFrame({"t1": [0.3, -1.9e9], "t2": [1.0, 1.04]}, index=["ground truth", "DoE (logistic)"])
    fig = plotting.plot_benchmark_table(table)
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["-2e9", "0.3", "1.0", "1.0"]
    plt.close(fig)


def test_a_runaway_estimate_sits_at_the_panel_edge_with_its_value():
    # one baseline 1.9e9 nats off would set the panel's scale alone: the others keep theirs
    agg = pd.DataFrame({"task": "t", "variant": ["minde_c", "ksg", "doe_logistic"], "mean": [0.30, 0.25, -1.9e9],
                        "std": [0.01, np.nan, np.nan], "truth": 0.29, "n_seeds": [3, 1, 1]})
    agg["bias"] = agg["mean"] - agg["truth"]
    ax = plotting.plot_estimates_vs_truth(agg, ["t"]).axes[0]
    lo, hi = ax.get_ylim()
    assert -0.1 < lo < 0.25 and 0.31 < hi < 0.5  # the scale of MINDE-C, KSG and the truth
    assert "-2e9" in [t.get_text() for t in ax.texts]
    edge = [line for line in ax.get_lines() if line.get_marker() == "v"]
    assert len(edge) == 1 and edge[0].get_ydata()[0] == pytest.approx(lo)
    legend = ax.figure.legends[0]
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[-1] == "DoE (logistic)" and "_far" not in labels  # in the legend, in its place, as a point
    assert labels.index("MINDE-C") < labels.index("KSG") < labels.index("DoE (logistic)")
    two = pd.concat([agg, agg.iloc[2:].assign(variant="doe_gauss", mean=-2.3e5)])
    offsets = [t.xyann[1] for t in plotting.plot_estimates_vs_truth(two, ["t"]).axes[0].texts]
    assert len(offsets) == 2 and offsets[0] != offsets[1]  # neighbours' labels on two rows, never run together
    near = agg.iloc[:2]
    plain = plotting.plot_estimates_vs_truth(near, ["t"]).axes[0]
    assert not plain.texts and not [line for line in plain.get_lines() if line.get_marker() in "v^"]
    plt.close("all")


def test_estimators_beyond_the_paper_are_diamonds():
    """Figures 3-4 keep the paper's estimators and the baselines as circles; a seed group's
    cross-model estimate (beyond the paper) is a diamond, so the two never read as one family."""
    agg = pd.DataFrame({"task": "t", "variant": ["minde_j", "minde_j_pair_cross", "doe_logistic"],
                        "mean": [1.7, 1.3, 1.2], "std": [0.05, np.nan, np.nan], "truth": 1.29,
                        "n_seeds": [3, 1, 1]})
    agg["bias"] = agg["mean"] - agg["truth"]
    ax = plotting.plot_estimates_vs_truth(agg, ["t"]).axes[0]
    marker = {round(float(line.get_ydata()[0]), 2): line.get_marker() for line in ax.get_lines()
              if line.get_marker() in ("o", "D")}
    assert marker == {1.7: "o", 1.3: "D", 1.2: "o"}
    plt.close("all")
