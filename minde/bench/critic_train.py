"""bmi's training loop of the InfoNCE, NWJ and DV critics, with each step one compiled call
(docs/method.md §9).

bmi 0.1.3's ``basic_training`` draws each step's mini-batch outside its compiled step, as a few
separate JAX operations (``jax.random.choice`` without replacement over the training rows: about
5 ms per step on one CPU core, more than the step itself), and compiles a new step function at
every call. ``basic_training`` here runs the same loop (the same keys, the same mini-batches, the
same Adam updates, the same checkpoints and early stopping, bmi's ``TrainingLog``) with the
mini-batch drawn inside the compiled step, and keeps the compiled step for the next call with the
same formula, learning rate and batch size. Values agree with bmi's to float32 rounding (XLA
may fuse the operations differently; ``tests/test_critic_eval.py`` compares them).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = ["basic_training"]


@functools.lru_cache(maxsize=None)
def _compiled_step(mi_formula: Callable[..., Any], learning_rate: float, batch_size: int | None) -> tuple[Any, Any]:
    """(optimizer, step): Adam at ``learning_rate`` and one jit-compiled training step that draws
    its mini-batch with bmi's ``get_batch`` and ascends ``mi_formula``."""
    import jax
    import optax
    from bmi.estimators.neural._basic_training import get_batch

    optimizer = optax.adam(learning_rate=learning_rate)

    @jax.jit
    def step(critic: Any, opt_state: Any, xs: Any, ys: Any, key: Any) -> tuple[Any, Any, Any]:
        batch_xs, batch_ys = get_batch(xs, ys, key, batch_size)
        value, grads = jax.value_and_grad(lambda c: -mi_formula(c, batch_xs, batch_ys))(critic)
        updates, opt_state = optimizer.update(grads, opt_state, critic)
        return optax.apply_updates(critic, updates), opt_state, -value

    return optimizer, step


def basic_training(rng: Any, critic: Any, mi_formula: Callable[..., Any], xs: Any, ys: Any,
                   mi_formula_test: Callable[..., Any] | None = None, xs_test: Any = None, ys_test: Any = None,
                   batch_size: int | None = 256, test_every_n_steps: int = 250, max_n_steps: int = 2_000,
                   early_stopping: bool = True, learning_rate: float = 0.1,
                   verbose: bool = True) -> tuple[Any, Any]:
    """bmi's ``basic_training`` (same arguments and defaults): (TrainingLog, trained critic)."""
    import jax
    from bmi.estimators.neural._training_log import TrainingLog

    mi_formula_test = mi_formula_test or mi_formula
    xs_test = xs_test if xs_test is not None else xs
    ys_test = ys_test if ys_test is not None else ys
    optimizer, step = _compiled_step(mi_formula, float(learning_rate), batch_size)
    opt_state = optimizer.init(critic)
    log = TrainingLog(max_n_steps=max_n_steps, early_stopping=early_stopping, verbose=verbose)
    for n_step, key in enumerate(jax.random.split(rng, max_n_steps), start=1):
        critic, opt_state, mi_train = step(critic, opt_state, xs, ys, key)
        log.log_train_mi(n_step, mi_train)
        if n_step % test_every_n_steps == 0:
            log.log_test_mi(n_step, mi_formula_test(critic, xs_test, ys_test))
        if log.early_stop():
            break
    log.finish()
    return log, critic
