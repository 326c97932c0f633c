"""Shared-prefix scoring for GRPO: each group's video prompt is encoded once, every reply attends to it.

In GRPO every prompt is sampled ``G`` times. The ``G`` sequences of a group share a prompt of thousands of
video tokens and differ only in a short reply, yet a plain forward encodes the prompt (vision tower included)
``G`` times. This module packs a micro-batch so that each *unique* prompt appears once:

``[p_0 .. p_{P-2}] [p_{P-1} c^1_0 .. c^1_{C-1}] [p_{P-1} c^2_0 .. c^2_{C-1}] ...``

* The prompt minus its last token is the shared prefix. Each reply block starts with a copy of the prompt's
  last token, so the hidden state that predicts a reply's first token is computed inside that reply's block
  (one position can carry only one next-token label).
* A block-diagonal 4-D mask lets the prefix attend causally to itself and each block attend to the prefix and,
  causally, to itself only; padding keys (after an EOS) are masked as in the unshared pass.
* Explicit M-RoPE position ids: the prefix keeps the positions the model's own ``get_rope_index`` gives the
  prompt (timestamps / absolute time ids included); every block restarts at the prompt's last position, then
  continues with ``max(prompt positions) + 1 + t``, which is what the unshared forward gives a reply.
* Pre-shifted labels (``shift_labels``) score each position's next reply token with TRL's fused LM head.

Every token therefore sees exactly the context and positions it has in the unshared forward, so log-probs and
gradients equal the unshared ones up to floating-point summation order
(``tests/training/test_shared_prefix.py``).

Why a block mask and not KV-cache reuse: the packed forward is one ordinary ``model(...)`` call, so gradient
checkpointing (which re-runs layers in the backward and would append to a cache twice), PEFT wrappers, DDP's
gradient hooks and the fused LM head all work unchanged. The cost is a dense ``(L, L)`` mask per unique
prompt, which needs an attention kernel that takes arbitrary masks (``sdpa`` or ``eager``; not
FlashAttention-2, where the trainer falls back to the unshared pass).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

SUPPORTED_ATTENTION = ("sdpa", "eager")
"""Attention implementations that accept the packed block mask."""


def _same(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is b:
        return True
    if a is None or b is None:
        return False
    return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b.to(a.device)))


def group_rows(
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    visuals: Sequence[Sequence[torch.Tensor | None]] | None = None,
) -> list[list[int]]:
    """Group the rows of a micro-batch that have the same prompt: same token ids and same visual tensors.

    Args:
        prompt_ids: ``(N, P)`` left-padded prompt ids.
        prompt_mask: ``(N, P)`` 1 on real prompt tokens.
        visuals: per-row visual tensors, one sequence per kind (e.g. ``[pixels_per_row, grid_per_row]``); two
            rows share a prompt only when every kind is equal (same object, or equal values).

    Returns:
        Lists of row indices, one per unique prompt, in order of first appearance.
    """
    # One copy to the host for the whole micro-batch, not one device sync per row.
    keys = [
        tuple(t for t, m in zip(ids, mask) if m)
        for ids, mask in zip(prompt_ids.tolist(), prompt_mask.tolist())
    ]
    return group_keys(keys, visuals)


def group_keys(
    keys: Sequence[tuple[int, ...]], visuals: Sequence[Sequence[torch.Tensor | None]] | None = None
) -> list[list[int]]:
    """Group rows by their prompt token ids (``keys``) and, among equal ids, by equal visual tensors.

    Returns lists of row indices, one per unique prompt, in order of first appearance.
    """
    visuals = visuals or []
    buckets: dict[tuple[int, ...], list[list[int]]] = {}
    order: list[list[int]] = []
    for row, key in enumerate(keys):
        for group in buckets.setdefault(key, []):
            first = group[0]
            if all(_same(kind[first], kind[row]) for kind in visuals):
                group.append(row)
                break
        else:
            group = [row]
            buckets[key].append(group)
            order.append(group)
    return order


@dataclass
class PackedBatch:
    """A micro-batch packed with one sequence per unique prompt.

    Attributes:
        input_ids: ``(U, L)`` packed ids, right-padded.
        attention_mask: ``(U, 1, L, L)`` block mask (bool: True = attend) for ``sdpa``; additive float
            for eager.
        position_ids: ``(3, U, L)`` M-RoPE position ids.
        shift_labels: ``(U, L)`` the next reply token each position predicts, ``-100`` elsewhere.
        gather_index: ``(N, C)`` flat index into ``U * L`` of the position scoring each row's completion
            token.
        groups: the row indices of each packed sequence.
        prompt_lengths: unpadded prompt length ``P`` of each group (for accounting).
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    shift_labels: torch.Tensor
    gather_index: torch.Tensor
    groups: list[list[int]]
    prompt_lengths: list[int]

    @property
    def num_tokens(self) -> int:
        """Real (non-padding) tokens of the packed forward."""
        return int(
            sum(
                self.prompt_lengths[u] - 1 + len(g) * (self.gather_index.size(1) + 1)
                for u, g in enumerate(self.groups)
            )
        )


RopeIndexFn = Callable[[torch.Tensor, int], torch.Tensor]
"""``fn(prompt_ids (1, P), group_index) -> (3, P)`` M-RoPE positions of one unpadded prompt."""


def pack_micro_batch(
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    completion_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    groups: list[list[int]],
    rope_index: RopeIndexFn,
    pad_token_id: int,
    mask_kind: str = "sdpa",
    mask_dtype: torch.dtype = torch.float32,
) -> PackedBatch:
    """Pack rows into one sequence per group (see the module docstring for the layout).

    Args:
        prompt_ids, prompt_mask: ``(N, P)`` left-padded prompts.
        completion_ids, completion_mask: ``(N, C)`` right-padded replies.
        groups: from :func:`group_rows`; every row must appear exactly once.
        rope_index: M-RoPE positions of a group's unpadded prompt.
        pad_token_id: id written in the padding of shorter packed sequences.
        mask_kind: ``"sdpa"`` (boolean mask) or ``"eager"`` (additive float mask of ``mask_dtype``).
    """
    device = prompt_ids.device
    n_rows, width = completion_ids.shape
    if sorted(r for g in groups for r in g) != list(range(n_rows)):
        raise ValueError("the groups must cover every row exactly once")
    block = width + 1
    seqs, positions, labels, segments, key_ok, lengths = [], [], [], [], [], []
    gather = torch.empty(n_rows, width, dtype=torch.long)
    for u, group in enumerate(groups):
        first = group[0]
        prompt = prompt_ids[first][prompt_mask[first].bool()]
        n_prompt = prompt.numel()
        pos = rope_index(prompt[None], u).to(device)  # (3, P)
        reply_start = int(pos.max()) + 1
        reply_pos = torch.arange(reply_start, reply_start + width, device=device).expand(3, -1)
        parts_ids = [prompt[:-1]]
        parts_pos = [pos[:, :-1]]
        parts_lab = [torch.full((n_prompt - 1,), -100, dtype=torch.long, device=device)]
        parts_seg = [torch.full((n_prompt - 1,), -1, dtype=torch.long, device=device)]
        parts_ok = [torch.ones(n_prompt - 1, dtype=torch.bool, device=device)]
        for i, row in enumerate(group):
            reply = completion_ids[row]
            valid = completion_mask[row].bool()
            parts_ids += [prompt[-1:], reply]
            parts_pos += [pos[:, -1:], reply_pos]
            # Position s+t predicts reply token t (s = this block's copy of the last prompt token).
            parts_lab += [reply.masked_fill(~valid, -100), torch.tensor([-100], device=device)]
            parts_seg.append(torch.full((block,), i, dtype=torch.long, device=device))
            parts_ok += [torch.ones(1, dtype=torch.bool, device=device), valid]
            start = (n_prompt - 1) + i * block
            gather[row] = start + torch.arange(width)
        seqs.append(torch.cat(parts_ids))
        positions.append(torch.cat(parts_pos, dim=1))
        labels.append(torch.cat(parts_lab))
        segments.append(torch.cat(parts_seg))
        key_ok.append(torch.cat(parts_ok))
        lengths.append(n_prompt)

    length = max(s.numel() for s in seqs)
    n_seq = len(groups)

    def padded(items: list[torch.Tensor], value: int, dtype: torch.dtype) -> torch.Tensor:
        out = torch.full((n_seq, length), value, dtype=dtype, device=device)
        for k, t in enumerate(items):
            out[k, : t.numel()] = t
        return out

    input_ids = padded(seqs, pad_token_id, prompt_ids.dtype)
    shift_labels = padded(labels, -100, torch.long)
    seg = padded(segments, -2, torch.long)
    ok = padded(key_ok, 0, torch.bool)
    position_ids = torch.zeros(3, n_seq, length, dtype=torch.long, device=device)
    for k, p in enumerate(positions):
        position_ids[:, k, : p.size(1)] = p

    mask = _block_mask(seg, ok, mask_kind, mask_dtype)
    row_group = torch.empty(n_rows, dtype=torch.long)
    for u, group in enumerate(groups):
        row_group[group] = u
    gather_index = (row_group[:, None] * length + gather).to(device)
    return PackedBatch(
        input_ids=input_ids,
        attention_mask=mask,
        position_ids=position_ids,
        shift_labels=shift_labels,
        gather_index=gather_index,
        groups=groups,
        prompt_lengths=lengths,
    )


def _block_mask(seg: torch.Tensor, ok: torch.Tensor, mask_kind: str, mask_dtype: torch.dtype) -> torch.Tensor:
    """The ``(U, 1, L, L)`` attention mask of packed sequences: causal, the shared prompt (segment -1)
    seen by every block, each reply block only by itself, no padding keys (``ok``) or padding rows
    (segment -2). ``"sdpa"``: booleans; ``"eager"``: additive floats of ``mask_dtype``."""
    length, device = seg.size(1), seg.device
    idx = torch.arange(length, device=device)
    causal = idx[None, :] <= idx[:, None]  # (q, k)
    same_block = (seg[:, None, :] == -1) | (seg[:, None, :] == seg[:, :, None])  # (U, q, k)
    allowed = causal[None] & same_block & ok[:, None, :] & (seg[:, :, None] != -2)
    # Every query sees at least itself, so padding queries never hit an all-masked softmax row (NaN).
    allowed |= torch.eye(length, dtype=torch.bool, device=device)[None]
    allowed = allowed[:, None]
    if mask_kind == "eager":
        mask = torch.zeros(allowed.shape, dtype=mask_dtype, device=device)
        mask.masked_fill_(~allowed, torch.finfo(mask_dtype).min)
        return mask
    if mask_kind == "sdpa":
        return allowed
    raise ValueError(f"no packed mask for attention {mask_kind!r}; expected one of {SUPPORTED_ATTENTION}")


def unpack(values: torch.Tensor, packed: PackedBatch) -> torch.Tensor:
    """``(U, L)`` per-position values of the packed forward as ``(N, C)`` per-row completion values."""
    return values.reshape(-1)[packed.gather_index]


def find_rope_index(model: torch.nn.Module) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """The ``get_rope_index`` method of a (possibly wrapped: DDP, PEFT) Qwen-VL model."""
    for module in model.modules():
        fn = getattr(module, "get_rope_index", None)
        if callable(fn):
            return fn
    raise ValueError(
        f"{type(model).__name__} has no get_rope_index: shared-prefix scoring needs a Qwen-VL model"
    )


def attention_implementation(model: torch.nn.Module) -> str | None:
    """The text model's attention implementation (``sdpa``, ``eager``, ``flash_attention_2``...)."""
    for module in model.modules():
        config = getattr(module, "config", None)
        if config is not None:
            text = config.get_text_config() if hasattr(config, "get_text_config") else config
            return getattr(text, "_attn_implementation", None) or getattr(
                config, "_attn_implementation", None
            )
    return None


__all__ = [
    "SUPPORTED_ATTENTION",
    "PackedBatch",
    "attention_implementation",
    "find_rope_index",
    "group_rows",
    "pack_micro_batch",
    "unpack",
]
