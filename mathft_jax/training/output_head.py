"""The trainer's model function: logits on demand, or the final hidden states and the output head,
so losses read target-token log probs over sequence chunks and the verifier's two label logits
without ever building a `[batch, length, vocab]` f32 tensor (29 GB of temporaries for the
llama3_1b SSFT step at 64 x 1536 on v5e:2x2; see docs/tpu_plan.md).

    python -m pytest -q tests/training/test_output_head.py
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

from mathft_jax.training import losses

# (params, tokens, positions, segment_ids) -> hidden [batch, length, embed]
HiddenFn = Callable[[Any, jax.Array, jax.Array, jax.Array], jax.Array]


@dataclasses.dataclass(frozen=True)
class HeadModel:
    """A `LogitsFn` that also exposes `hidden` and `head`; `chunk` = positions per loss chunk."""

    hidden: HiddenFn
    head: Callable[[Any], jax.Array]  # params -> [embed, vocab] in the compute dtype
    softcap: float | None = None
    chunk: int = 256

    def __call__(self, params: Any, tokens: Any, positions: Any, segment_ids: Any) -> jax.Array:
        hidden = self.hidden(params, tokens, positions, segment_ids)
        return losses.logits_from_hidden(hidden, self.head(params), self.softcap)

    def token_log_probs(self, params: Any, group: dict[str, jax.Array]) -> jax.Array:
        hidden = self.hidden(params, *_inputs(group))
        return losses.chunked_token_log_probs(
            hidden, self.head(params), group["decoder_target_tokens"], self.softcap, self.chunk
        )

    def label_logits(
        self, params: Any, group: dict[str, jax.Array], label_ids: tuple[int, int]
    ) -> jax.Array:
        """f32 [batch, 2]: (correct, incorrect) logits where the first target token is predicted."""
        hidden = self.hidden(params, *_inputs(group))
        at = losses.label_position_hidden(hidden, group["decoder_loss_weights"])
        return losses.label_pair_logits(at, self.head(params), *label_ids, softcap=self.softcap)


def _inputs(group: dict[str, jax.Array]) -> tuple[jax.Array, jax.Array, jax.Array]:
    return (
        group["decoder_input_tokens"],
        group["decoder_positions"],
        group["decoder_segment_ids"],
    )


def decoder_model(cfg: Any, chunk: int = 256) -> HeadModel:
    """The project's `Decoder(cfg)` as a `HeadModel` (what the trainer and the planner use)."""
    from mathft_jax.models import transformer

    module = transformer.Decoder(cfg)

    def hidden(params: Any, tokens: Any, positions: Any, segment_ids: Any) -> jax.Array:
        return module.apply({"params": params}, tokens, positions, segment_ids, return_hidden=True)[
            0
        ]

    return HeadModel(
        hidden, lambda p: transformer.output_head(cfg, p), cfg.final_logit_softcap, chunk
    )
