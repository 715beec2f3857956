"""Reliability warnings attached to every MINDE result: data size and memorisation (docs/method.md §18).

A score network trained for many passes over few rows memorises them, and the score differences
it then gives on new rows measure the memorisation, not the dependence: on 250 rows of a 3×3
Gaussian task (truth 0.41 nats), 10 000 steps of the quick recipe made MINDE-C read 14.6 nats on
held-out rows and 3.1 on its own training rows. The quick budget now caps its steps per training
row, which removes most of that, but small sets still mislead, MINDE-J more than MINDE-C.
``reliability_warnings`` turns two signals into plain sentences: fewer training rows per model
than ``RELIABLE_ROWS`` of the kind, and a held-out estimate that departs from the estimate on (a
sample of) the training rows by more than ``MEMORISATION_Z`` combined Monte Carlo standard errors
and more than ``MEMORISATION_REL`` of the larger of the two.
"""
from __future__ import annotations

import math

__all__ = ["RELIABLE_ROWS", "DIAGNOSTIC_ROWS", "MEMORISATION_Z", "MEMORISATION_REL", "reliability_warnings"]

# training rows per model below which the quick defaults were measured to miss the truth by more
# than max(0.1 nats, 25 %) on Gaussian tasks (benchmarks/small_data.py, docs/method.md §18)
RELIABLE_ROWS = {"c": 800, "j": 1_600}
DIAGNOSTIC_ROWS = 2_000  # training rows (at most) re-estimated for the memorisation check
MEMORISATION_Z = 3.0  # held-out vs training-row estimates: combined standard errors apart ...
MEMORISATION_REL = 0.25  # ... and this fraction of the larger estimate


def reliability_warnings(kind: str, n_train: int, mi: float, mi_stderr: float, mi_train: float,
                         mi_train_stderr: float) -> list[str]:
    """Warnings (possibly none) for a MINDE-``kind`` estimate ``mi`` (nats) on held-out rows of a
    model trained on ``n_train`` rows, whose estimate on its own training rows is ``mi_train``."""
    out = []
    if n_train < RELIABLE_ROWS[kind]:
        out.append(f"only {n_train} training rows per model: below {RELIABLE_ROWS[kind]}, MINDE-"
                   f"{kind.upper()}'s estimates were measured to miss the truth by more than 25 % "
                   "(docs/method.md §18); treat this number with caution")
    if math.isfinite(mi) and math.isfinite(mi_train):
        se = math.hypot(mi_stderr if math.isfinite(mi_stderr) else 0.0,
                        mi_train_stderr if math.isfinite(mi_train_stderr) else 0.0)
        gap = mi - mi_train
        if abs(gap) > MEMORISATION_Z * se and abs(gap) > MEMORISATION_REL * max(abs(mi), abs(mi_train)):
            out.append(f"the estimate on held-out rows ({mi:.3f} nats) and on the training rows "
                       f"({mi_train:.3f}) disagree by {gap:+.3f}: the network has memorised its "
                       "training rows and the estimate is not to be trusted (docs/method.md §18)")
    return out
