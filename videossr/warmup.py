"""A short supervised start for GRPO: teach a model the answer *format* through the same video path GRPO uses.

A randomly initialised model never writes a parseable answer, so every reward is 0, every group has zero
variance and GRPO cannot start. The learning bed (:mod:`videossr.learnbed`) therefore begins with a few
hundred supervised steps on replies that have the right shape but carry no information about the video:
by default each target is the task's own random guess (:meth:`videossr.tasks.base.Task.random_answer` with
the generator's prior), drawn afresh for every row and step, so the model learns to write ``3.5-4.5`` and
the rough spread of answers the generator makes, and nothing about where the perturbed frames are. Any gain
after the warm-up is then the reward's.

The inputs are built exactly as :class:`~videossr.trl_video.VideoGRPOTrainer` builds them
(:func:`~videossr.row_video.process_row_videos`: clips as videos at their real frame rate, the row's system
turn, the chat template's generation prompt), so the warm-up trains on the token layout GRPO will see.

Example::

    from videossr.warmup import supervised_warmup

    losses = supervised_warmup(model, processor, rows, steps=200, batch_size=8, learning_rate=2e-3)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import torch

from videossr.row_video import RowVideoInputs, _rows_video_kwargs, clip_to_array, process_row_videos
from videossr.tasks import task_for_subtype

logger = logging.getLogger(__name__)

#: ``random``: the task's random guess (format and prior, no video information); ``truth``: the answer.
Targets = Literal["random", "truth"]


def _target_text(row: dict[str, Any], targets: Targets, rng: np.random.Generator, task_cache: dict) -> str:
    if targets == "truth":
        return str(row["answer"])
    task = task_cache.get(row["subtype"])
    if task is None:
        task = task_cache[row["subtype"]] = task_for_subtype(row["subtype"])
    clips = row.get("videos") or []
    num_frames = len(clips[0]) if clips else 48
    # The generator's own distribution of answers (for grounding, not the benchmark's fixed guess).
    return task.prior_answer(rng, fps=float(row["fps"]), num_frames=num_frames, num_clips=len(clips))


def _batch_inputs(
    rows: Sequence[dict[str, Any]],
    encoded: Sequence[RowVideoInputs],
    picks: np.ndarray,
    targets: Targets,
    rng: np.random.Generator,
    task_cache: dict,
    tokenizer: Any,
    video_token: int | None,
    device: torch.device,
) -> dict[str, Any]:
    """One step's model inputs: the picked rows' prompts followed by their target replies (the loss on
    the reply tokens only), right-padded, with the rows' videos."""
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    seqs, labels = [], []
    for i in picks:
        reply = _target_text(rows[int(i)], targets, rng, task_cache)
        reply_ids = tokenizer(reply, add_special_tokens=False)["input_ids"] + [eos]
        prompt_ids = list(encoded[int(i)].prompt_ids)
        seqs.append(prompt_ids + reply_ids)
        labels.append([-100] * len(prompt_ids) + reply_ids)
    width = max(len(s) for s in seqs)
    # Right padding: positions (and M-RoPE ids) of the real tokens do not depend on the padding.
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    target = torch.full((len(seqs), width), -100, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for j, (s, lab) in enumerate(zip(seqs, labels)):
        ids[j, : len(s)] = torch.tensor(s)
        target[j, : len(lab)] = torch.tensor(lab)
        mask[j, : len(s)] = 1
    inputs: dict[str, Any] = {
        "input_ids": ids.to(device),
        "attention_mask": mask.to(device),
        "labels": target.to(device),
    }
    if video_token is not None:
        inputs["mm_token_type_ids"] = (ids == video_token).long().mul(2).to(device)
    inputs.update(_rows_video_kwargs([encoded[int(i)] for i in picks], device))
    return inputs


def supervised_warmup(
    model: torch.nn.Module,
    processor: Any,
    rows: Sequence[dict[str, Any]],
    *,
    steps: int,
    batch_size: int = 8,
    learning_rate: float = 2e-3,
    seed: int = 0,
    targets: Targets = "random",
    video_max_pixels: int | None = None,
    progress: bool = True,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train ``model`` in place with cross-entropy on reply tokens; returns the loss of every step.

    Args:
        model: a Qwen-VL model (``AutoModelForImageTextToText``), in float32 on the CPU or any device.
        processor: its processor (with a video processor).
        rows: dataset rows in the package's schema (``prompt``, ``videos``, ``fps``, ``answer``, ``task``).
        steps: optimizer steps (AdamW, constant learning rate).
        batch_size: rows per step, drawn at random (seeded) from ``rows``.
        learning_rate: AdamW learning rate.
        seed: seeds the row draws and the random targets.
        targets: ``"random"`` (default) trains on the task's random guesses, fresh for every draw: the
            format and the answers' prior, never the video's information. ``"truth"`` trains on the answers.
        video_max_pixels: per-frame pixel bound for the video processor, as in GRPO (``None``: the
            processor's own).
        progress: show a progress bar.
        on_step: called as ``on_step(step, loss)`` after every optimizer step (1-based), e.g. to score a
            dev set now and then (the model is in train mode; switch to eval and back inside).
    """
    if steps < 0 or batch_size < 1:
        raise ValueError(f"steps must be >= 0 and batch_size >= 1, got {steps} and {batch_size}")
    if not rows:
        raise ValueError("the warm-up needs at least one row")
    if targets not in ("random", "truth"):
        raise ValueError(f"targets must be 'random' or 'truth', got {targets!r}")
    tokenizer = processor.tokenizer
    video_token = getattr(model.config, "video_token_id", None)
    device = next(model.parameters()).device
    # Each row's prompt and pixels once: they do not change between steps (only the targets do).
    encoded: list[RowVideoInputs] = [
        process_row_videos(
            processor,
            row["prompt"],
            [clip_to_array(c) for c in row.get("videos") or []],
            float(row.get("fps") or 1.0),
            max_pixels=video_max_pixels,
        )
        for row in rows
    ]
    rng = np.random.default_rng([int(seed), 1_207])
    task_cache: dict[str, Any] = {}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=learning_rate)
    was_training = model.training
    model.train()
    losses: list[float] = []
    from tqdm.auto import tqdm

    bar = tqdm(range(steps), desc="warm-up", disable=not progress, leave=False)
    try:
        for _ in bar:
            picks = rng.integers(0, len(rows), size=batch_size)
            inputs = _batch_inputs(
                rows, encoded, picks, targets, rng, task_cache, tokenizer, video_token, device
            )
            loss = model(**inputs).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
            if on_step is not None:
                on_step(len(losses), losses[-1])
    finally:
        model.train(was_training)
    return losses
