"""Where results come from: the code revision of a record, and whether it may be committed.

A committed record must be computed from committed code. ``revision_status`` says, for the
``git_rev`` stamped on a record (``minde._io.source_revision``), whether that commit is an ancestor
of the project's HEAD and whether it carried uncommitted changes (``+dirty``); the claims report
flags every other case. ``check_sweep_source`` is the guard the sweep runs before computing: a
dirty source tree may not write into the project's committed results folder.
Imports no torch and no git library (git is called as a command).
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from minde import _io
from minde.repro.units import SweepArgumentError

__all__ = ["DIRTY_SUFFIX", "source_revision", "RevisionStatus", "revision_status", "git", "dirty_results_root",
           "is_committed_destination", "DirtySourceError", "check_sweep_source"]

DIRTY_SUFFIX = _io.DIRTY_SUFFIX  # what source_revision appends when minde/ has uncommitted changes
DIRTY_RESULTS = ("data", "results-dirty")  # where --allow-dirty writes, under the project root (git-ignored)


def source_revision() -> str:
    """The revision records made now would carry (``minde._io.source_revision``)."""
    return _io.source_revision()


def git(repo: str | os.PathLike, *args: str) -> subprocess.CompletedProcess | None:
    """Run ``git -C repo ARGS``; None when git is missing or times out."""
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None


def _in_git_repo(repo: Path) -> bool:
    """Is ``repo`` inside a git work tree?"""
    out = git(repo, "rev-parse", "--is-inside-work-tree")
    return out is not None and out.returncode == 0 and out.stdout.strip() == "true"


@dataclass(frozen=True)
class RevisionStatus:
    """What the report says about one recorded revision."""

    revision: str  # as recorded ("" when none was recorded)
    status: str  # e.g. "ancestor of HEAD", "not an ancestor of HEAD", "unknown commit"
    flagged: bool  # True when a record with this revision should not be trusted as committed code


def revision_status(revision: str, repo: str | os.PathLike | None = None) -> RevisionStatus:
    """Classify a recorded ``git_rev`` against the HEAD of ``repo`` (default: the project root).

    Flagged: no revision recorded, ``+dirty`` (uncommitted changes in minde/), a commit the
    repository does not know, or one that is not an ancestor of HEAD. Not flagged: an ancestor of
    HEAD. Without a git repository the ancestry cannot be checked (flagged only if dirty).
    """
    repo = Path(repo) if repo is not None else _io.project_root()
    rev = (revision or "").strip()
    if not rev:
        return RevisionStatus(rev, "no revision recorded", True)
    dirty = rev.endswith(DIRTY_SUFFIX)
    sha = rev[: -len(DIRTY_SUFFIX)] if dirty else rev
    note = ", with uncommitted changes (+dirty)" if dirty else ""
    if not _in_git_repo(repo):
        return RevisionStatus(rev, f"cannot check ancestry (no git repository){note}", dirty)
    known = git(repo, "cat-file", "-e", f"{sha}^{{commit}}")
    if known is None or known.returncode != 0:
        return RevisionStatus(rev, f"unknown commit{note}", True)
    anc = git(repo, "merge-base", "--is-ancestor", sha, "HEAD")
    if anc is not None and anc.returncode == 0:
        return RevisionStatus(rev, f"ancestor of HEAD{note}", dirty)
    return RevisionStatus(rev, f"not an ancestor of HEAD{note}", True)


def dirty_results_root() -> Path:
    """Results root of sweeps run with ``--allow-dirty``: ``<project root>/data/results-dirty``."""
    return _io.project_root().joinpath(*DIRTY_RESULTS)


def is_committed_destination(root: str | os.PathLike, experiment: str, budget: str) -> bool:
    """Would records under ``root/experiment/budget`` be committed with the project?

    True when ``root`` is the project's results folder (``minde._io.results_root()``) and git does
    not ignore that experiment's folder (smoke results, for one, are ignored). Outside a git
    repository the results folder counts as committed.
    """
    try:
        same = Path(root).resolve() == _io.results_root().resolve()
    except OSError:
        return False
    if not same:
        return False
    folder = Path(root) / experiment / budget / "units"
    project = _io.project_root()
    if not _in_git_repo(project):
        return True
    ignored = git(project, "check-ignore", "-q", str(folder.resolve()))
    return not (ignored is not None and ignored.returncode == 0)


class DirtySourceError(SweepArgumentError):
    """A sweep would write records computed from uncommitted code into the committed results
    (a SweepArgumentError, so ``minde sweep`` exits with status 2)."""


def check_sweep_source(root: str | os.PathLike, experiment: str, budget: str,
                       revision: str | None = None) -> None:
    """Refuse (DirtySourceError) when minde/ has uncommitted changes and ``root`` is committed.

    A package installed without git (revision "") passes: there is nothing to compare with.
    """
    rev = source_revision() if revision is None else revision
    if not rev.endswith(DIRTY_SUFFIX) or not is_committed_destination(root, experiment, budget):
        return
    raise DirtySourceError(
        f"the package source has uncommitted changes (revision {rev}: `git status minde/` lists "
        f"them), and this sweep would write its records into the committed results folder "
        f"{Path(root) / experiment / budget}. A committed record must be computed from committed "
        f"code: commit your changes first, or pass --allow-dirty to write to "
        f"{dirty_results_root()} (git-ignored) instead, or choose another folder with --out DIR")
