"""Reliability warnings: too few rows, and a network that memorised its training rows (docs/method.md §18)."""
import numpy as np
import pytest

import minde
from minde.diagnostics import RELIABLE_ROWS, reliability_warnings


def test_rules_name_the_size_and_the_memorisation():
    assert reliability_warnings("c", 5_000, 0.41, 0.01, 0.40, 0.01) == []
    for kind in ("c", "j"):
        assert reliability_warnings(kind, RELIABLE_ROWS[kind], 0.41, 0.01, 0.40, 0.01) == []
        size = reliability_warnings(kind, RELIABLE_ROWS[kind] - 1, 0.41, 0.01, 0.40, 0.01)
        assert len(size) == 1 and f"{RELIABLE_ROWS[kind] - 1} training rows" in size[0]
        assert f"MINDE-{kind.upper()}" in size[0]
    assert RELIABLE_ROWS["c"] < RELIABLE_ROWS["j"]  # MINDE-J needs more rows (docs/method.md §18)
    memo = reliability_warnings("c", 5_000, 14.6, 0.08, 3.1, 0.05)  # the 250-row Gaussian of the module doc
    assert len(memo) == 1 and "memorised" in memo[0] and "+11.500" in memo[0]
    assert reliability_warnings("c", 5_000, 0.50, 0.01, 0.45, 0.01) == []  # 5 se apart but only 10 %
    assert reliability_warnings("c", 5_000, 0.50, 0.2, 0.30, 0.2) == []  # 40 % apart but within noise


def test_a_fit_on_few_rows_is_flagged_and_checked_on_its_training_rows():
    """200 rows: the size warning, in the result and in its text; the training-row estimate is there."""
    rng = np.random.default_rng(0)
    z = rng.multivariate_normal([0, 0], [[1, 0.75], [0.75, 1]], size=2_200)
    r = minde.MINDE("c", budget="smoke", progress=False).fit(z[:200, :1], z[:200, 1:]).estimate(
        z[200:, :1], z[200:, 1:])
    assert r.n_train == 200 and np.isfinite(r.mi_train)
    assert any("200 training rows" in w for w in r.warnings) and "WARNING" in str(r)


@pytest.mark.slow
def test_enough_rows_and_the_quick_budget_give_no_warning():
    rng = np.random.default_rng(1)
    z = rng.multivariate_normal([0, 0], [[1, 0.75], [0.75, 1]], size=12_000)
    r = minde.MINDE("c", budget="quick", progress=False).fit(z[:10_000, :1], z[:10_000, 1:]).estimate(
        z[10_000:, :1], z[10_000:, 1:])
    assert r.warnings == () and abs(r.mi - r.mi_train) < 0.05, (r.mi, r.mi_train)
