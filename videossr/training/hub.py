"""The run's outputs: the processor, the reward curve, the Hub model card (with the recipe summary and
VIUBench results) and the upload of the final checkpoint (``huggingface_hub`` is imported inside the
functions).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from videossr.evaluation.model_index import ModelIndexError, eval_results
from videossr.training.configs import GRPOScriptArguments
from videossr.training.models import TINY_PREFIX
from videossr.training.plots import plot_reward_curve, reward_history

# The package's name, so the log lines read as they did before the split.
logger = logging.getLogger("videossr.training")


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
        "(`recipes/grpo.py`, TRL with the `videossr.trl_video` video bridge: frames reach the model as "
        "videos at their real frame rate in generation and in every loss pass).",
        "",
        f"- **Base model:** `{base_model}`",
        f"- **Training data:** `{dataset or 'generated online from raw videos'}`",
    ]
    final = reward_history(log_history or []).get("reward")
    if final:
        lines.append(
            f"- **Mean reward:** {final[0][1]:.3f} at step {final[0][0]} -> "
            f"{final[-1][1]:.3f} at step {final[-1][0]}"
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
    root = Path(output_dir)
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if any(fnmatch(rel, pat) or fnmatch(rel.split("/")[0], pat) for pat in PUSH_IGNORE):
            continue
        files.append(rel)
    return files


# ---------------------------------------------------------------------------------------------- run outputs
#: The GRPOConfig settings that define a run, shown in the model card (not the whole argument dump).
SUMMARY_KEYS = (
    "learning_rate",
    "lr_scheduler_type",
    "warmup_steps",
    "num_train_epochs",
    "max_steps",
    "num_generations",
    "temperature",
    "beta",
    "loss_type",
    "scale_rewards",
    "epsilon",
    "max_completion_length",
    "bf16",
    "seed",
)


def recipe_summary(script_args: GRPOScriptArguments, training_args: Any, model_args: Any) -> dict[str, Any]:
    """The settings that define the run, for the model card's recipe section."""
    model = str(model_args.model_name_or_path)
    summary: dict[str, Any] = {"model_name_or_path": Path(model).name if model.startswith("/") else model}
    for key in SUMMARY_KEYS:
        value = getattr(training_args, key)
        # Enums (scheduler type...) as their plain values, so the card's YAML stays readable.
        summary[key] = getattr(value, "value", value)
    # The batch as the optimizer sees it, whatever the number of processes it was spread over: a run on 8 GPUs
    # and the same run on 1 with 8x the per-device batch get the same card.
    summary["global_batch_size"] = (
        training_args.per_device_train_batch_size
        * training_args.gradient_accumulation_steps
        * max(1, training_args.world_size)
    )
    summary["reward_funcs"] = list(script_args.reward_funcs)
    summary["video_mode"] = script_args.video_mode
    summary["video_max_pixels"] = script_args.video_max_pixels
    summary["shared_prefix"] = script_args.shared_prefix
    summary["dataset"] = script_args.dataset_name or f"online:{script_args.video_dir or 'samples'}"
    if script_args.curriculum:
        summary["curriculum"] = {
            "band": list(script_args.curriculum_band),
            "start": script_args.curriculum_start,
            "step": script_args.curriculum_step,
            "ema": script_args.curriculum_ema,
            "min_rows": script_args.curriculum_min_rows,
            "pass_threshold": script_args.curriculum_pass_threshold,
        }
    if model_args.use_peft:
        summary.update(lora_r=model_args.lora_r, lora_alpha=model_args.lora_alpha)
    return summary


def write_run_outputs(
    trainer: Any,
    processor: Any,
    script_args: GRPOScriptArguments,
    training_args: Any,
    model_args: Any,
    base_model: str,
) -> Path:
    """After ``trainer.save_model``, on the main process: save the processor, plot the reward curve, write
    the model card and, with ``push_to_hub``, upload the folder once. Returns the model card's path.

    ``base_model`` is the name the run was given (``tiny:qwen3_vl``, a Hub id), not the resolved folder.
    """
    out = Path(training_args.output_dir)
    processor.save_pretrained(out)
    history = trainer.state.log_history
    plot_path = Path(script_args.reward_plot) if script_args.reward_plot else out / "reward_curve.png"
    written = plot_reward_curve(history, plot_path, title=training_args.hub_model_id or out.name)
    if written:
        logger.info("reward curve: %s", written)
    card = write_model_card(
        out,
        base_model=base_model,
        dataset=script_args.dataset_name,
        recipe=recipe_summary(script_args, training_args, model_args),
        log_history=history,
        hub_model_id=training_args.hub_model_id,
    )
    if training_args.push_to_hub:
        push_checkpoint(
            out,
            training_args.hub_model_id,
            private=training_args.hub_private_repo,
            revision=training_args.hub_revision,
            token=training_args.hub_token,
        )
        logger.info("pushed to https://huggingface.co/%s", training_args.hub_model_id)
    return card
