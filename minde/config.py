"""Training/estimation budgets (docs/method.md §7) as frozen dataclasses, and the rules that resolve them."""
from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Budget", "BUDGETS", "get_budget", "TrainSettings", "resolve_settings", "LR_SCHEDULES", "BATCH_MODES"]

LR_SCHEDULES = ("constant", "cosine", "linear")
# how mini-batches pick rows (docs/method.md §7): independently with replacement at every step
# (the default, every budget), or shuffled epochs dropping the last incomplete batch
BATCH_MODES = ("replacement", "epochs")


@dataclass(frozen=True)
class Budget:
    """A named compute budget; None fields follow the paper's rules of docs/method.md §7."""

    name: str  # smoke | quick | paper
    steps: int | None  # fixed number of optimiser steps; None: epochs below
    epochs_small: int | None  # epochs when d_x <= 5 (used when steps is None)
    epochs_large: int | None  # epochs when d_x > 5 (used when steps is None)
    batch_size: int | None  # None: 128 if d_x <= 5 else 256
    lr: float | None  # None: 1e-3 if d_x <= 5 else 2e-3
    ema_decay: float  # EMA decay of the weights used for estimation
    mc_iter: int  # Monte Carlo passes over the test set
    n_train: int  # default training-set size for benchmark experiments
    n_test: int  # default test-set size for benchmark experiments
    lr_schedule: str = "constant"  # constant | cosine | linear (decay to 0 over training)
    warmup: float = 0.0  # fraction of steps with a linear learning-rate warm-up from 0
    # t in training: None = as in estimation; a bool for both kinds; or per kind, (("c", True), ...)
    train_importance_sampling: bool | None | tuple[tuple[str, bool], ...] = None
    lr_scale: float = 1.0  # multiplies the paper's learning-rate rule when lr is None
    # at most this many optimiser steps per training row (None: no cap; or per kind, (("c", 2.0),
    # ...)), so small training sets are not passed over thousands of times (docs/method.md §18)
    max_steps_per_row: float | None | tuple[tuple[str, float], ...] = None

    def train_importance(self, kind: str) -> bool | None:
        """Whether kind ``kind`` samples t by importance in training (None: as in estimation)."""
        value = _per_kind(self.train_importance_sampling, kind,
                          f"budget {self.name!r} sets no training t-sampling for kind {kind!r}")
        return value if value is None else bool(value)

    def steps_per_row(self, kind: str | None) -> float | None:
        """The cap on optimiser steps per training row for kind ``kind`` (None: no cap)."""
        value = _per_kind(self.max_steps_per_row, kind, f"budget {self.name!r} caps steps per row by "
                          f"kind; give kind='c' or 'j', got {kind!r}")
        return value if value is None else float(value)


def _per_kind(value: object, kind: str | None, missing: str) -> object:
    """A budget field that is one value for both kinds or a table ((kind, value), ...): the value
    for ``kind``; ValueError(``missing``) when the table has no entry for it."""
    if not isinstance(value, tuple):
        return value
    table = dict(value)
    if kind not in table:
        raise ValueError(missing)
    return table[kind]


BUDGETS: dict[str, Budget] = {
    # seconds per model: checks the plumbing, not the numbers (CI)
    "smoke": Budget("smoke", steps=200, epochs_small=None, epochs_large=None, batch_size=None,
                    lr=None, ema_decay=0.999, mc_iter=2, n_train=2_000, n_test=1_000),
    # 10 000 steps (~30 s per 1v1 model on one free CPU thread) with the recipe the training-recipe
    # study chose (docs/method.md §7, §13): twice the paper's peak learning rate, 5% linear
    # warm-up, cosine decay to 0; t by importance in training for MINDE-C, uniform for MINDE-J;
    # at most 2 (MINDE-C) or 5 (MINDE-J) steps per training row, so fewer than 5 000 (2 000)
    # rows train for fewer steps (docs/method.md §18)
    "quick": Budget("quick", steps=10_000, epochs_small=None, epochs_large=None, batch_size=None,
                    lr=None, ema_decay=0.999, mc_iter=10, n_train=10_000, n_test=10_000,
                    lr_schedule="cosine", warmup=0.05, lr_scale=2.0,
                    train_importance_sampling=(("c", True), ("j", False)),
                    max_steps_per_row=(("c", 2.0), ("j", 5.0))),
    # the paper's protocol (docs/method.md §7)
    "paper": Budget("paper", steps=None, epochs_small=500, epochs_large=750, batch_size=None,
                    lr=None, ema_decay=0.999, mc_iter=10, n_train=100_000, n_test=10_000),
}


def get_budget(name: str | Budget) -> Budget:
    """Look up a budget by name, with a clear error for unknown names."""
    if isinstance(name, Budget):
        return name
    if name not in BUDGETS:
        raise ValueError(f"unknown budget {name!r}; valid budgets: {', '.join(BUDGETS)}")
    return BUDGETS[name]


@dataclass(frozen=True)
class TrainSettings:
    """Concrete settings of one training run after budget rules and overrides."""

    steps: int  # optimiser steps
    batch_size: int  # mini-batch size
    lr: float  # Adam learning rate
    ema_decay: float  # EMA decay
    mc_iter: int  # Monte Carlo passes at estimation
    lr_schedule: str = "constant"  # constant | cosine | linear (to 0 at the last step)
    warmup_steps: int = 0  # linear warm-up from 0 to lr over the first steps
    batches: str = "replacement"  # replacement: rows drawn anew each step | epochs: shuffled epochs
    steps_rule: str = "budget"  # why training stops after ``steps``: budget | epochs | rows | explicit


def resolve_settings(budget: Budget, dim_x: int, n_train: int, *, kind: str | None = None,
                     steps: int | None = None,
                     batch_size: int | None = None, lr: float | None = None,
                     mc_iter: int | None = None, ema_decay: float | None = None,
                     lr_schedule: str | None = None, warmup: float | None = None,
                     batches: str | None = None) -> TrainSettings:
    """Apply docs/method.md §7's rules for d_x, n_train and the kind ("c" or "j"; needed by a
    budget whose step cap depends on it), then explicit overrides."""
    small = dim_x <= 5
    bs = batch_size or budget.batch_size or (128 if small else 256)
    bs = min(bs, n_train)
    rule = "explicit"
    if steps is None:
        if budget.steps is not None:
            steps, rule = budget.steps, "budget"
            rate = budget.steps_per_row(kind)
            if rate is not None and rate * n_train < steps:
                steps, rule = max(1, math.ceil(rate * n_train)), "rows"
        else:
            epochs = budget.epochs_small if small else budget.epochs_large
            steps, rule = int(epochs) * math.ceil(n_train / bs), "epochs"
    if lr is None:
        lr = budget.lr if budget.lr is not None else (1e-3 if small else 2e-3) * budget.lr_scale
    mc = mc_iter if mc_iter is not None else budget.mc_iter
    ema = ema_decay if ema_decay is not None else budget.ema_decay
    schedule = lr_schedule if lr_schedule is not None else budget.lr_schedule
    frac = warmup if warmup is not None else budget.warmup
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {schedule!r}")
    mode = batches if batches is not None else "replacement"
    if mode not in BATCH_MODES:
        raise ValueError(f"batches must be one of {', '.join(BATCH_MODES)}, got {mode!r}")
    if not 0 <= frac < 1:
        raise ValueError(f"warmup must be a fraction of the steps in [0, 1), got {frac!r}")
    if not 0 <= ema < 1:
        raise ValueError(f"ema_decay must be in [0, 1), got {ema!r}")
    for name, val in (("steps", steps), ("batch_size", bs), ("mc_iter", mc)):
        if int(val) != val or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    return TrainSettings(int(steps), int(bs), float(lr), float(ema), int(mc), schedule,
                         int(round(frac * int(steps))), mode, rule)
