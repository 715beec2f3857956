"""The repository is self-contained: it cites docs/method.md or the paper, never a document or
tracker outside it, and the method document has every section the code cites."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ["minde", "notebooks", "tests", "benchmarks", "examples", "README.md", "docs", "data"]
OUTSIDE = re.compile("SP" + r"EC §|ST" + r"YLE §|\bissues? #?[0-9]")  # split so this file passes


def _files():
    for entry in SCANNED:
        path = ROOT / entry
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        yield from (f for f in files if f.is_file() and f.suffix in (".py", ".ipynb", ".md"))


def test_no_reference_to_documents_outside_the_repository():
    hits = [f"{f.relative_to(ROOT)}:{i}" for f in _files()
            for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
            if OUTSIDE.search(line)]
    assert not hits, f"references to an outside specification or issue tracker: {hits}"


def test_cited_method_sections_exist():
    method = (ROOT / "docs" / "method.md").read_text(encoding="utf-8")
    sections = {int(n) for n in re.findall(r"^## (\d+)\. ", method, flags=re.M)}
    assert sections == set(range(1, 17))
    cited = set()
    for f in _files():
        for run in re.findall(r"docs/method\.md (§\d+(?:\s*[-–,]\s*§\d+)*)", f.read_text(encoding="utf-8")):
            cited |= {int(n) for n in re.findall(r"§(\d+)", run)}
    assert cited and cited <= sections, sorted(cited - sections)


def test_citation_file_names_the_paper():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"].startswith("1.2")
    assert "2310.09031" in str(cff["preferred-citation"])
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_markdown_has_no_control_characters_from_lost_backslashes():
    """A LaTeX command written through an unescaped string ("\\times" -> tab + "imes") shows up
    as a control character in the rendered text."""
    bad = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]|\t(?=[a-z])")
    hits = [f"{f.relative_to(ROOT)}:{i}" for f in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
            for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1) if bad.search(line)]
    assert not hits, f"control characters (a lost backslash?) at {hits}"
