"""Rollout sampling that does not depend on how the batch is laid out over processes.

``generate`` draws each token with ``torch.multinomial`` from the process's random stream, so the same
rollout gets different random numbers when the generation batch is split over 2 processes instead of 1, or
when the batch is padded differently. :class:`KeyedSampler` draws instead with the Gumbel-max trick,
``argmax(scores + G)``, where the Gumbel noise ``G`` of a token is a hash of (seed, training step, the
rollout's index in the global generation batch, the position in the reply, the vocabulary id). That is an
exact sample from the same distribution (after TRL's temperature / top-k / top-p / min-p), and a given
rollout gets the same noise whatever the number of processes, the padding, or a resume in between. It is
what makes a sharded run comparable step by step with a single-process one (docs/sharding.md); turn it on
with ``layout_invariant_sampling``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

# splitmix64 constants, as signed 64-bit integers (torch has no uint64 arithmetic).
_GOLDEN = 0x9E3779B97F4A7C15 - (1 << 64)
_MUL1 = 0xBF58476D1CE4E5B9 - (1 << 64)
_MUL2 = 0x94D049BB133111EB - (1 << 64)


def _shift_right(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical right shift of int64 values (``>>`` is arithmetic on signed tensors)."""
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def mix64(x: torch.Tensor) -> torch.Tensor:
    """splitmix64's finaliser on int64 tensors (wrapping multiplication): a well-spread 64-bit hash."""
    x = (x ^ _shift_right(x, 30)) * _MUL1
    x = (x ^ _shift_right(x, 27)) * _MUL2
    return x ^ _shift_right(x, 31)


def combine(keys: torch.Tensor, *values: int | torch.Tensor) -> torch.Tensor:
    """Fold further integers into int64 keys (order matters)."""
    out = keys
    for value in values:
        out = mix64(out * _GOLDEN + value)
    return out


def keyed_gumbel(keys: torch.Tensor, vocab: int) -> torch.Tensor:
    """Standard Gumbel noise of shape ``(len(keys), vocab)``, a pure function of each key and column."""
    columns = torch.arange(vocab, dtype=torch.int64, device=keys.device)
    bits = mix64(mix64(keys)[:, None] + columns * _GOLDEN)
    uniform = (_shift_right(bits, 11).double() + 0.5) * 2.0**-53  # in (0, 1), 53 random bits
    return -torch.log(-torch.log(uniform))


def sampling_warpers(generation_config: Any) -> list[Any]:
    """The warpers ``generate`` applies when sampling (temperature, top-k, top-p, min-p), in its order."""
    from transformers.generation.logits_process import (
        MinPLogitsWarper,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    c = generation_config
    warpers: list[Any] = []
    if c.temperature is not None and c.temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(c.temperature))
    if c.top_k is not None and c.top_k != 0:
        warpers.append(TopKLogitsWarper(top_k=c.top_k, min_tokens_to_keep=1))
    if c.top_p is not None and c.top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p=c.top_p, min_tokens_to_keep=1))
    if c.min_p is not None:
        warpers.append(MinPLogitsWarper(min_p=c.min_p, min_tokens_to_keep=1))
    return warpers


def _logits_processor_base() -> type:
    from transformers.generation.logits_process import LogitsProcessor

    return LogitsProcessor


class KeyedSampler(_logits_processor_base()):  # type: ignore[misc]
    """A logits processor that samples by keyed Gumbel-max and returns a one-hot score (0 on the choice).

    Run it last with greedy decoding: ``generate`` then takes exactly the token it chose. ``row_keys`` holds
    one int64 key per row of the batch (see :func:`rollout_keys`); ``prompt_width`` is the padded prompt
    length the batch starts from, so the n-th reply token gets position n whatever the padding.
    """

    def __init__(self, row_keys: torch.Tensor, prompt_width: int, warpers: Sequence[Any] = ()) -> None:
        self.row_keys = row_keys
        self.prompt_width = prompt_width
        self.warpers = list(warpers)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        for warper in self.warpers:
            scores = warper(input_ids, scores)
        position = input_ids.size(1) - self.prompt_width
        keys = combine(self.row_keys.to(scores.device), position)
        noisy = scores.double() + keyed_gumbel(keys, scores.size(-1))
        choice = noisy.argmax(dim=-1, keepdim=True)
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(1, choice, 0.0)


def rollout_keys(seed: int, step: int, call: int, first_row: int, rows: int) -> torch.Tensor:
    """One key per rollout: the run's seed, the optimizer step, the generation call within that step, and the
    rollout's index in the global generation batch (``first_row`` is this process's first one)."""
    base = combine(torch.tensor([seed], dtype=torch.int64), step, call)
    index = torch.arange(first_row, first_row + rows, dtype=torch.int64)
    return combine(base.expand(rows), index)


def greedy_copy(generation_config: Any) -> Any:
    """A copy of ``generation_config`` that decodes greedily (the keyed sampler has already chosen)."""
    import copy

    config = copy.deepcopy(generation_config)
    config.do_sample = False
    config.temperature = None
    config.top_k = None
    config.top_p = None
    config.min_p = None
    return config


__all__ = ["KeyedSampler", "greedy_copy", "keyed_gumbel", "rollout_keys", "sampling_warpers"]
