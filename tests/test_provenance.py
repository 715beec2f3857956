"""A committed record must be computed from committed code: the sweep's guard and --allow-dirty."""
from __future__ import annotations

from pathlib import Path

import pytest

from minde.repro import provenance, sweep

REPO = Path(__file__).resolve().parents[1]
TASK = "1v1-normal-0.75"
ARGV = ["--experiment", "t", "--budget", "smoke", "--tasks", TASK, "--methods", "cca", "--no-progress"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project root outside git (its results folder counts as committed) with a private sample cache."""
    monkeypatch.setenv("MINDE_HOME", str(tmp_path))
    monkeypatch.setenv("MINDE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def _revision(monkeypatch, rev: str) -> None:
    monkeypatch.setattr(provenance, "source_revision", lambda: rev)


def _units(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "t" / "smoke" / "units").glob("*.json"))


def test_dirty_source_refuses_to_write_into_the_committed_results(project, monkeypatch, capsys):
    _revision(monkeypatch, "abc123+dirty")
    assert sweep.main(ARGV) == 2
    err = capsys.readouterr().err
    for needle in ("uncommitted changes", "abc123+dirty", "commit your changes first", "--allow-dirty",
                   "results-dirty", "--out"):
        assert needle in err, needle
    assert not (project / "data" / "results" / "t" / "smoke" / "units").exists()


def test_allow_dirty_writes_to_results_dirty(project, monkeypatch):
    _revision(monkeypatch, "abc123+dirty")
    assert sweep.main([*ARGV, "--allow-dirty"]) == 0
    assert _units(project / "data" / "results-dirty") == [f"{TASK}__cca__n2000__s0.json"]
    assert not (project / "data" / "results" / "t").exists()


def test_allow_dirty_with_out_writes_to_out(project, monkeypatch, tmp_path):
    _revision(monkeypatch, "abc123+dirty")
    out = tmp_path / "elsewhere"
    assert sweep.main([*ARGV, "--allow-dirty", "--out", str(out)]) == 0
    assert _units(out) and not (project / "data" / "results-dirty").exists()


@pytest.mark.parametrize("rev", ["abc123", ""])  # a clean checkout; an installed package (no git)
def test_clean_tree_or_installed_package_proceeds(project, monkeypatch, rev):
    _revision(monkeypatch, rev)
    assert sweep.main(ARGV) == 0
    assert _units(project / "data" / "results") == [f"{TASK}__cca__n2000__s0.json"]


def test_dirty_source_may_write_elsewhere_dry_run_or_when_nothing_runs(project, monkeypatch, tmp_path):
    _revision(monkeypatch, "abc123+dirty")
    assert sweep.main([*ARGV, "--out", str(tmp_path / "scratch")]) == 0  # not the committed folder
    assert sweep.main([*ARGV, "--dry-run"]) == 0  # computes nothing
    _revision(monkeypatch, "abc123")
    assert sweep.main(ARGV) == 0
    _revision(monkeypatch, "abc123+dirty")
    assert sweep.main(ARGV) == 0  # every unit done: nothing would be written


def test_git_ignored_results_are_not_committed_destinations(monkeypatch):
    """In this checkout smoke results are git-ignored, so a smoke sweep from a dirty tree may write them."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    monkeypatch.setenv("MINDE_HOME", str(REPO))
    root = REPO / "data" / "results"
    assert not provenance.is_committed_destination(root, "benchmark", "smoke")
    assert provenance.is_committed_destination(root, "benchmark", "quick")
    assert not provenance.is_committed_destination(REPO / "data" / "results-dirty", "benchmark", "quick")
