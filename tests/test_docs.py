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
    assert sections == set(range(1, 19))
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


# --- hand-typed result tables of docs/method.md §13-§15 against their committed CSVs ------------

RESULTS = ROOT / "data" / "results"
RECIPES_DIR = RESULTS / "ablation_training_recipe" / "quick"
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def _method_tables(section: int) -> list[list[list[str]]]:
    """The markdown tables of docs/method.md section ``section``: rows of cells, header first."""
    text = (ROOT / "docs" / "method.md").read_text(encoding="utf-8")
    body = re.split(r"^## (?=\d+\. )", text, flags=re.M)
    chunk = next(b for b in body if b.startswith(f"{section}. "))
    tables, current = [], []
    for line in chunk.splitlines() + [""]:
        if line.strip().startswith("|"):
            current.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif current:
            tables.append([r for r in current if not set("".join(r)) <= set("-: ")])
            current = []
    return tables


def _table(section: int, header_start: str) -> list[list[str]]:
    found = [t for t in _method_tables(section) if " | ".join(t[0]).startswith(header_start)]
    assert len(found) == 1, f"§{section}: {len(found)} tables whose header starts with {header_start!r}"
    return found[0]


def _numbers(cell: str) -> list[str]:
    """The numbers typed in a cell, in order ("10 000" is one number, "−" a minus sign)."""
    text = re.sub(r"(?<=\d)[ \u202f](?=\d{3}\b)", "", cell.replace("−", "-").replace("*", ""))
    return NUMBER.findall(text)


def _check_table(section: int, header_start: str, expected: dict[str, list]) -> None:
    """Every data row of the table must match one key of ``expected`` (a prefix of the row's cells
    joined by " | "); each expected entry (a number or a tuple of numbers, None to skip) is
    compared with the numbers typed in that cell, rounded as printed."""
    rows = _table(section, header_start)[1:]
    seen = set()
    for row in rows:
        joined = " | ".join(row)
        keys = [k for k in expected if joined.startswith(k)]
        assert len(keys) == 1, f"§{section}: row {joined!r} matches {keys} (every row needs one source)"
        seen.add(keys[0])
        want = expected[keys[0]]
        assert len(want) == len(row), f"§{section}: row {joined!r} has {len(row)} cells"
        for cell, value in zip(row, want):
            if value is None:
                continue
            values = value if isinstance(value, tuple) else (value,)
            typed = _numbers(cell)[-len(values):]  # a label's numbers come last: "task (truth)"
            assert len(typed) == len(values), f"§{section}: {cell!r} in row {row[0]!r}"
            for text, v in zip(typed, values):
                decimals = len(text.split(".")[1]) if "." in text else 0
                assert abs(float(text) - v) <= 0.5 * 10 ** -decimals + 1e-9, (
                    f"§{section}, row {row[0]!r}: typed {text}, the CSV gives {v:.6f}")
    assert seen == set(expected), f"§{section}: rows missing from the table: {set(expected) - seen}"


def _recipe_mae(df, tasks=None):
    from minde.repro.analysis import recipe_summary

    if tasks is not None:
        df = df[df["task"].isin(tasks)]
    return recipe_summary(df).set_index(["recipe", "variant"])


def test_section_13_recipe_table_matches_its_csv():
    import pandas as pd

    s = _recipe_mae(pd.read_csv(RECIPES_DIR / "results.csv"))
    assert set(s["tasks"]) == {10}
    variants = ["minde_c", "minde_c_sigma", "minde_j", "minde_j_sigma"]
    _check_table(13, "recipe | steps, batch, peak lr", {
        f"`{r}`": [None, None, *(s.loc[(r, v), "mae"] for v in variants),
                   (s.loc[(r, "minde_c"), "seconds"], s.loc[(r, "minde_j"), "seconds"])]
        for r in ("constant-is", "cosine-is", "cosine-uniform", "cosine-uniform-b512")})


def test_section_13_screened_and_unscreened_benchmark_tasks_match_the_csv():
    import pandas as pd

    from minde.repro.recipes import SCREEN_TASKS

    df = pd.read_csv(RESULTS / "benchmark" / "quick" / "results.csv")
    df = df[df["status"] == "ok"]
    per = (df.groupby(["variant", "task"]).agg(mean=("estimate", "mean"), truth=("truth", "first"))
           .reset_index())
    per["err"] = (per["mean"] - per["truth"]).abs()
    per["screened"] = per["task"].isin(SCREEN_TASKS)
    assert per["task"].nunique() == 40 and per.loc[per["screened"], "task"].nunique() == len(SCREEN_TASKS)

    def cells(screened: bool) -> list:
        sub = per[per["screened"] == screened].set_index("variant")
        return [(sub.loc[v, "err"].mean(), float((sub.loc[v, "err"] <= 0.1).sum()))
                for v in ("minde_c", "minde_c_sigma", "minde_j", "minde_j_sigma")]

    n_out = float(per.loc[~per["screened"], "task"].nunique())
    _check_table(13, "benchmark tasks | MINDE-C", {
        "the 32 the study did not screen": [n_out, *cells(False)],
        "the 8 it screened": [float(len(SCREEN_TASKS)), *cells(True)]})


def test_section_13_ema_and_width_table_matches_its_csvs():
    import pandas as pd

    big = "multinormal-sparse-25-25-2-2.0"
    base = pd.read_csv(RECIPES_DIR / "results.csv")
    base = base[((base["recipe"] == "cosine-is") & (base["kind"] == "c"))
                | ((base["recipe"] == "cosine-uniform") & (base["kind"] == "j"))]
    new = pd.read_csv(RECIPES_DIR / "ema_width.csv")
    s = pd.concat([_recipe_mae(base[base["task"] != big]), _recipe_mae(new[new["task"] != big])])
    assert set(s["tasks"]) == {9}

    def row(recipe: str, kind: str, spread: bool = True) -> list:
        a, b = (("minde_c", "minde_c_sigma") if kind == "c" else ("minde_j", "minde_j_sigma"))
        first = ((s.loc[(recipe, a), "mae"], s.loc[(recipe, a), "mae_seed_std"]) if spread
                 else s.loc[(recipe, a), "mae"])
        pair = [first, s.loc[(recipe, b), "mae"]]
        cols = pair + [None, None] if kind == "c" else [None, None] + pair
        return [None, *cols, s.loc[(recipe, a), "seconds"]]

    _check_table(13, "recipe | MINDE-C | MINDE-C(σ) | MINDE-J", {
        "`cosine-is` ": row("cosine-is", "c"), "`cosine-is-ema99`": row("cosine-is-ema99", "c"),
        "`cosine-is-w2`": row("cosine-is-w2", "c"), "`cosine-uniform` ": row("cosine-uniform", "j"),
        "`cosine-uniform-ema99`": row("cosine-uniform-ema99", "j"),
        "`cosine-uniform-w2` ": row("cosine-uniform-w2", "j"),
        "`cosine-uniform-w2-4k`": row("cosine-uniform-w2-4k", "j", spread=False)})


def test_section_14_score_error_tables_match_their_csvs():
    import pandas as pd

    d = pd.read_csv(RESULTS / "score_error" / "quick" / "results.csv")
    v = d.pivot_table(index=["kind", "quantity"], columns="seed", values="value")
    assert list(v.columns) == [0, 1, 2]
    v["mean"] = v[[0, 1, 2]].mean(axis=1)

    def q(kind: str, *quantities: str) -> list:
        return [sum(v.loc[(kind, x), c] for x in quantities) for c in (0, 1, 2, "mean")]

    c_energy = [(x, y) for x, y in zip(q("c", "energy[X]"), q("c", "energy[X|Y]"))]
    _check_table(14, "quantity | seed 0", {
        "MINDE-J with learned scores": [q("j", "mi[exact]")[3], *q("j", "mi[learned]")],
        "its shift": [None, *q("j", "shift[learned]")],
        "error energy of the difference": [None, *q("j", "energy[diff]")],
        "error energy of the joint": [None, *q("j", "energy[XY]")],
        "error energy of $X\\mid Y$ + $Y\\mid X$": [None, *q("j", "energy[X|Y]", "energy[Y|X]")],
        "MINDE-J(σ) shift": [None, *q("j", "sigma_shift[learned]")],
        "MINDE-C shift": [None, *q("c", "shift[learned]")],
        "MINDE-C: error energy": [None, *c_energy]})

    r = pd.read_csv(RESULTS / "score_error" / "quick" / "role_probs.csv")
    m = r.groupby(["role_probs", "steps", "quantity"])["value"].mean()
    assert set(r["seed"]) == {0, 1, 2}
    names = {"0.2 / 0.4 / 0.4": "0.2/0.4/0.4", "1/3 / 1/3 / 1/3": "0.333333/0.333333/0.333333",
             "0.5 / 0.25 / 0.25 (default)": "0.5/0.25/0.25", "0.7 / 0.15 / 0.15": "0.7/0.15/0.15",
             "0.8 / 0.1 / 0.1": "0.8/0.1/0.1"}
    quantities = ["mi[learned]", "mi_sigma[learned]", "energy[XY]", "energy[X|Y]", "energy[Y|X]", "energy[diff]"]
    expected = {}
    for label, key in names.items():
        for steps in sorted({s for p, s in m.index.droplevel(2) if p == key}):
            expected[f"{label} | {steps:,}".replace(",", " ")] = [
                None, float(steps), *(m[(key, steps, x)] for x in quantities)]
    assert len(expected) == 6
    _check_table(14, "joint / $X\\mid Y$", expected)


def test_section_15_batches_table_matches_its_csv():
    import pandas as pd

    b = pd.read_csv(RECIPES_DIR / "batches.csv")
    b = b[b["variant"] == "minde_c"]
    p = b.pivot_table(index=["task", "seed"], columns="recipe", values="estimate")
    expected = {}
    for task, label in (("multinormal-dense-5-5-0.5", "multinormal-dense-5-5-0.5"),
                        ("1v1-normal-0.75", "1v1-normal-0.75")):
        t = p.loc[task]
        diff = t["constant-is-epochs"] - t["constant-is"]
        truth = b.loc[b["task"] == task, "truth"].iloc[0]
        expected[label] = [truth, (t["constant-is"].mean(), t["constant-is"].std()),
                           (t["constant-is-epochs"].mean(), t["constant-is-epochs"].std()),
                           (diff.mean(), diff.std() / len(diff) ** 0.5)]
    _check_table(15, "task (truth) | with replacement", expected)


# --- the README and docs/: links resolve, the verdict table is the claims report's --------------

def test_relative_links_in_readme_and_docs_resolve():
    missing = []
    for f in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", f.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            if not (f.parent / target.split("#")[0]).exists():
                missing.append(f"{f.relative_to(ROOT)} -> {target}")
    assert not missing, missing


def _md_rows(text: str, header_start: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def test_readme_verdicts_are_those_of_the_committed_claims_report():
    report = _md_rows((ROOT / "reports" / "quick.md").read_text(encoding="utf-8"), "| artefact | claim")
    readme = _md_rows((ROOT / "README.md").read_text(encoding="utf-8"), "| paper item | claim | verdict")
    assert [(claim, verdict) for _, claim, verdict, _ in report] == [
        (claim, verdict) for _, claim, verdict, *_ in readme]


def test_section_17_models_and_roles_table_matches_its_csv():
    import pandas as pd

    r = pd.read_csv(RECIPES_DIR / "models_roles.csv")
    r["ae"] = (r["estimate"] - r["truth"]).abs()
    expected = {}
    for (task, recipe), g in r.groupby(["task", "recipe"]):
        cross = g[g["variant"] == "minde_j_cross"]
        share = {"cosine-uniform": "0.5 (default)", "cosine-uniform-j60": "0.6"}[recipe]
        paper = g.loc[(g["models"] == 1) & (g["variant"] == "minde_j"), "estimate"]
        assert len(paper) == 5 and len(cross) == 26  # 5 seeds; 10 + 10 + 5 + 1 subsets
        expected[f"{task} ({g['truth'].iloc[0]:.3f}) | {share}"] = [
            g["truth"].iloc[0], None, paper.mean(), float(cross.loc[cross["models"] == 5, "estimate"].iloc[0]),
            tuple(cross.loc[cross["models"] == k, "ae"].mean() for k in (2, 3, 4, 5)),
            cross.loc[cross["models"] == 2, "estimate"].std()]
    _check_table(17, "task (truth) | joint share", expected)


def test_readme_answer_numbers_are_table_1s():
    """The README's sentence on MINDE-J's answer quotes the quick Table 1 summary."""
    import pandas as pd

    summary = pd.read_csv(ROOT / "figures" / "quick" / "tab01_summary.csv").set_index("method")
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    m = re.search(r"mean absolute error is (\d\.\d{3}) nats \((\d+) tasks within 0\.1\), against (\d\.\d{3}) "
                  r"\((\d+)\) for the paper's MINDE-J and (\d\.\d{3}) \((\d+)\) for the paper's MINDE-C", text)
    assert m, "the README's answer sentence is missing or reworded"
    for (mae, within), label in zip(zip(m.groups()[::2], m.groups()[1::2]),
                                    ("MINDE-J debiased, 2 models (beyond the paper)", "MINDE-J", "MINDE-C")):
        row = summary.loc[label]
        assert abs(float(mae) - row["mae"]) <= 0.0005 and int(within) == row["within_0.1"], label
    assert summary.loc["MINDE-J debiased, 2 models (beyond the paper)", "tasks"] == 40


def test_section_17_outside_benchmark_table_matches_its_csv():
    import pandas as pd

    r = pd.read_csv(RECIPES_DIR / "outside_benchmark.csv")
    paper = r[r["models"] == 1].groupby(["task", "variant"])["estimate"].mean()
    full = r[r["models"] == 3].set_index(["task", "variant"])["estimate"]
    assert set(r.loc[r["models"] == 1, "seed"]) == {0, 1, 2}
    expected = {}
    for task in ("extra-independent-3-3", "extra-cubic-gaussian-3-3"):
        truth = float(r.loc[r["task"] == task, "truth"].iloc[0])
        expected[f"{task} ({truth:.3f})"] = [truth, paper[(task, "minde_c")], full[(task, "minde_c_cross")],
                                             paper[(task, "minde_j")], full[(task, "minde_j_cross")]]
    _check_table(17, "problem (truth) | MINDE-C | MINDE-C cross-model", expected)
