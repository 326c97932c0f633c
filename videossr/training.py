"""Helpers of the GRPO recipe (``recipes/grpo.py``): data, model resolution, reward curves, model cards, Hub push.

They live in the library, not in the recipe script, so the demo, the tests and other scripts share them.
Heavy imports (torch, datasets, matplotlib, huggingface_hub) stay inside the functions.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TINY_PREFIX = "tiny:"


# ---------------------------------------------------------------------------------------------- models
def resolve_model_path(name_or_path: str, cache_dir: str | os.PathLike | None = None) -> str:
    """Turn ``"tiny:qwen3_vl"`` / ``"tiny:qwen2_5_vl"`` into a built tiny model folder; other names pass through.

    The tiny model is built once under ``cache_dir`` (default ``$VIDEOSSR_CACHE`` or ``~/.cache/videossr``)
    and reused.
    """
    if not name_or_path.startswith(TINY_PREFIX):
        return name_or_path
    from videossr.tiny import build_tiny_model

    arch = name_or_path[len(TINY_PREFIX) :] or "qwen3_vl"
    root = Path(cache_dir or os.environ.get("VIDEOSSR_CACHE") or Path.home() / ".cache" / "videossr")
    return str(build_tiny_model(root / f"tiny-{arch}", arch=arch))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- curves
def reward_history(log_history: Sequence[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """``{metric: [(step, value), ...]}`` for the reward metrics (``reward`` and ``rewards/<name>/mean``)."""
    curves: dict[str, list[tuple[int, float]]] = {}
    for entry in log_history:
        step = entry.get("step")
        if step is None:
            continue
        for key, value in entry.items():
            if key == "reward" or (key.startswith("rewards/") and key.endswith("/mean")):
                if isinstance(value, (int, float)) and not math.isnan(float(value)):
                    curves.setdefault(key, []).append((int(step), float(value)))
    return curves


def plot_reward_curve(
    log_history: Sequence[dict[str, Any]], path: str | os.PathLike, title: str = ""
) -> Path | None:
    """Write a PNG of the mean reward (and each reward function's mean) against the step.

    Returns the path, or ``None`` when the log has no reward yet.
    """
    curves = reward_history(log_history)
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=120)
    for key in sorted(curves, key=lambda k: (k != "reward", k)):
        steps, values = zip(*curves[key])
        label = "mean reward" if key == "reward" else key.removeprefix("rewards/").removesuffix("/mean")
        ax.plot(
            steps,
            values,
            marker="o" if len(steps) < 30 else None,
            lw=2 if key == "reward" else 1,
            label=label,
        )
    ax.set_xlabel("step")
    ax.set_ylabel("reward")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "GRPO reward")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------- model card
def write_model_card(
    output_dir: str | os.PathLike,
    base_model: str,
    dataset: str | None,
    recipe: dict[str, Any] | str | None = None,
    log_history: Sequence[dict[str, Any]] | None = None,
    viubench: dict[str, Any] | None = None,
    hub_model_id: str | None = None,
) -> Path:
    """Write ``README.md`` (a Hub model card) into ``output_dir``: base model, dataset, recipe, reward curve,
    and VIUBench results when given (or found as ``viubench.json`` in ``output_dir``).
    """
    from huggingface_hub import ModelCard, ModelCardData

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if viubench is None and (out / "viubench.json").is_file():
        viubench = json.loads((out / "viubench.json").read_text())
    curve = None
    if log_history:
        curve = plot_reward_curve(log_history, out / "reward_curve.png", title=hub_model_id or out.name)
    local_base = base_model.startswith(TINY_PREFIX) or Path(base_model).exists()
    data = ModelCardData(
        base_model=None if local_base else base_model,
        datasets=[dataset] if dataset and not Path(dataset).exists() else None,
        library_name="transformers",
        pipeline_tag="image-text-to-text",
        tags=["videossr", "grpo", "trl", "video", "reinforcement-learning"],
        license="apache-2.0",
    )
    if viubench:
        from videossr.evaluation.model_index import ModelIndexError, eval_results

        try:  # Hub-native results (model-index) beside the text table; an incomplete subset stays text only
            data.eval_results = eval_results(viubench)
            data.model_name = hub_model_id or out.name
        except ModelIndexError:
            pass
    lines = [
        f"# {hub_model_id or out.name}",
        "",
        f"Fine-tuned from `{base_model}` with GRPO on VideoSSR self-supervised video tasks "
        "(anomaly grounding, object counting, temporal jigsaw) using the `videossr` package "
        "(`recipes/grpo.py`, TRL with the `videossr.trl_video` video bridge: frames reach the model as videos "
        "at their real frame rate in generation and in every loss pass).",
        "",
        f"- **Base model:** `{base_model}`",
        f"- **Training data:** `{dataset or 'generated online from raw videos'}`",
    ]
    final = reward_history(log_history or []).get("reward")
    if final:
        lines.append(
            f"- **Mean reward:** {final[0][1]:.3f} at step {final[0][0]} -> {final[-1][1]:.3f} at step {final[-1][0]}"
        )
    if curve is not None:
        lines += ["", "## Reward curve", "", "![reward curve](reward_curve.png)"]
    if viubench:
        lines += ["", "## VIUBench", "", "| metric | score (%) |", "| --- | --- |"]
        lines += [f"| {k} | {v} |" for k, v in _flat_scores(viubench).items()]
        if viubench.get("counts"):
            lines += ["", f"Items scored per subtype: {viubench['counts']}."]
    if recipe:
        text = recipe if isinstance(recipe, str) else _yaml_dump(recipe)
        lines += ["", "## Recipe", "", "```yaml", text.rstrip(), "```"]
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "from transformers import AutoModelForImageTextToText, AutoProcessor",
        f'model = AutoModelForImageTextToText.from_pretrained("{hub_model_id or out}")',
        f'processor = AutoProcessor.from_pretrained("{hub_model_id or out}")',
        "```",
    ]
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n")
    path = out / "README.md"
    card.save(path)
    return path


def _flat_scores(result: dict[str, Any]) -> dict[str, Any]:
    """``videossr.metrics.aggregate`` output (or a flat dict) as ``{row label: score}`` in Table 1 order."""
    if "subtypes" not in result:
        return {k: v for k, v in result.items() if not isinstance(v, (dict, list))}
    flat: dict[str, Any] = dict(result.get("subtypes") or {})
    flat.update({f"{task} (mean)": v for task, v in (result.get("tasks") or {}).items() if v is not None})
    flat["Overall"] = result.get("overall")
    return flat


def _yaml_dump(obj: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(obj, sort_keys=False)


# ---------------------------------------------------------------------------------------------- VIUBench
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


def score_rows(
    model: Any,
    processor: Any,
    rows: Sequence[dict[str, Any]],
    max_new_tokens: int = 32,
    video_max_pixels: int | None = None,
    synced_gpus: bool = False,
) -> list[tuple[str, float]]:
    """Greedy answers of ``model`` to ``rows`` (videos at their fps, no reasoning), scored with the VIUBench
    metric. Returns ``(subtype, score)`` per row.

    Inputs are prepared and decoded by :mod:`videossr.vlm`, as ``videossr bench`` does (``hf:`` backend).
    """
    from videossr.metrics import score
    from videossr.trl_video import clean_prompt, clip_to_array
    from videossr.vlm import greedy_replies, video_inputs

    results = []
    for row in rows:
        clips = [clip_to_array(c) for c in row["videos"]]
        prompt = clean_prompt(row["prompt"])
        text = processor.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        inputs = video_inputs(
            processor, [text], clips, [float(row["fps"])] * len(clips), max_pixels=video_max_pixels
        )
        reply = greedy_replies(model, processor, inputs, max_new_tokens, synced_gpus=synced_gpus)[0]
        results.append((row["subtype"], float(score(row["task"], reply, row["answer"]))))
    return results


def _viubench_callback_base():
    from transformers import TrainerCallback

    return TrainerCallback


class VIUBenchCallback(_viubench_callback_base()):
    """Scores a VIUBench subset with the policy during training (greedy, videos at their fps).

    Logs ``viubench/overall`` and ``viubench/<subtype>`` (percentages) into the trainer's log history every
    ``every_steps`` optimizer steps and at the end of training, and writes the last result to
    ``<output_dir>/viubench.json``, which the model card shows. In a distributed run every process scores a
    share of the items (generation is synchronised across processes, as sharded models need).

    Args:
        dataset: a VIUBench folder / Hub id (rows in the CONTRACT schema), or a loaded ``Dataset``.
        processor: the policy's processor.
        limit: number of items per evaluation (spread evenly over the subtypes).
        every_steps: evaluate every N steps (``None``: only at the end).
        config, split: dataset config and split to read.
        max_new_tokens: reply budget (answers are a few tokens).
        video_max_pixels: per-frame pixel bound for the video processor (the benchmark uses up to 512x512).
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
    ) -> None:
        self.rows = viubench_subset(_load_rows(dataset, config, split), limit)
        self.processor = processor
        self.every_steps = every_steps
        self.max_new_tokens = max_new_tokens
        self.video_max_pixels = video_max_pixels
        self.last: dict[str, Any] | None = None

    def evaluate(self, model: Any) -> dict[str, Any]:
        """Score the subset now; returns ``videossr.metrics.aggregate``'s result."""
        import torch.distributed as dist

        from videossr.metrics import aggregate

        distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
        share = self.rows[rank::world]
        # Every process must run the same number of generate calls when the model is sharded.
        per_rank = -(-len(self.rows) // world)
        padded = share + share[-1:] * (per_rank - len(share)) if share else self.rows[:1] * per_rank
        was_training = model.training
        model.eval()
        try:
            scored = score_rows(
                model, self.processor, padded, self.max_new_tokens, self.video_max_pixels, distributed
            )
        finally:
            model.train(was_training)
        scored = scored[: len(share)]
        if distributed:
            gathered: list[Any] = [None] * world
            dist.all_gather_object(gathered, scored)
            scored = [item for part in gathered for item in part]
        per_subtype: dict[str, list[float]] = {}
        for subtype, value in scored:
            per_subtype.setdefault(subtype, []).append(value)
        self.last = aggregate(per_subtype)
        return self.last

    def _log(self, args: Any, state: Any, model: Any) -> None:
        result = self.evaluate(model)
        entry = {"step": state.global_step, "viubench/overall": result["overall"]}
        entry.update({f"viubench/{k}": v for k, v in result["subtypes"].items()})
        state.log_history.append(entry)
        if state.is_world_process_zero:
            out = Path(args.output_dir)
            out.mkdir(parents=True, exist_ok=True)
            (out / "viubench.json").write_text(json.dumps(result, indent=2) + "\n")

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self.every_steps and state.global_step % self.every_steps == 0 and model is not None:
            self._log(args, state, model)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if model is not None and not (self.every_steps and state.global_step % self.every_steps == 0):
            self._log(args, state, model)


# ---------------------------------------------------------------------------------------------- Hub
# Training state a model repo does not need (optimizer and RNG states are gigabytes at 8B).
PUSH_IGNORE = [
    "checkpoint-*",
    "*.pt",
    "*.pth",
    "optimizer*",
    "scheduler*",
    "rng_state*",
    "runs/*",
    "wandb/*",
]


def push_checkpoint(
    output_dir: str | os.PathLike,
    repo_id: str,
    *,
    private: bool | None = None,
    revision: str | None = None,
    commit_message: str = "VideoSSR GRPO checkpoint",
    token: str | None = None,
    api: Any = None,
) -> Any:
    """Create ``repo_id`` if needed and upload the final checkpoint folder (weights, processor, card, curve).

    ``api`` defaults to ``huggingface_hub.HfApi(token=token)``; tests pass a stand-in to check what would be
    uploaded without network.
    """
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    folder = Path(output_dir)
    if not ((folder / "config.json").is_file() or (folder / "adapter_config.json").is_file()):
        raise FileNotFoundError(
            f"{folder} holds no saved model or adapter (config.json / adapter_config.json)"
        )
    api.create_repo(repo_id=repo_id, repo_type="model", private=private, exist_ok=True)
    return api.upload_folder(
        repo_id=repo_id,
        repo_type="model",
        folder_path=str(folder),
        revision=revision,
        commit_message=commit_message,
        ignore_patterns=PUSH_IGNORE,
    )


def files_to_push(output_dir: str | os.PathLike) -> list[str]:
    """The files :func:`push_checkpoint` uploads (relative paths), applying its ignore patterns."""
    from fnmatch import fnmatch

    root = Path(output_dir)
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if any(fnmatch(rel, pat) or fnmatch(rel.split("/")[0], pat) for pat in PUSH_IGNORE):
            continue
        files.append(rel)
    return files


__all__ = [
    "VIUBenchCallback",
    "files_to_push",
    "plot_reward_curve",
    "push_checkpoint",
    "resolve_model_path",
    "reward_history",
    "score_rows",
    "viubench_subset",
    "write_model_card",
]
