"""The in-training VIUBench score: a deterministic subset of a held-out set, greedy replies of the policy
(prepared as ``videossr bench`` prepares them, through :mod:`videossr.vlm`) and the trainer callback that
logs the scores.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from transformers import TrainerCallback

from videossr import vlm
from videossr.metrics import aggregate, score
from videossr.tasks import task_for_subtype
from videossr.training.configs import GRPOScriptArguments


def viubench_subset(rows: Any, limit: int) -> list[dict[str, Any]]:
    """A deterministic subset of at most ``limit`` rows, spread evenly over the subtypes present."""
    by_subtype: dict[str, list[int]] = {}
    subtypes = rows["subtype"] if hasattr(rows, "column_names") else [r["subtype"] for r in rows]
    for index, subtype in enumerate(subtypes):
        by_subtype.setdefault(subtype, []).append(index)
    picked: list[int] = []
    depth = 0
    while len(picked) < limit and any(depth < len(v) for v in by_subtype.values()):
        for indices in by_subtype.values():
            if depth < len(indices) and len(picked) < limit:
                picked.append(indices[depth])
        depth += 1
    return [dict(rows[i]) for i in sorted(picked)]


def _load_rows(dataset: Any, config: str | None, split: str | None) -> Any:
    """Rows of a VIUBench folder / Hub id; without ``config``, every config (one per subtype) together."""
    if not isinstance(dataset, (str, os.PathLike)):
        return dataset
    from datasets import concatenate_datasets, get_dataset_config_names, load_dataset

    def pick(data):
        return data[split] if split and split in data else data[next(iter(data))]

    names = [config] if config else get_dataset_config_names(str(dataset))
    if not config and "default" in names:
        names = ["default"]
    parts = [pick(load_dataset(str(dataset), name)) for name in names]
    return parts[0] if len(parts) == 1 else concatenate_datasets(parts)


def answer_rows(
    model: Any,
    processor: Any,
    rows: Sequence[dict[str, Any]],
    max_new_tokens: int = 32,
    video_max_pixels: int | None = None,
    synced_gpus: bool = False,
    batch_size: int = 1,
) -> list[str]:
    """Greedy replies of ``model`` to ``rows`` (videos at their fps, no reasoning), one per row, in order.

    Inputs are prepared and decoded by :mod:`videossr.vlm`, as ``videossr bench`` does (``hf:`` backend).
    With ``batch_size > 1`` rows of the same clip layout (number of clips, frames per clip) are answered
    together, left padded: greedy decoding then gives the replies of one-at-a-time calls (tested), several
    times faster for small models whose cost is per call. Every call has the same number of rows except
    the last of each layout, so a sharded run (``synced_gpus``) must give every process the same rows count.
    """
    from videossr.row_video import clean_prompt, clip_to_array  # pulls in torch: imported when used

    prepared = []
    for row in rows:
        clips = [clip_to_array(c) for c in row["videos"]]
        prompt = clean_prompt(row["prompt"])
        text = processor.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        prepared.append((text, clips, float(row["fps"])))
    # Batch rows whose clips have the same layout (the video processor takes one size per call).
    layouts: dict[tuple, list[int]] = {}
    for index, (_, clips, _) in enumerate(prepared):
        layouts.setdefault(tuple(len(c) for c in clips), []).append(index)
    size = max(1, int(batch_size))
    replies: list[str | None] = [None] * len(prepared)
    tokenizer = getattr(processor, "tokenizer", processor)
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation continues every row at the same last position
    try:
        for indices in layouts.values():
            for k in range(0, len(indices), size):
                batch = indices[k : k + size]
                texts = [prepared[i][0] for i in batch]
                clips = [c for i in batch for c in prepared[i][1]]
                fps = [prepared[i][2] for i in batch for _ in prepared[i][1]]
                inputs = vlm.video_inputs(processor, texts, clips, fps, max_pixels=video_max_pixels)
                out = vlm.greedy_replies(model, processor, inputs, max_new_tokens, synced_gpus=synced_gpus)
                for i, reply in zip(batch, out):
                    replies[i] = reply
    finally:
        tokenizer.padding_side = side
    return [str(r) for r in replies]


def score_rows(
    model: Any, processor: Any, rows: Sequence[dict[str, Any]], **kwargs: Any
) -> list[tuple[str, float]]:
    """Greedy answers of ``model`` to ``rows``, scored with the VIUBench metric. Returns ``(subtype, score)``
    per row; ``kwargs`` are :func:`answer_rows`' (``max_new_tokens``, ``video_max_pixels``,
    ``synced_gpus``)."""
    replies = answer_rows(model, processor, rows, **kwargs)
    return [(row["subtype"], float(score(row["task"], r, row["answer"]))) for row, r in zip(rows, replies)]


class VIUBenchCallback(TrainerCallback):
    """Scores a VIUBench subset (or any held-out set in the row schema) with the policy during training
    (greedy, videos at their fps).

    Logs ``viubench/overall`` and ``viubench/<subtype>`` (percentages, the benchmark metric) and
    ``viubench/reward`` (the mean smooth training reward of the same replies) into the trainer's log history
    every ``every_steps`` optimizer steps and at the end of training (and before the first step with
    ``at_start``). Writes the last result to ``<output_dir>/viubench.json``, which the model card shows, and
    appends every evaluation with its per-item scores to ``<output_dir>/heldout_history.jsonl`` (what the
    learning bed's report reads). In a distributed run every process scores a share of the items
    (generation is synchronised across processes, as sharded models need).

    Args:
        dataset: a VIUBench folder / Hub id (rows in the CONTRACT schema), or a loaded ``Dataset``.
        processor: the policy's processor.
        limit: number of items per evaluation (spread evenly over the subtypes).
        every_steps: evaluate every N steps (``None``: only at the end).
        config, split: dataset config and split to read.
        max_new_tokens: reply budget (answers are a few tokens).
        video_max_pixels: per-frame pixel bound for the video processor (the benchmark uses up to 512x512).
        at_start: also evaluate before the first step (step 0), the baseline a learning curve starts from.
        batch_size: rows answered per ``generate`` call (left padded; same replies as one at a time).
    """

    def __init__(
        self,
        dataset: Any,
        processor: Any,
        limit: int = 18,
        every_steps: int | None = None,
        config: str | None = None,
        split: str | None = "test",
        max_new_tokens: int = 32,
        video_max_pixels: int | None = None,
        at_start: bool = False,
        batch_size: int = 1,
    ) -> None:
        self.rows = viubench_subset(_load_rows(dataset, config, split), limit)
        self.processor = processor
        self.every_steps = every_steps
        self.max_new_tokens = max_new_tokens
        self.video_max_pixels = video_max_pixels
        self.at_start = at_start
        self.batch_size = batch_size
        self.last: dict[str, Any] | None = None
        #: Per item of the last evaluation, in ``self.rows`` order: ``(subtype, metric, smooth reward)``.
        self.last_items: list[tuple[str, float, float]] = []

    def evaluate(self, model: Any) -> dict[str, Any]:
        """Score the subset now; returns ``videossr.metrics.aggregate``'s result plus ``reward`` (the mean
        smooth reward of the same replies, in [0, 1])."""
        import torch.distributed as dist

        distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
        indices = list(range(len(self.rows)))[rank::world]
        share = [self.rows[i] for i in indices]
        # Every process must run the same number of generate calls when the model is sharded.
        per_rank = -(-len(self.rows) // world)
        padded = share + share[-1:] * (per_rank - len(share)) if share else self.rows[:1] * per_rank
        was_training = model.training
        model.eval()
        try:
            replies = answer_rows(
                model,
                self.processor,
                padded,
                self.max_new_tokens,
                self.video_max_pixels,
                distributed,
                # Sharded generation needs the same calls on every process: one at a time there.
                batch_size=1 if distributed else self.batch_size,
            )
        finally:
            model.train(was_training)
        scored = [
            (
                index,
                row["subtype"],
                float(score(row["task"], reply, row["answer"])),
                float(task_for_subtype(row["subtype"]).reward(reply, row["answer"])),
            )
            for index, row, reply in zip(indices, share, replies)
        ]
        if distributed:
            gathered: list[Any] = [None] * world
            dist.all_gather_object(gathered, scored)
            scored = [item for part in gathered for item in part]
        scored.sort(key=lambda item: item[0])
        self.last_items = [(subtype, metric, reward) for _, subtype, metric, reward in scored]
        per_subtype: dict[str, list[float]] = {}
        for subtype, value, _ in self.last_items:
            per_subtype.setdefault(subtype, []).append(value)
        self.last = aggregate(per_subtype)
        self.last["reward"] = float(np.mean([r for _, _, r in self.last_items])) if self.last_items else None
        return self.last

    def _log(self, args: Any, state: Any, model: Any) -> None:
        result = self.evaluate(model)
        entry = {
            "step": state.global_step,
            "viubench/overall": result["overall"],
            "viubench/reward": result["reward"],
        }
        entry.update({f"viubench/{k}": v for k, v in result["subtypes"].items()})
        state.log_history.append(entry)
        if state.is_world_process_zero:
            out = Path(args.output_dir)
            out.mkdir(parents=True, exist_ok=True)
            (out / "viubench.json").write_text(json.dumps(result, indent=2) + "\n")
            present = [v for v in result["subtypes"].values() if v is not None]
            record = {
                "step": state.global_step,
                # The plain mean of the subtypes scored (VIUBench's Overall needs all nine), in [0, 1].
                "score": float(np.mean(present)) / 100.0 if present else None,
                "reward": result["reward"],
                "item_scores": [metric for _, metric, _ in self.last_items],
                "item_rewards": [reward for _, _, reward in self.last_items],
            }
            with open(out / "heldout_history.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if self.at_start and model is not None and state.global_step == 0:
            history = Path(args.output_dir) / "heldout_history.jsonl"
            if state.is_world_process_zero and history.exists():
                history.unlink()  # a fresh run (not a resume) starts a fresh history
            self._log(args, state, model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self.every_steps and state.global_step % self.every_steps == 0 and model is not None:
            self._log(args, state, model)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if model is not None and not (self.every_steps and state.global_step % self.every_steps == 0):
            self._log(args, state, model)


def viubench_callbacks(script_args: GRPOScriptArguments, processor: Any) -> list[Any]:
    """``[VIUBenchCallback]`` when ``viubench_dataset`` is set (every ``viubench_steps``, and at the
    end), else ``[]``."""
    if not script_args.viubench_dataset:
        return []
    return [
        VIUBenchCallback(
            script_args.viubench_dataset,
            processor,
            limit=script_args.viubench_limit,
            every_steps=script_args.viubench_steps,
            config=script_args.viubench_config,
            split=script_args.viubench_split,
            video_max_pixels=script_args.viubench_max_pixels,
            max_new_tokens=script_args.viubench_max_new_tokens,
            at_start=script_args.viubench_at_start,
            batch_size=getattr(script_args, "viubench_batch_size", 1),
        )
    ]
