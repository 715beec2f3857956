"""Re-plotting unchanged results rewrites the committed files byte for byte.

Saving one figure twice (PDF, PNG) gives the same bytes, whatever the date or the process; a
table written from rows given in another order, or from values summed in another order or read
back from a CSV, gives the same bytes.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from minde.plots import figures as plotting  # noqa: E402
from minde.repro import analysis  # noqa: E402

# a float that pandas' default CSV parser reads one unit in the last place off
OFF_BY_ONE_ULP = 0.41333928659223396


def _figure():
    """A figure with what the project's figures hold: error bars, non-ASCII text, a legend."""
    fig, axes = plt.subplots(1, 2, figsize=(6, 2.5))
    for i, ax in enumerate(axes):
        ax.errorbar([1, 10, 100], [0.41, OFF_BY_ONE_ULP, 0.4 + i], yerr=[0.01, 0.02, 0.03], marker="o",
                    capsize=2, label="MINDE-C(σ)")
        ax.axhline(0.4133, color="black", ls="--", label="ground truth")
        ax.set(xscale="log", title=f"panel {i} — I(A;B)", ylabel="MI (nats)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center")
    fig.suptitle("estimates ± std")
    return fig


def test_saving_a_figure_twice_gives_identical_bytes(tmp_path, monkeypatch):
    fig = _figure()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # matplotlib's creation date, were it written
    first = plotting.save_figure(fig, "fig99_twice", "quick", root=tmp_path / "a")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    second = plotting.save_figure(fig, "fig99_twice", "quick", root=tmp_path / "b")
    assert [p.suffix for p in first] == [".pdf", ".png"]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), f"{a.name} differs between two saves"
    again = plotting.save_figure(fig, "fig99_twice", "quick", root=tmp_path / "a")  # overwrite in place
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in second]
    assert b"CreationDate" not in first[0].read_bytes()
    plt.close(fig)


_SAVE_IN_A_FRESH_PROCESS = textwrap.dedent("""
    import sys
    import matplotlib
    matplotlib.use("Agg")
    sys.path.insert(0, {tests!r})
    from test_idempotent import _figure
    from minde.plots.figures import save_figure
    save_figure(_figure(), "fig99_process", "quick", root=sys.argv[1])
""")


def test_figures_saved_by_two_processes_are_identical(tmp_path):
    """Each notebook saves its figures in a kernel of its own: string hashing (set order) and the
    clock differ between processes, the bytes must not."""
    code = _SAVE_IN_A_FRESH_PROCESS.format(tests=str(Path(__file__).parent))
    outs = []
    for seed, epoch in (("1", "0"), ("2", "1700000000")):
        out = tmp_path / f"p{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed, "SOURCE_DATE_EPOCH": epoch, "MPLBACKEND": "Agg"}
        subprocess.run([sys.executable, "-c", code, str(out)], check=True, env=env, timeout=120)
        outs.append(out / "figures" / "quick")
    for ext in ("pdf", "png"):
        a, b = (o / f"fig99_process.{ext}" for o in outs)
        assert a.read_bytes() == b.read_bytes(), f"{ext} differs between processes"


def _tidy(n_seeds: int = 3) -> pd.DataFrame:
    """Tidy rows of 2 tasks x 3 variants x 2 sizes x n_seeds, with values whose sums depend on order."""
    rng = np.random.default_rng(0)
    rows = [dict(task=t, method=v.removesuffix("_sigma"), variant=v, n_train=n, seed=s,
                 estimate=float(truth + rng.normal(0, 0.05)), truth=truth, status="ok")
            for t, truth in (("1v1-normal-0.75", OFF_BY_ONE_ULP), ("multinormal-dense-2-2-0.5", 1.1))
            for v in ("minde_c", "minde_c_sigma", "ksg") for n in (100, 1000) for s in range(n_seeds)]
    return pd.DataFrame(rows)


def _shuffled(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _table_bytes(df: pd.DataFrame, root: Path) -> bytes:
    return plotting.save_table(df, "tab99_rows", "quick", root=root).read_bytes()


def test_table_of_seed_means_ignores_the_order_of_the_rows(tmp_path):
    """Rows listed from files or returned by workers in another order: same table, same bytes."""
    df = _tidy()
    expected = _table_bytes(analysis.aggregate_seeds(df), tmp_path / "a")
    for seed in (1, 2, 3):
        assert _table_bytes(analysis.aggregate_seeds(_shuffled(df, seed)), tmp_path / f"s{seed}") == expected


def test_seed_summary_ignores_the_order_of_the_rows(tmp_path):
    from minde.plots.consistency import seed_summary

    rng = np.random.default_rng(1)
    rows = [dict(test=t, r=r, method=m, variant=v, seed=s, ratio=float(rng.uniform(0.5, 2.0)), ideal=1.0)
            for t in ("baseline", "additivity") for r in (4, 16) for m in ("MINDE-C", "infonce")
            for v in ("mi", "mi_sigma") for s in range(3)]
    df = pd.DataFrame(rows)
    expected = _table_bytes(seed_summary(df), tmp_path / "a")
    for seed in (1, 2):
        assert _table_bytes(seed_summary(_shuffled(df, seed)), tmp_path / f"s{seed}") == expected


def test_recipe_summary_ignores_the_order_of_the_rows(tmp_path):
    rng = np.random.default_rng(2)
    rows = [dict(recipe=r, task=t, kind="c", variant=v, seed=s, estimate=float(1 + rng.normal(0, 0.1)),
                 truth=1.0, seconds=float(rng.uniform(10, 90)))
            for r in ("a", "b", "c") for t in ("t1", "t2", "t3") for v in ("minde_c", "minde_c_sigma")
            for s in range(3)]
    df = pd.DataFrame(rows)
    expected = _table_bytes(analysis.recipe_summary(df), tmp_path / "a")
    for seed in (1, 2):
        got = _table_bytes(analysis.recipe_summary(_shuffled(df, seed)), tmp_path / f"s{seed}")
        assert got == expected


def test_table_bytes_survive_summation_order_and_a_csv_round_trip(tmp_path):
    """Last-bit differences (another summation order, pandas' CSV parser) do not reach the file."""
    values = [0.1, 0.2, 0.3]
    a = pd.DataFrame({"variant": ["x"], "mean": [sum(values) / 3], "truth": [OFF_BY_ONE_ULP]})
    b = pd.DataFrame({"variant": ["x"], "mean": [sum(values[::-1]) / 3], "truth": [OFF_BY_ONE_ULP]})
    assert a.at[0, "mean"] != b.at[0, "mean"]  # the premise: the sums differ in their last bit
    first = _table_bytes(a, tmp_path / "a")
    assert _table_bytes(b, tmp_path / "b") == first
    back = pd.read_csv(io.StringIO(a.to_csv(index=False)))  # a re-plot reading a results CSV
    assert back.at[0, "truth"] != OFF_BY_ONE_ULP  # the premise: pandas' parser is one ulp off
    assert _table_bytes(back, tmp_path / "c") == first
    # and a re-plot of the table itself is a fixed point
    assert _table_bytes(pd.read_csv(io.BytesIO(first)), tmp_path / "d") == first


def test_csv_text_formats_floats_stably():
    from minde._io import csv_text, stable_float

    assert stable_float(OFF_BY_ONE_ULP) == "0.4133392866"
    assert stable_float(2.0) == "2.0" and stable_float(-0.0) == "0.0" and stable_float(1e-5) == "1e-05"
    df = pd.DataFrame({"x": [np.nan, -0.0, 1 / 3], "k": ["a", "b", "c"]})
    assert csv_text(df, index=False) == "x,k\n,a\n0.0,b\n0.3333333333,c\n"
    # digits=None: exact, for data files that are read back
    exact = csv_text(pd.DataFrame({"x": [OFF_BY_ONE_ULP]}), digits=None, index=False)
    assert exact == f"x\n{OFF_BY_ONE_ULP!r}\n"


def test_tidy_results_csv_ignores_the_order_of_the_rows(tmp_path):
    from minde._io import read_csv_exact
    from minde.repro.results import TIDY_COLUMNS, TIDY_ORDER, tidy_csv

    df = _tidy().assign(experiment="exp", budget="quick", n_test=100, abs_error=0.0, seconds=1.5,
                        error="", timestamp="2026-01-01T00:00:00+00:00", git_rev="abc")[TIDY_COLUMNS]
    expected = tidy_csv(df)
    for seed in (1, 2):
        assert tidy_csv(_shuffled(df, seed)) == expected
    path = tmp_path / "results.csv"
    path.write_text(expected)
    in_order = df.sort_values(TIDY_ORDER).reset_index(drop=True)
    pd.testing.assert_frame_equal(read_csv_exact(path, keep_default_na=False), in_order, check_exact=True)


def test_results_aggregate_ignores_the_order_records_were_written(tmp_path):
    from minde.repro.results import UnitRecord, aggregate, unit_dir, write_unit

    recs = [UnitRecord(task=t, method="minde_c", n_train=100, n_test=100, seed=s, budget="smoke",
                       estimates={"minde_c": 0.1 * s + OFF_BY_ONE_ULP, "minde_c_sigma": 0.2 * s},
                       truth=OFF_BY_ONE_ULP, timestamp="2026-01-01T00:00:00+00:00")
            for t in ("t1", "t2") for s in range(3)]
    texts = []
    for i, order in enumerate((recs, recs[::-1], recs[2:] + recs[:2])):
        root = tmp_path / f"r{i}"
        for rec in order:
            write_unit("exp", rec, root)
        aggregate("exp", "smoke", root)
        texts.append((unit_dir("exp", "smoke", root) / "results.csv").read_bytes())
    assert texts[1] == texts[0] and texts[2] == texts[0]


@pytest.mark.parametrize("ext", ["pdf", "png"])
def test_figure_bytes_do_not_depend_on_the_row_order(tmp_path, ext):
    """The figure drawn from shuffled rows is the same file (plot order comes from the data)."""
    df = _tidy()
    out = []
    for i, rows in enumerate((df, _shuffled(df, 4))):
        fig = plotting.plot_training_size(analysis.aggregate_seeds(rows), ["1v1-normal-0.75",
                                                                           "multinormal-dense-2-2-0.5"])
        out.append(plotting.save_figure(fig, "fig99_rows", "quick", formats=(ext,), root=tmp_path / str(i))[0])
        plt.close(fig)
    assert out[0].read_bytes() == out[1].read_bytes()
