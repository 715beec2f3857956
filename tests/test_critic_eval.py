"""The blocked all-pairs bounds of the neural baselines against bmi's own (docs/method.md §9)."""
from __future__ import annotations

import numpy as np
import pytest

from minde.bench import critic_eval
from minde.bench.tasks import import_bmi, jax_cpu


@pytest.fixture(scope="module")
def bmi_parts():
    import_bmi()
    with jax_cpu():
        import jax
        import jax.numpy as jnp
        from bmi.estimators.neural import _backend_linear_memory as linear
        from bmi.estimators.neural._critics import MLP

        yield jax, jnp, linear, MLP


@pytest.mark.parametrize("dims,hidden", [((3, 2), (32, 32, 8)), ((1, 4), (16, 8))])
@pytest.mark.parametrize("name", ["infonce", "nwj", "donsker_varadhan"])
def test_blocked_bounds_equal_bmis(bmi_parts, monkeypatch, name: str, dims, hidden) -> None:
    """Same value as bmi's linear-memory bound, also when the rows split into blocks that do not
    divide them (the last block padded); a trained-looking critic (scaled weights) so the pairs'
    scores differ by several nats."""
    jax, jnp, linear, MLP = bmi_parts
    rng = np.random.default_rng(3)
    n = 301
    x = rng.normal(size=(n, dims[0])).astype(np.float32)
    y = (0.7 * np.resize(x, (n, dims[1])) + 0.5 * rng.normal(size=(n, dims[1]))).astype(np.float32)
    critic = MLP(key=jax.random.PRNGKey(1), dim_x=dims[0], dim_y=dims[1], hidden_layers=hidden)
    critic = jax.tree_util.tree_map(lambda a: 3.0 * a if hasattr(a, "dtype") else a, critic)
    xs, ys = jnp.asarray(x), jnp.asarray(y)
    want = float(getattr(linear, name)(critic, xs, ys))
    raw = {"infonce": critic_eval._infonce, "nwj": critic_eval._nwj,
           "donsker_varadhan": critic_eval._donsker_varadhan}[name]
    monkeypatch.setattr(critic_eval, "BLOCK_FLOATS", 7 * n * hidden[0])  # 7 rows a block: 43 blocks, 2 padded rows
    assert float(raw(critic, xs, ys)) == pytest.approx(want, rel=1e-5, abs=1e-5)
    monkeypatch.undo()
    assert float(critic_eval.TEST_FORMULAS[name](critic, xs, ys)) == pytest.approx(want, rel=1e-5, abs=1e-5)
    assert abs(want) > 1e-3  # the critic is far from constant


def test_another_critic_is_refused(bmi_parts) -> None:
    _, jnp, _, _ = bmi_parts
    with pytest.raises(ValueError, match="MLP critic"):
        critic_eval._infonce(lambda x, y: 0.0, jnp.zeros((4, 1)), jnp.zeros((4, 1)))


@pytest.mark.parametrize("name", ["infonce", "nwj", "donsker_varadhan"])
def test_training_loop_equals_bmis(bmi_parts, name: str) -> None:
    """minde.bench.critic_train.basic_training takes bmi's steps (same keys, mini-batches, Adam
    updates, checkpoints and early stopping): the same test history and final bound as bmi's loop,
    also on a second call, which reuses the compiled step."""
    from bmi.estimators.neural import _backend_quadratic_memory as quadratic
    from bmi.estimators.neural._basic_training import basic_training as bmi_training

    from minde.bench import critic_train

    jax, jnp, _, MLP = bmi_parts
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 2)).astype(np.float32)
    y = (0.8 * x + 0.6 * rng.normal(size=(400, 2))).astype(np.float32)
    kw = dict(rng=jax.random.PRNGKey(2), critic=MLP(key=jax.random.PRNGKey(1), dim_x=2, dim_y=2,
                                                    hidden_layers=(16, 8)),
              mi_formula=getattr(quadratic, name), xs=jnp.asarray(x[:300]), ys=jnp.asarray(y[:300]),
              xs_test=jnp.asarray(x[300:]), ys_test=jnp.asarray(y[300:]), batch_size=64,
              test_every_n_steps=20, max_n_steps=200, learning_rate=1e-2, verbose=False)
    want, _ = bmi_training(**kw)
    for _ in range(2):
        got, _ = critic_train.basic_training(**kw)
        hist = got.additional_information["test_history"]
        assert [s for s, _ in hist] == [s for s, _ in want.additional_information["test_history"]]
        np.testing.assert_allclose([v for _, v in hist], [v for _, v in want.additional_information["test_history"]],
                                   rtol=1e-5, atol=1e-6)
        assert float(got.final_mi) == pytest.approx(float(want.final_mi), rel=1e-5, abs=1e-6)
    assert len(hist) >= 2 and float(want.final_mi) > 0.3  # it trained, and checkpoints were compared
