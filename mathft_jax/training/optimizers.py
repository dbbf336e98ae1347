"""Optax optimiser and learning-rate schedule from gin: AdamW or Adafactor, warmup + decay, clipping.

Gradient accumulation is done in the train step (microbatches), so one step = one update and the
schedule counts steps. Bind e.g. `make_optimizer.name = "adafactor"`, `make_schedule.decay = "linear"`.

    python -m pytest -q tests/training/test_train_step.py
"""

import gin
import optax

DECAYS = ("cosine", "linear", "constant")


@gin.configurable
def make_schedule(
    total_steps: int,
    peak_learning_rate: float = 1e-4,
    warmup_steps: int = 0,
    decay: str = "cosine",
    final_fraction: float = 0.0,
) -> optax.Schedule:
    """Linear warmup from 0 to the peak, then `decay` down to peak * final_fraction at total_steps."""
    if decay not in DECAYS:
        raise ValueError(f"make_schedule.decay={decay!r} (gin); expected one of {DECAYS}")
    warm = optax.linear_schedule(0.0, peak_learning_rate, max(warmup_steps, 1))
    rest = max(total_steps - warmup_steps, 1)
    end = peak_learning_rate * final_fraction
    if decay == "cosine":
        main = optax.cosine_decay_schedule(peak_learning_rate, rest, alpha=final_fraction)
    elif decay == "linear":
        main = optax.linear_schedule(peak_learning_rate, end, rest)
    else:
        main = optax.constant_schedule(peak_learning_rate)
    if warmup_steps <= 0:
        return main
    return optax.join_schedules([warm, main], [warmup_steps])


@gin.configurable
def make_optimizer(
    schedule: optax.Schedule,
    name: str = "adamw",
    weight_decay: float = 0.0,
    b1: float = 0.9,
    b2: float = 0.95,
    eps: float = 1e-8,
    clip_norm: float | None = 1.0,
    adafactor_parameter_scale: bool = True,
) -> optax.GradientTransformation:
    """The optimiser chain: global-norm clipping (if clip_norm) then AdamW or Adafactor.

    Adafactor keeps factored second moments and no first moment, so its state is a small fraction
    of AdamW's two f32 moments: what lets gemma2_2b SSFT fit v5e:2x2 (gin/tpu/). optax scales its
    step by each weight's RMS (`adafactor_parameter_scale=True`), so at an AdamW-sized learning
    rate small weights barely move; with False the rate is an absolute step per weight, as in
    AdamW, and an AdamW recipe's LEARNING_RATE carries over.
    """
    if name == "adamw":
        opt = optax.adamw(schedule, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)
    elif name == "adafactor":
        opt = optax.adafactor(
            schedule,
            weight_decay_rate=weight_decay or None,
            multiply_by_parameter_scale=adafactor_parameter_scale,
        )
    elif name == "sgd":
        opt = optax.sgd(schedule)
    else:
        raise ValueError(
            f'make_optimizer.name={name!r} (gin); expected "adamw", "adafactor", "sgd"'
        )
    if clip_norm:
        return optax.chain(optax.clip_by_global_norm(clip_norm), opt)
    return opt
