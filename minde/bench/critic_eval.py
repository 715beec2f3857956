"""The all-pairs held-out bounds of the neural baselines, computed in blocks (docs/method.md §9).

InfoNCE, NWJ and DV score a checkpoint of their critic on every pair (x_i, y_j) of the test split:
n² critic evaluations, 10⁸ at the paper protocol's 10 000 test rows. bmi 0.1.3 computes them one
row at a time (``_backend_linear_memory``: a scan over the x_i, each step running the critic on
(x_i, y_1..y_n)). The functions here compute the same bounds, on the same pairs, for bmi's
``MLP`` critic (ReLU layers on the concatenation [x, y]) with two changes of order only:

- The first layer is linear in the concatenation, W [x; y] + b = (W_x x + b) + W_y y, so its two
  halves are computed once per row and per column (2 n products) and added per pair, instead of
  multiplying every pair's concatenation (n² products).
- A block of rows is scored at once, so each layer is one large matrix product.

Sums run in another order, so values agree with bmi's to float32 rounding (the tests compare
them); the training and the checkpoints are bmi's own.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = ["BLOCK_FLOATS", "infonce", "nwj", "donsker_varadhan", "TEST_FORMULAS"]

# first-layer activations of one block: rows x n_test x width floats, about 32 MB
BLOCK_FLOATS = 8_000_000


def _layers(critic: Any) -> list[tuple[Any, Any]]:
    """(weight, bias) of each layer of a bmi ``MLP`` critic; ValueError for another critic."""
    layers = getattr(critic, "layers", None)
    if not layers or not all(hasattr(layer, "weight") for layer in layers):
        raise ValueError(f"blocked critic bounds need bmi's MLP critic, got {type(critic).__name__}")
    return [(layer.weight, layer.bias) for layer in layers]


def _row_stats(critic: Any, xs: Any, ys: Any, offset: float, diagonal: bool) -> tuple[Any, Any]:
    """(lse, positive): per row i, logsumexp_j (f(x_i, y_j) + offset) over all j (``diagonal``)
    or over j != i; and f(x_i, y_i). Shapes (n,), (n,)."""
    import jax
    import jax.numpy as jnp

    layers = _layers(critic)
    (w0, b0), rest = layers[0], layers[1:]
    n, dx = xs.shape
    a = xs @ w0[:, :dx].T + b0  # (n, h): the x half of the first layer, with its bias
    b = ys @ w0[:, dx:].T  # (n, h): the y half
    block = max(1, min(n, BLOCK_FLOATS // max(1, n * w0.shape[0])))
    n_blocks = math.ceil(n / block)
    pad = n_blocks * block - n
    a_blocks = jnp.pad(a, ((0, pad), (0, 0))).reshape(n_blocks, block, -1)

    def head(z: Any) -> Any:
        z = jax.nn.relu(z)
        for w, bias in rest[:-1]:
            z = jax.nn.relu(z @ w.T + bias)
        w, bias = rest[-1]
        return (z @ w.T + bias)[..., 0]

    def one_block(start: Any, rows: Any) -> tuple[Any, Any]:
        scores = head(rows[:, None, :] + b[None, :, :]) + offset  # (block, n)
        idx = start + jnp.arange(block)
        on_diag = idx[:, None] == jnp.arange(n)[None, :]
        positive = jnp.where(on_diag, scores, 0.0).sum(axis=1) - offset
        if not diagonal:
            scores = jnp.where(on_diag, -jnp.inf, scores)
        return jax.scipy.special.logsumexp(scores, axis=1), positive

    def body(carry: Any, item: tuple[Any, Any]) -> tuple[Any, tuple[Any, Any]]:
        return carry, one_block(*item)

    _, (lse, positive) = jax.lax.scan(body, None, (jnp.arange(n_blocks) * block, a_blocks))
    return lse.reshape(-1)[:n], positive.reshape(-1)[:n]


def _compiled(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` jit-compiled (lazily, so importing this module does not import JAX)."""
    cache: dict[str, Any] = {}

    def call(critic: Any, xs: Any, ys: Any) -> Any:
        if "f" not in cache:
            import jax

            cache["f"] = jax.jit(fn)
        return cache["f"](critic, xs, ys)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = fn.__doc__
    return call


def _infonce(critic: Any, xs: Any, ys: Any) -> Any:
    """InfoNCE: mean_i f(x_i, y_i) - mean_i logsumexp_j f(x_i, y_j) + log n (bmi's formula)."""
    import jax.numpy as jnp

    lse, positive = _row_stats(critic, xs, ys, 0.0, diagonal=True)
    return jnp.mean(positive) - jnp.mean(lse) + jnp.log(xs.shape[0])


def _logmeanexp_nodiag(lse: Any, n: int) -> Any:
    """log of the mean of exp over the n(n-1) off-diagonal pairs, from the rows' logsumexps."""
    import jax
    import jax.numpy as jnp

    return jax.scipy.special.logsumexp(lse) - jnp.log(n * (n - 1))


def _donsker_varadhan(critic: Any, xs: Any, ys: Any) -> Any:
    """Donsker-Varadhan: mean_i f(x_i, y_i) - log mean_{i != j} exp f(x_i, y_j) (bmi's formula)."""
    import jax.numpy as jnp

    lse, positive = _row_stats(critic, xs, ys, 0.0, diagonal=False)
    return jnp.mean(positive) - _logmeanexp_nodiag(lse, xs.shape[0])


def _nwj(critic: Any, xs: Any, ys: Any) -> Any:
    """NWJ: mean_i f(x_i, y_i) - mean_{i != j} exp(f(x_i, y_j) - 1) (bmi's formula)."""
    import jax.numpy as jnp

    lse, positive = _row_stats(critic, xs, ys, -1.0, diagonal=False)
    return jnp.mean(positive) - jnp.exp(_logmeanexp_nodiag(lse, xs.shape[0]))


infonce = _compiled("infonce", _infonce)
donsker_varadhan = _compiled("donsker_varadhan", _donsker_varadhan)
nwj = _compiled("nwj", _nwj)

# bmi's name of each bound -> its blocked form
TEST_FORMULAS: dict[str, Callable[..., Any]] = {"infonce": infonce, "donsker_varadhan": donsker_varadhan,
                                                "nwj": nwj}
