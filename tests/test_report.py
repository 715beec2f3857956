"""The claims report (minde report) and the verdicts behind it (minde.repro.claims)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pandas as pd
import pytest

from minde.repro import claims, report
from minde.repro.claims import FAILS, HOLDS, NO_RESULTS, PARTLY, VERDICTS
from minde.repro.experiments import EXPERIMENTS, judge
from minde.repro.provenance import revision_status

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.fixture
def at_repo(monkeypatch):
    """Project root = this checkout, whatever the current directory."""
    monkeypatch.setenv("MINDE_HOME", str(REPO))


def _sections(text: str) -> dict[str, str]:
    """notebook stem -> its section of the report."""
    out = {}
    for part in text.split("\n## ")[1:]:
        head = part.splitlines()[0]
        if "`notebooks/" in head:
            out[head.split("`notebooks/")[1].split(".ipynb`")[0]] = part
    return out


# --- the report ---------------------------------------------------------------------------------

def test_report_names_every_notebook_and_gives_each_a_verdict(at_repo):
    text = report.build_report("quick")
    sections = _sections(text)
    assert {p.stem for p in NOTEBOOKS} == set(sections) == set(EXPERIMENTS) == set(report.ORDER)
    assert all(spec.claim is not None for spec in EXPERIMENTS.values())
    summary = text.split("## Summary")[1].split("\n## ")[0]
    for stem, body in sections.items():
        verdict = body.split("**Verdict: ")[1].split("**")[0]
        assert verdict in VERDICTS, (stem, verdict)
        assert "— threshold: " in body.split("**Verdict: ")[1].splitlines()[0], stem
        claim = EXPERIMENTS[stem].claim
        assert f"| {claim.artefact} | {claim.summary} | {verdict} | quick |" in summary


def _full_history() -> bool:
    """A git checkout with its whole history (the report checks the records' revisions against it)."""
    out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--is-shallow-repository"],
                         capture_output=True, text=True)
    return out.returncode == 0 and out.stdout.strip() == "false"


@pytest.mark.skipif(not _full_history(), reason="needs a git checkout with full history")
def test_committed_quick_report_is_what_the_command_regenerates(at_repo):
    """reports/quick.md is deterministic and up to date with the committed quick results."""
    committed = (REPO / "reports" / "quick.md").read_text(encoding="utf-8")
    assert report.build_report("quick") == committed, \
        "reports/quick.md is stale: run `minde report --budget quick` and commit it"


PAPER_10K = ("fig03_benchmark_tasks", "tab01_benchmark_table", "fig05_training_size")


@pytest.mark.skipif(not _full_history(), reason="needs a git checkout with full history")
def test_committed_paper_protocol_report_is_what_make_paper_10k_regenerates(at_repo):
    """reports/paper_n10000.md: the paper protocol at 10 000 samples, seeds 0-2, from the
    committed paper records, with the figures the notebooks write for that size."""
    committed = (REPO / "reports" / "paper_n10000.md").read_text(encoding="utf-8")
    text = report.build_report("paper", stems=PAPER_10K, n_train=10_000, seeds=[0, 1, 2],
                               training_sizes=[5_000, 10_000, 50_000])
    assert text == committed, "reports/paper_n10000.md is stale: run `make paper-10k` and commit it"
    assert "(../figures/fig03_benchmark_tasks_1_20_n10000.png)" in text
    assert "(../figures/fig05_training_size_n5000-10000-50000.png)" in text  # Figures 5-8 read three sizes
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "--n-train 10000 --training-sizes $(PAPER_SIZES) --seeds 0-2" in makefile
    assert "PAPER_SIZES := 5000,10000,50000" in makefile and ",".join(PAPER_10K) in makefile


def test_training_sizes_go_to_the_notebook_that_compares_sizes_only(at_repo):
    """With --training-sizes, Figures 5-8 read those sizes and the benchmark's notebooks n_train."""
    text = report.build_report("paper", stems=["fig03_benchmark_tasks", "fig05_training_size"], n_train=10_000,
                               seeds=[0], training_sizes=[5_000, 10_000])
    assert "| paper, n_train = 10000 |" in text and "| paper, n_train = 5000, 10000 |" in text
    assert "--training-sizes 5000,10000" in text
    fig05 = text.split("`notebooks/fig05_training_size.ipynb`")[1]
    assert "rows with n_train = 5000, 10000 and seeds 0" in fig05


def test_one_training_size_selects_its_rows_and_names_the_report(at_repo, tmp_path):
    assert report.report_path("paper", tmp_path, 10_000) == tmp_path / "reports" / "paper_n10000.md"
    loaded = report.load_results("fig03_benchmark_tasks", "paper", n_train=10_000, seeds=[1])
    assert set(loaded.df["n_train"]) == {10_000} and set(loaded.df["seed"]) == {1}
    empty = report.load_results("fig03_benchmark_tasks", "paper", n_train=123)
    assert empty.df.empty
    text = report.build_report("paper", stems=["fig03_benchmark_tasks"], n_train=123)
    assert f"**Verdict: {NO_RESULTS}**" in text
    assert report.main(["--budget", "paper", "--seeds", "0-2"]) == 2
    assert report.main(["--budget", "paper", "--only", "no_such_notebook"]) == 2
    assert report.main(["--budget", "paper", "--training-sizes", "5000,10000"]) == 2  # needs --n-train
    assert report.main(["--budget", "paper", "--n-train", "10000", "--training-sizes", "5k"]) == 2


def test_report_links_figures_relative_to_the_report(at_repo):
    text = report.build_report("quick")
    assert "(../figures/quick/fig01_high_mi_benchmark.png)" in text
    assert "(../figures/quick/fig04_benchmark_tasks_21_40.png)" in text
    paper = report.build_report("paper", stems=["fig01_high_mi_benchmark"])
    assert "(../figures/fig01_high_mi_benchmark.png)" in paper


def test_report_without_results_says_so(tmp_path, at_repo):
    text = report.build_report("quick", results=tmp_path / "none")
    sections = _sections(text)
    assert all(f"**Verdict: {NO_RESULTS}**" in body for body in sections.values())
    assert "**Provenance:** no records." in text


def test_main_writes_reports_budget_md_under_out(tmp_path, at_repo, capsys):
    assert report.main(["--budget", "quick", "--out", str(tmp_path)]) == 0
    path = tmp_path / "reports" / "quick.md"
    assert path.is_file() and str(path) in capsys.readouterr().out
    assert "# Claims report: quick budget" in path.read_text(encoding="utf-8")
    assert report.main(["--budget", "huge", "--out", str(tmp_path)]) == 2
    assert "unknown budget 'huge'" in capsys.readouterr().err


# --- provenance: revisions that are not ancestors of HEAD, or dirty, are flagged --------------------

def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def history(tmp_path):
    """A repository: base -> main; a side branch off base that HEAD does not contain."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "f").write_text("a")
    _git(repo, "add", "f")
    _git(repo, "commit", "-qm", "base")
    base = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-qb", "side")
    (repo / "f").write_text("side")
    _git(repo, "commit", "-qam", "side")
    side = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "main")
    (repo / "f").write_text("main")
    _git(repo, "commit", "-qam", "main")
    return repo, base, side


def test_revision_status_flags_non_ancestors_dirty_unknown_and_missing(history):
    repo, base, side = history
    assert not revision_status(base, repo).flagged
    assert revision_status(base, repo).status == "ancestor of HEAD"
    st = revision_status(side, repo)
    assert st.flagged and st.status == "not an ancestor of HEAD"
    assert revision_status(base + "+dirty", repo).flagged
    assert revision_status("0" * 40, repo).status == "unknown commit"
    assert revision_status("", repo).flagged


def _write_ema_results(root: Path, git_rev: str) -> None:
    folder = root / "ablation_ema" / "quick"
    folder.mkdir(parents=True)
    rows = [dict(task="t", kind="c", seed=0, truth=1.0, weights=w, variant=v, estimate=e)
            for w, e in (("EMA", 0.98), ("raw", 0.9)) for v in ("minde_c", "minde_c_sigma")]
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)
    (folder / "meta.json").write_text(json.dumps({"git_rev": git_rev}))


def test_report_flags_a_record_whose_revision_is_not_an_ancestor_of_head(history, tmp_path, at_repo):
    repo, base, side = history
    _write_ema_results(tmp_path / "bad", side)
    text = report.build_report("quick", results=tmp_path / "bad", repo=repo, stems=["ablation_ema"])
    assert f"`{side}` (4 records): not an ancestor of HEAD — **FLAGGED**" in text
    assert "**Provenance:** 1 of 1 recorded code revisions flagged (4 records" in text
    assert f"| `{side}` | 4 | ablation_ema | not an ancestor of HEAD | **yes** |" in text
    _write_ema_results(tmp_path / "good", base)
    text = report.build_report("quick", results=tmp_path / "good", repo=repo, stems=["ablation_ema"])
    assert "FLAGGED" not in text and f"| `{base}` | 4 | ablation_ema | ancestor of HEAD | no |" in text


def test_report_counts_the_revision_of_each_row_of_a_table_computed_in_parts(history, tmp_path, at_repo):
    """A cached table whose rows carry git_rev (a study resumed at a later commit) is reported per
    row; rows without one fall back to meta.json's revision."""
    repo, base, side = history
    _write_ema_results(tmp_path / "mixed", base)
    csv = tmp_path / "mixed" / "ablation_ema" / "quick" / "results.csv"
    df = pd.read_csv(csv)
    df["git_rev"] = [side, side, None, None]
    df.to_csv(csv, index=False)
    text = report.build_report("quick", results=tmp_path / "mixed", repo=repo, stems=["ablation_ema"])
    assert f"`{side}` (2 records): not an ancestor of HEAD — **FLAGGED**" in text
    assert f"`{base}` (2 records): ancestor of HEAD" in text


# --- each verdict flips when its numbers cross the threshold ------------------------------------

def _sweep_rows(errors: dict[str, dict[str, float]], truth: float = 1.0, n_train: int = 100) -> pd.DataFrame:
    """Tidy sweep rows: variant -> task -> estimate error."""
    return pd.DataFrame([dict(task=t, variant=v, method=v, n_train=n_train, seed=0, estimate=truth + e,
                              truth=truth, status="ok") for v, per in errors.items() for t, e in per.items()])


def _flip(fn, good, bad, good_verdict=HOLDS, bad_verdict=FAILS):
    assert fn(good).verdict == good_verdict, fn(good).checks
    assert fn(bad).verdict == bad_verdict, fn(bad).checks


def test_benchmark_and_high_mi_verdicts_flip_at_the_baselines_mae():
    def rows(cca_err: float, truth: float = 1.0) -> pd.DataFrame:
        return _sweep_rows({"minde_c": {"a": 0.10, "b": -0.10}, "cca": {"a": cca_err, "b": -cca_err}}, truth)
    _flip(claims.benchmark_verdict, rows(0.11), rows(0.09))
    _flip(claims.high_mi_verdict, rows(0.11, truth=4.0), rows(0.09, truth=4.0))
    assert claims.high_mi_verdict(rows(0.11, truth=2.0)).verdict == NO_RESULTS  # no task at >= 3 nats
    partly = _sweep_rows({"minde_c": {"a": 0.1}, "cca": {"a": 0.2}, "ksg": {"a": 0.05}})
    assert claims.benchmark_verdict(partly).verdict == PARTLY
    failed = _sweep_rows({"minde_c": {"a": 0.1}, "cca": {"a": 0.2}}).assign(status="failed")
    assert claims.benchmark_verdict(failed).verdict == NO_RESULTS


def test_the_best_baseline_named_is_one_covering_the_most_tasks():
    # NWJ has one easy task so far: its lower MAE there does not make it the best baseline
    rows = _sweep_rows({"minde_c": {"a": 0.1, "b": 0.1}, "cca": {"a": 0.3, "b": 0.2}, "nwj": {"a": 0.01}})
    text = claims.benchmark_verdict(rows).interpretation
    assert "the lowest baseline MAE is CCA's 0.250 nats" in text
    assert "NWJ cover fewer tasks so far" in text
    full = _sweep_rows({"minde_c": {"a": 0.1, "b": 0.1}, "cca": {"a": 0.3, "b": 0.2}, "nwj": {"a": 0.01, "b": 0.05}})
    text = claims.benchmark_verdict(full).interpretation
    assert "the lowest baseline MAE is NWJ's 0.030 nats" in text and "fewer tasks" not in text
    high = claims.high_mi_verdict(rows.assign(truth=4.0, estimate=rows["estimate"] + 3.0)).interpretation
    assert "for CCA (the lowest baseline MAE) (NWJ cover fewer tasks so far" in high


def test_quickstart_verdict_flips_at_0_03_nats():
    def res(err: float) -> pd.DataFrame:
        return pd.DataFrame({"variant": claims.MINDE_VARIANTS, "estimate": [1.0, 1.01, 0.99, 1.0 + err],
                             "truth": 1.0})
    _flip(claims.quickstart_verdict, res(0.029), res(0.031), HOLDS, PARTLY)
    assert claims.quickstart_verdict(res(0.0).iloc[:2]).verdict == PARTLY  # MINDE-J missing
    assert judge("00_quickstart", None, "quick").verdict == NO_RESULTS


def test_consistency_verdict_flips_at_each_tolerance():
    def rows(add: float, dp: float = 1.05, last: float = 1.0) -> pd.DataFrame:
        out = [dict(test="baseline", r=r, method="MINDE-C", variant="mi", ratio=v, ideal=1.0, seed=0)
               for r, v in ((4, 0.1), (16, 0.5), (28, last))]
        out += [dict(test="data_processing", r=7, method="MINDE-C", variant="mi", ratio=dp, ideal=1.0, seed=0),
                dict(test="additivity", r=4, method="MINDE-C", variant="mi", ratio=add, ideal=2.0, seed=0),
                dict(test="additivity", r=4, method="infonce", variant="mi", ratio=1.0, ideal=2.0, seed=0)]
        return pd.DataFrame(out)
    _flip(claims.consistency_verdict, rows(1.81), rows(1.79), HOLDS, PARTLY)
    _flip(claims.consistency_verdict, rows(1.9, dp=1.09), rows(1.9, dp=1.11), HOLDS, PARTLY)
    _flip(claims.consistency_verdict, rows(1.9, last=0.95), rows(1.9, last=0.4), HOLDS, PARTLY)
    assert claims.consistency_verdict(rows(1.0, dp=1.5, last=0.4)).verdict == FAILS
    non_monotone = rows(1.9)
    non_monotone.loc[1, "ratio"] = 0.05
    assert claims.consistency_verdict(non_monotone).verdict == PARTLY


def test_training_size_check_carries_the_standard_error_of_the_change():
    # two seeds per size: estimates 1.2 and 1.4 at n = 500 (|error| 0.3 ± 0.1), 1.1 and 1.1 at n = 1000
    rows = pd.DataFrame([dict(task="a", variant="minde_c", method="minde_c", n_train=n, seed=s, estimate=e,
                              truth=1.0, status="ok")
                         for n, es in ((500, (1.2, 1.4)), (1000, (1.1, 1.1))) for s, e in enumerate(es)])
    (check,) = claims.training_size_verdict(rows).checks
    # SE of the seed mean at 500: std 0.1414 / sqrt 2 = 0.1; at 1000: 0; of the change: 0.1
    assert check.note == "nats, 1 task; change -0.200, standard error 0.100 from the seeds"
    assert check.passed


def test_verdict_sentences_follow_the_threshold_constants(monkeypatch):
    # a threshold is changed in one place: the checks, the threshold text and the sentence follow
    rows = _sweep_rows({"minde_c": {"a": 0.02, "b": 0.08}, "cca": {"a": 0.3, "b": 0.3}})
    assert "within 0.1 nats of the truth on 2" in claims.benchmark_verdict(rows).interpretation
    monkeypatch.setattr(claims, "WITHIN", 0.05)
    assert "within 0.05 nats of the truth on 1" in claims.benchmark_verdict(rows).interpretation
    assert "within 0.05 nats" in claims.benchmark_verdict(rows).table.columns  # the table's count too
    plan = SimpleNamespace(tasks=("t",), seeds=(0,), options={"sizes": (250, 500, 1_000)})
    assert "at 250 and 500 rows" in claims.sample_size_verdict(pd.DataFrame(), "quick", plan).threshold
    monkeypatch.setattr(claims, "SMALL_DATA_FEW", 250)
    assert "at 250 rows" in claims.sample_size_verdict(pd.DataFrame(), "quick", plan).threshold


def test_training_size_verdict_flips_when_the_error_stops_falling():
    def rows(errs: tuple[float, float, float]) -> pd.DataFrame:
        return pd.concat([_sweep_rows({"minde_c": {"a": e, "b": -e}, "cca": {"a": 0.3}}, n_train=n)
                          for n, e in zip((500, 1000, 5000), errs)])
    _flip(claims.training_size_verdict, rows((0.3, 0.2, 0.1)), rows((0.1, 0.2, 0.3)))
    assert claims.training_size_verdict(rows((0.3, 0.1, 0.2))).verdict == PARTLY
    assert claims.training_size_verdict(rows((0.3, 0.3, 0.3)).query("n_train == 500")).verdict == NO_RESULTS


def test_training_size_verdict_compares_each_size_on_the_tasks_it_shares_with_the_next_smaller():
    # the largest size covers one task of two, and MINDE-J has not reached it at all
    sizes = {500: {"a": 0.3, "b": 0.3}, 1000: {"a": 0.2, "b": 0.2}, 5000: {"a": 0.1}}
    df = pd.concat([_sweep_rows({"minde_c": per}, n_train=n) for n, per in sizes.items()]
                   + [_sweep_rows({"minde_j": {"a": 0.4, "b": 0.4}}, n_train=n) for n in (500, 1000)])
    v = claims.training_size_verdict(df)
    notes = {c.name: c.note for c in v.checks}
    assert notes == {"MINDE-C MAE at n_train = 1000 below at 500": "nats, 2 tasks; change -0.100",
                     "MINDE-C MAE at n_train = 5000 below at 1000": "nats, 1 task; change -0.100",
                     "MINDE-J MAE at n_train = 1000 below at 500": "nats, 2 tasks; change +0.000"}
    assert v.verdict == PARTLY  # MINDE-J's error does not fall
    # the sentence and the table describe each pair of sizes on its own tasks, not only on the
    # tasks with every size (which would hide the two-task step 500 -> 1000)
    assert "0.300 → 0.200 nats from n_train = 500 to 1000 (2 tasks, lower on 2)" in v.interpretation
    assert "0.200 → 0.100 nats from n_train = 1000 to 5000 (1 task, lower on 1)" in v.interpretation
    rows = v.table.set_index(["estimator", "n_train"])
    assert rows.loc[("MINDE-C", "500 → 1000"), "tasks"] == 2
    assert rows.loc[("MINDE-C", "1000 → 5000"), "tasks"] == 1
    assert ("MINDE-J", "1000 → 5000") not in rows.index


@pytest.mark.parametrize("fn, column, chosen, other", [
    (claims.importance_sampling_verdict, "sampling", "importance", "uniform"),
    (claims.ema_verdict, "weights", "EMA", "raw"),
])
def test_paired_ablation_verdicts_flip_when_the_papers_choice_stops_helping(fn, column, chosen, other):
    def rows(err_chosen: float, seeds=(0,), spread: float = 0.0) -> pd.DataFrame:
        return pd.DataFrame([dict(task=t, variant=v, seed=s, truth=1.0, **{column: c},
                                  estimate=1.0 + (err_chosen if c == chosen else 0.05) + (spread if c == chosen else 0.0) * s)
                             for t in ("a", "b") for v in ("minde_c", "minde_j") for s in seeds
                             for c in (chosen, other)])
    _flip(fn, rows(0.04), rows(0.06))
    assert fn(rows(0.04, seeds=(0, 1), spread=0.0)).verdict == PARTLY  # equal spread over seeds: not lower
    assert len(fn(rows(0.04, seeds=(0, 1))).checks) == 3 and len(fn(rows(0.04)).checks) == 2
    mixed = rows(0.04)
    mixed.loc[(mixed["task"] == "a") & (mixed[column] == chosen), "estimate"] = 1.051  # lower mean, half the pairs
    mixed.loc[(mixed["task"] == "b") & (mixed[column] == chosen), "estimate"] = 1.0
    assert fn(mixed).verdict == PARTLY


def test_sigma_verdict_flips_at_0_1_nats_of_spread():
    def rows(spread: float) -> pd.DataFrame:
        return pd.DataFrame([dict(task="a", variant=v, seed=0, truth=1.0, sigma=s,
                                  estimate=1.0 + (spread * i / 2 if v.endswith("_sigma") else 0.0))
                             for v in ("minde_c", "minde_c_sigma") for i, s in enumerate((0.5, 1.0, 5.0))])
    _flip(claims.sigma_verdict, rows(0.09), rows(0.11))
    assert claims.sigma_verdict(rows(0.09).query("sigma == 1.0")).verdict == NO_RESULTS


def test_entropy_verdict_flips_at_0_1_nats_per_dimension():
    def rows(err: float) -> pd.DataFrame:
        return pd.DataFrame([dict(problem="none d=3", dim=3, transform="none", kind="j", seed=0, quantity=q,
                                  estimate=t + err * (6 if q == "H(X,Y)" else 3), truth=t)
                             for q, t in (("H(X,Y)", 8.0), ("H(X|Y)", 3.5))])
    _flip(claims.entropy_verdict, rows(0.099), rows(0.101))


def test_compute_cost_verdict_flips_at_twice_the_stated_time_per_step():
    def rows(seconds: float) -> pd.DataFrame:
        return pd.DataFrame([dict(task="t", dims="1+1", method=m, n_train=10_000, status="ok",
                                  wall_seconds=seconds + 1, train_seconds=seconds if m != "cca" else 0.0,
                                  estimate_seconds=1.0, peak_rss_mib=700.0) for m in ("minde_c", "cca")])
    _flip(lambda df: claims.compute_cost_verdict(df, "quick"), rows(59.0), rows(61.0))
    wide = rows(59.0).assign(dims="25+25", train_seconds=500.0)  # d_x > 5: not covered by the claim
    assert claims.compute_cost_verdict(wide, "quick").verdict == NO_RESULTS


def test_decide_and_the_four_verdicts():
    yes, no = claims.Check("a", 0.1, "≤", 0.2), claims.Check("b", 0.3, "≤", 0.2)
    assert yes.passed and not no.passed
    assert claims.decide([]) == NO_RESULTS
    assert claims.decide([yes, yes]) == HOLDS
    assert claims.decide([yes, no]) == PARTLY
    assert claims.decide([no]) == FAILS
    assert claims.mean_std(0.5, np.nan, 1) == "0.500 ± –" and claims.mean_std(0.5, 0.1, 3) == "0.500 ± 0.100"


# --- the notebooks speak ------------------------------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_states_the_claim_and_ends_with_the_reports_verdict(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    cells = nb.cells
    code = [i for i, c in enumerate(cells) if c.cell_type == "code"]
    assert "parameters" in cells[code[0]].metadata.get("tags", [])
    assert sum(c.cell_type == "markdown" for c in cells) >= 2
    claim = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and "## What the paper claims" in c.source]
    assert claim and claim[0] < code[1], "the claim comes before the computation"
    assert "docs/method.md §" in cells[claim[0]].source
    last = cells[-1]
    assert last.cell_type == "code" and "from minde.repro.experiments import judge" in last.source
    assert "judge(" in last.source and "print(verdict.render(budget))" in last.source
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in cells if c.cell_type == "code")


def test_a_notebook_without_a_claim_is_named(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "new_study.ipynb").write_text("{}")
    monkeypatch.setenv("MINDE_HOME", str(tmp_path))
    text = report.build_report("quick", results=tmp_path / "none", stems=["ablation_ema"])
    assert "Notebooks without an entry in the registry" in text and "`new_study.ipynb`" in text


def test_recipe_verdict_flips_when_the_best_recipe_stops_beating_the_old_one():
    def rows(bias_new):
        out = []
        for recipe, bias in (("constant-is", 0.15), ("cosine-is", bias_new)):
            for variant in ("minde_c", "minde_j"):
                for task, truth in (("a", 1.0), ("b", 0.4)):
                    for seed in (0, 1):
                        out.append(dict(recipe=recipe, variant=variant, task=task, seed=seed, truth=truth,
                                        estimate=truth - bias, seconds=30.0))
        return pd.DataFrame(out)

    assert claims.recipe_verdict(rows(0.03)).verdict == HOLDS
    assert claims.recipe_verdict(rows(0.08)).verdict == PARTLY  # beats it, misses the 0.06 target
    assert claims.recipe_verdict(rows(0.2)).verdict == FAILS  # constant-is is then the best recipe
    assert claims.recipe_verdict(pd.DataFrame()).verdict == NO_RESULTS
    # each kind is judged by its own best recipe
    mixed = rows(0.03)
    mixed.loc[(mixed["recipe"] == "cosine-is") & (mixed["variant"] == "minde_j"), "estimate"] -= 0.3
    v = claims.recipe_verdict(mixed)
    assert v.verdict == PARTLY and "for MINDE-J constant-is" in v.interpretation


def test_report_leaves_out_and_flags_minde_records_of_an_earlier_recipe(tmp_path, monkeypatch):
    import dataclasses

    from minde import config
    from minde.repro import sweep

    monkeypatch.setenv("MINDE_CACHE_DIR", str(tmp_path / "cache"))
    sweep.run_sweep("benchmark", "smoke", "1v1-normal-0.75", "minde_c,cca", "0", out=tmp_path, progress=False)
    current = report.load_results("fig03_benchmark_tasks", "smoke", tmp_path)
    assert current.recipe == "" and set(current.df["method"]) == {"minde_c", "cca"}
    monkeypatch.setitem(config.BUDGETS, "smoke", dataclasses.replace(config.BUDGETS["smoke"], lr_scale=2.0))
    stale = report.load_results("fig03_benchmark_tasks", "smoke", tmp_path)
    assert set(stale.df["method"]) == {"cca"} and "1 of 1 MINDE and DoE unit records" in stale.recipe
    text = report.build_report("smoke", results=tmp_path, stems=["fig03_benchmark_tasks"])
    assert "FLAG (earlier recipe)" in text and "leave them out" in text


def test_a_check_is_data_and_its_line_is_written_in_one_place():
    """The pass decision comes from value, comparison and threshold (a missing value never passes),
    the text from Check.text, and a verdict's table of checks holds the same numbers."""
    c = claims.Check("MINDE-C MAE below CCA's", 0.047, "<", 0.12, "nats, 40 tasks")
    assert c.passed and c.text == "MINDE-C MAE below CCA's: 0.047 < 0.120 (nats, 40 tasks)"
    assert not claims.Check("x", np.nan, "≤", 1.0).passed
    assert claims.Check("y", 0.024, "<", -1.878e9).text == "y: 0.024 < -1.88e+09"  # a runaway baseline
    assert not claims.Check("x", 0.0, "≤", 1.0, ok=False).passed  # a rule with more than one comparison
    with pytest.raises(ValueError, match="unknown comparison"):
        claims.Check("x", 0.0, "<=", 1.0)
    v = claims.Verdict(claims.decide([c]), "t", "why", (c,))
    table = v.check_table()
    assert table.loc[0, "value"] == 0.047 and table.loc[0, "threshold"] == 0.12 and bool(table.loc[0, "pass"])
    assert v.render("quick").splitlines()[1] == "  [x] " + c.text


def test_baseline_checks_give_the_medians_beside_the_means():
    # one runaway task decides the baseline's mean; the note shows the medians, and counts in words
    rows = _sweep_rows({"minde_c": {"a": 0.02, "b": 0.04, "c": 0.03}, "doe_logistic": {"a": 0.3, "b": 0.1, "c": -1e9},
                        "cca": {"a": 0.2}})
    notes = {c.name: c.note for c in claims.benchmark_verdict(rows).checks}
    assert notes["MINDE-C MAE below DoE (logistic)'s"] == "nats, 3 tasks; median |error| 0.030 against 0.300"
    assert notes["MINDE-C MAE below CCA's"] == "nats, 1 task; median |error| 0.020 against 0.200"
