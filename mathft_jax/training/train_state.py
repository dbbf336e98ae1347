"""The train state (step, params, optimizer state) and the jitted train/eval steps.

The step averages gradients over `accum_steps` equal microbatches (lax.scan) before one optimizer
update, so a step is one update whatever the accumulation. Losses are per-token (MLE) or per-row
(verifier/pair) means within each microbatch, then averaged over microbatches.

    python -m pytest -q tests/training/test_train_step.py
"""

from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax

from mathft_jax.training import objectives


@flax.struct.dataclass
class TrainState:
    """Everything a step changes; checkpoints store params and opt_state, the step is the dir name."""

    step: jax.Array
    params: Any
    opt_state: Any


def _split_micro(batch: Any, accum_steps: int) -> Any:
    def split(x: jax.Array) -> jax.Array:
        if x.shape[0] % accum_steps:
            raise ValueError(f"batch rows {x.shape[0]} not divisible by accum_steps {accum_steps}")
        return x.reshape(accum_steps, x.shape[0] // accum_steps, *x.shape[1:])

    return jax.tree.map(split, batch)


def make_train_step(
    obj: objectives.Objective,
    logits_fn: objectives.LogitsFn,
    tx: optax.GradientTransformation,
    schedule: optax.Schedule,
    accum_steps: int = 1,
) -> Callable[[TrainState, Any], tuple[TrainState, dict[str, jax.Array]]]:
    """A pure `(state, batch) -> (state, metrics)`; jit it with shardings and donate the state."""

    loss = objectives.loss_for(obj)

    def loss_fn(params: Any, batch: Any) -> tuple[jax.Array, dict]:
        return loss(logits_fn, params, batch)

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def step(state: TrainState, batch: Any) -> tuple[TrainState, dict[str, jax.Array]]:
        if accum_steps == 1:
            (_, metrics), grads = grad_fn(state.params, batch)
        else:
            micro = _split_micro(batch, accum_steps)

            def body(acc: Any, mb: Any) -> tuple[Any, dict]:
                (_, m), g = grad_fn(state.params, mb)
                return jax.tree.map(jnp.add, acc, g), m

            zeros = jax.tree.map(jnp.zeros_like, state.params)
            grads, ms = jax.lax.scan(body, zeros, micro)
            grads = jax.tree.map(lambda g: g / accum_steps, grads)
            metrics = jax.tree.map(jnp.mean, ms)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = dict(metrics)
        metrics["grad_norm"] = optax.tree.norm(grads)
        # Non-finite here means the new params are bad even when this step's loss was fine.
        metrics["update_norm"] = optax.tree.norm(updates)
        metrics["learning_rate"] = schedule(state.step)
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state), metrics

    return step


def make_eval_step(
    obj: objectives.Objective, logits_fn: objectives.LogitsFn
) -> Callable[[Any, Any], dict[str, jax.Array]]:
    """`(params, batch) -> metrics` (no gradient)."""

    loss = objectives.loss_for(obj)

    def step(params: Any, batch: Any) -> dict[str, jax.Array]:
        return loss(logits_fn, params, batch)[1]

    return step
