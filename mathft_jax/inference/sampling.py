"""Next-token selection: greedy, temperature, top-p (nucleus) and optional top-k.

The paper samples with temperature 0.6 and top-p 0.95 and no top-k. These defaults are stated here
once, in `SamplingConfig`, and tested: T5X's `topk=1` default silently turns sampling into greedy
decoding, so `top_k` is `None` (off) unless a run asks for it.
"""

import dataclasses

import jax
import jax.numpy as jnp

import gin

NEG_INF = -1e30  # finite, so masked logits never produce NaN through `x - max(x)`


@gin.configurable
@dataclasses.dataclass(frozen=True)
class SamplingConfig:
    """How the N samples per problem are drawn.

    Attributes:
      temperature: softmax temperature; 0 means greedy (argmax).
      top_p: keep the smallest set of tokens whose probability mass reaches `top_p` (1.0 = off).
      top_k: keep only the `top_k` most likely tokens; None = off (the paper uses none).
    """

    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"SamplingConfig.temperature must be >= 0, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"SamplingConfig.top_p must be in (0, 1], got {self.top_p}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"SamplingConfig.top_k must be None or >= 1, got {self.top_k}")


def top_p_filter(logits: jax.Array, top_p: float) -> jax.Array:
    """Masks (to NEG_INF) the tokens outside the nucleus of mass `top_p`.

    A token is kept when the probability mass of the strictly more likely tokens is below `top_p`,
    so the most likely token is always kept. Example: probs [0.5, 0.3, 0.15, 0.05], top_p 0.8 keeps
    the first two (mass before them 0, 0.5) and drops the third (mass before it 0.8).

    Args:
      logits: [..., vocab] (already divided by the temperature).
      top_p: nucleus mass in (0, 1]; 1.0 returns `logits` unchanged.

    Returns:
      [..., vocab] logits with the tokens outside the nucleus at NEG_INF.
    """
    if top_p >= 1.0:
        return logits
    sorted_logits = jnp.sort(logits, axis=-1)[..., ::-1]  # [..., vocab] descending
    sorted_probs = jax.nn.softmax(sorted_logits, axis=-1)
    mass_before = jnp.cumsum(sorted_probs, axis=-1) - sorted_probs
    keep_sorted = mass_before < top_p
    # The smallest kept logit is the threshold; ties at the threshold are all kept.
    threshold = jnp.min(jnp.where(keep_sorted, sorted_logits, jnp.inf), axis=-1, keepdims=True)
    return jnp.where(logits >= threshold, logits, NEG_INF)


def top_k_filter(logits: jax.Array, top_k: int) -> jax.Array:
    """Masks (to NEG_INF) all but the `top_k` largest logits (ties at the k-th are kept)."""
    kth = jax.lax.top_k(logits, top_k)[0][..., -1:]
    return jnp.where(logits >= kth, logits, NEG_INF)


def sample_tokens(
    keys: jax.Array, logits: jax.Array, config: SamplingConfig, greedy: jax.Array | None = None
) -> jax.Array:
    """Chooses one token per row.

    Args:
      keys: [batch] PRNG keys, one per row (so a row's draw never depends on its neighbours).
      logits: [batch, vocab] f32 next-token logits.
      config: temperature / top-p / top-k.
      greedy: optional bool [batch]; rows marked true take the argmax whatever `config` says.

    Returns:
      int32 [batch] token ids.
    """
    argmax = jnp.argmax(logits, axis=-1).astype(jnp.int32)
    if config.temperature == 0.0:
        return argmax
    scaled = logits.astype(jnp.float32) / config.temperature
    if config.top_k is not None:
        scaled = top_k_filter(scaled, config.top_k)
    scaled = top_p_filter(scaled, config.top_p)
    sampled = jax.vmap(jax.random.categorical)(keys, scaled).astype(jnp.int32)
    if greedy is None:
        return sampled
    return jnp.where(greedy, argmax, sampled)
