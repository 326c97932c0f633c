# Copyright the videossr developers. Licensed under the Apache License, Version 2.0.
"""GRPO on VideoSSR data: the paper's training run, scaled from a CPU toy to many GPUs.

Usage::

    # one process (CPU toy: the offline tiny model, about a minute)
    python recipes/grpo.py --config recipes/tiny/grpo/config_cpu.yaml

    # the paper's run: Qwen3-VL-8B on VideoSSR-30K, 8 GPUs, DeepSpeed ZeRO-3
    accelerate launch --config_file recipes/accelerate_configs/zero3.yaml \\
        recipes/grpo.py --config recipes/Qwen3-VL-8B-Instruct/grpo/config_videossr.yaml

Every option of the YAML can be overridden on the command line (``--learning_rate 2e-6``). Data comes from a
dataset built by ``hub/`` (a local folder or a Hub id, ``dataset_name`` + ``dataset_config``) or is generated
online from a folder of videos (``video_dir``). Rewards are chosen by name (``reward_funcs``, keys of
``videossr.rewards.REWARD_FUNCS``); each is logged as ``rewards/<name>/mean`` and returns ``None`` on rows of
other tasks, so the per-name means are per-task curves.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger("videossr.recipes.grpo")


@dataclass
class ScriptArguments:
    """Data, rewards and video options of the recipe (model options: ``ModelConfig``; training: ``GRPOConfig``)."""

    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "Dataset folder built by `hub/` or a Hub dataset id. Unset: generate online from `video_dir`."
        },
    )
    dataset_config: str | None = field(
        default=None, metadata={"help": "Dataset config name, e.g. `default`."}
    )
    dataset_train_split: str = field(default="train", metadata={"help": "Split to train on."})
    dataset_test_split: str | None = field(default=None, metadata={"help": "Optional evaluation split."})
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Keep only the first N training rows."}
    )
    video_dir: str | None = field(
        default=None,
        metadata={
            "help": "Folder of videos for online generation; `samples` = videos shipped by installed packages."
        },
    )
    online_mix: list[str] | None = field(
        default=None,
        metadata={
            "help": "Online task mix as `subtype:weight` items (weight 1 when omitted); default: the VideoSSR-30K mix."
        },
    )
    online_samples: int = field(default=512, metadata={"help": "Rows to generate online."})
    online_streaming: bool = field(
        default=False, metadata={"help": "Generate rows while training (IterableDataset; needs max_steps)."}
    )
    max_pixels: int = field(default=256 * 256, metadata={"help": "Largest frame area for online generation."})
    reward_funcs: list[str] = field(
        default_factory=lambda: ["grounding", "counting", "jigsaw"],
        metadata={
            "help": "Reward names from videossr.rewards.REWARD_FUNCS (e.g. grounding_strict01, format)."
        },
    )
    video_mode: str = field(
        default="video",
        metadata={
            "help": "`video`: clips as videos at their fps (Qwen-VL); `images`: frames as images.",
            "choices": ["video", "images"],
        },
    )
    video_max_pixels: int | None = field(
        default=None,
        metadata={
            "help": "Per-frame pixel budget given to the video processor (256*256 for the paper). None: processor's."
        },
    )
    video_min_pixels: int | None = field(
        default=None, metadata={"help": "Per-frame lower bound for the video processor."}
    )
    shared_prefix: bool = field(
        default=True,
        metadata={"help": "Encode each group's prompt once per micro-batch in every pass (exact; docs/shared_prefix.md)."},
    )
    tiny_model_dir: str | None = field(
        default=None,
        metadata={"help": "Where `model_name_or_path: tiny:<arch>` builds the offline tiny model."},
    )
    reward_plot: str | None = field(
        default=None,
        metadata={"help": "Where to write the reward-curve PNG; default `<output_dir>/reward_curve.png`."},
    )
    viubench_dataset: str | None = field(
        default=None,
        metadata={
            "help": "VIUBench folder/Hub id to score during training (a subset is scored with the policy)."
        },
    )
    viubench_limit: int = field(
        default=18, metadata={"help": "VIUBench items scored at each evaluation (subset)."}
    )
    viubench_steps: int | None = field(
        default=None, metadata={"help": "Score the VIUBench subset every N steps (always once at the end)."}
    )
    viubench_config: str | None = field(default=None, metadata={"help": "Config of the VIUBench dataset."})
    viubench_split: str | None = field(default="test", metadata={"help": "Split of the VIUBench dataset."})
    viubench_max_pixels: int | None = field(
        default=None, metadata={"help": "Per-frame pixel bound when scoring VIUBench (512*512 in the paper)."}
    )


def load_train_data(script_args: ScriptArguments, seed: int = 0):
    """The training (and optional evaluation) dataset the options describe."""
    from datasets import load_dataset

    if script_args.dataset_name and script_args.dataset_name.lower() not in ("none", "null"):
        data = load_dataset(script_args.dataset_name, script_args.dataset_config)
        train = data[script_args.dataset_train_split]
        test = data[script_args.dataset_test_split] if script_args.dataset_test_split else None
        if script_args.max_train_samples is not None:
            train = train.select(range(min(script_args.max_train_samples, len(train))))
        return train, test
    train = online_rows(script_args, seed)
    return train, None


def mix_from_items(items: list[str] | None) -> dict[str, float] | None:
    """``["jigsaw_easy:2", "counting_hard"]`` -> ``{"jigsaw_easy": 2.0, "counting_hard": 1.0}`` (YAML-friendly
    form of the ``--mix`` option of ``videossr build``); ``None`` keeps the VideoSSR-30K mix."""
    if not items:
        return None
    mix: dict[str, float] = {}
    for item in items:
        name, _, weight = str(item).partition(":")
        try:
            mix[name.strip()] = float(weight) if weight.strip() else 1.0
        except ValueError as err:
            raise ValueError(f"online_mix item {item!r} must look like subtype:weight") from err
    return mix


def online_rows(script_args: ScriptArguments, seed: int = 0):
    """Rows generated from ``video_dir`` by ``videossr.data.streaming`` (the dataset row schema).

    ``online_streaming`` keeps the stream lazy (an ``IterableDataset``, generated while training; needs
    ``max_steps``); otherwise ``online_samples`` rows are generated up front.
    """
    from datasets import Dataset

    from videossr.data.streaming import stream_dataset

    num_samples = script_args.max_train_samples or script_args.online_samples
    videos = "default" if script_args.video_dir in (None, "", "samples") else script_args.video_dir
    stream = stream_dataset(
        videos,
        mix=mix_from_items(script_args.online_mix),
        seed=seed,
        num_samples=None if script_args.online_streaming else num_samples,
        max_pixels=script_args.max_pixels,
    )
    if script_args.online_streaming:
        return stream
    return Dataset.from_list(list(stream), features=stream.features)


def load_model(model_args: Any, training_args: Any):
    """The policy, loaded with the ModelConfig options (dtype, attention kernel, quantisation for LoRA)."""
    import torch
    from transformers import AutoModelForImageTextToText
    from trl import get_quantization_config

    dtype = model_args.dtype
    if dtype not in (None, "auto"):
        dtype = getattr(torch, dtype)
    quantization = get_quantization_config(model_args)
    kwargs: dict[str, Any] = {
        "revision": model_args.model_revision,
        "trust_remote_code": _trust_remote_code(model_args, training_args),
        "attn_implementation": model_args.attn_implementation,
        "dtype": dtype,
    }
    if quantization is not None:
        # k-bit weights must sit on this process's GPU from the start (they cannot be moved later).
        from accelerate import PartialState

        kwargs.update(quantization_config=quantization, device_map={"": PartialState().local_process_index})
    return AutoModelForImageTextToText.from_pretrained(model_args.model_name_or_path, **kwargs)


def _trust_remote_code(model_args: Any, training_args: Any) -> bool:
    # TRL 1.16 keeps the flag on GRPOConfig; older ModelConfig versions had it too.
    return bool(
        getattr(training_args, "trust_remote_code", False) or getattr(model_args, "trust_remote_code", False)
    )


def build_callbacks(script_args: ScriptArguments, processor: Any, training_args: Any) -> list[Any]:
    """The VIUBench-subset callback when ``viubench_dataset`` is set (every ``viubench_steps``, and at the end)."""
    callbacks = []
    if script_args.viubench_dataset:
        from videossr.training import VIUBenchCallback

        callbacks.append(
            VIUBenchCallback(
                script_args.viubench_dataset,
                processor,
                limit=script_args.viubench_limit,
                every_steps=script_args.viubench_steps,
                config=script_args.viubench_config,
                split=script_args.viubench_split,
                video_max_pixels=script_args.viubench_max_pixels,
            )
        )
    return callbacks


def main(script_args: ScriptArguments, training_args: Any, model_args: Any) -> Any:
    """Train, save, plot the reward curve, write the model card, and push when asked. Returns the trainer."""
    from datasets import IterableDataset
    from transformers import AutoProcessor, set_seed
    from trl import get_peft_config

    from videossr.rewards import get_reward_funcs
    from videossr.training import plot_reward_curve, push_checkpoint, resolve_model_path, write_model_card
    from videossr.trl_video import VideoGRPOTrainer

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    set_seed(training_args.seed)
    base_model = model_args.model_name_or_path
    model_args.model_name_or_path = resolve_model_path(base_model, script_args.tiny_model_dir)

    reward_funcs = get_reward_funcs(script_args.reward_funcs)
    train_dataset, eval_dataset = load_train_data(script_args, seed=training_args.seed)
    if isinstance(train_dataset, IterableDataset) and training_args.shuffle_dataset:
        # The stream is already in random order; TRL's buffered shuffle of an IterableDataset would generate
        # a whole buffer (1,000 questions, minutes of video decoding) before the first step.
        logger.info("online stream: turning off TRL's shuffle buffer (the stream is already random)")
        training_args.shuffle_dataset = False
    processor = AutoProcessor.from_pretrained(
        model_args.model_name_or_path,
        revision=model_args.model_revision,
        trust_remote_code=_trust_remote_code(model_args, training_args),
    )
    # Left padding: generation appends to the right end of every prompt.
    processor.tokenizer.padding_side = "left"
    model = load_model(model_args, training_args)

    trainer = VideoGRPOTrainer(
        model=model,
        processing_class=processor,
        reward_funcs=reward_funcs,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        peft_config=get_peft_config(model_args),
        callbacks=build_callbacks(script_args, processor, training_args),
        video_mode=script_args.video_mode,
        video_max_pixels=script_args.video_max_pixels,
        video_min_pixels=script_args.video_min_pixels,
        shared_prefix=script_args.shared_prefix,
    )
    checkpoint = training_args.resume_from_checkpoint
    result = trainer.train(resume_from_checkpoint=checkpoint)
    trainer.log_metrics("train", result.metrics)
    trainer.save_metrics("train", result.metrics)
    trainer.save_state()
    # `_internal_call=True`: the final push below uploads the folder once, with our model card (the Trainer's
    # own final push would upload it with TRL's generic card first). Checkpoints saved during training are
    # still pushed by the Trainer itself (`hub_strategy`).
    trainer.save_model(training_args.output_dir, _internal_call=True)
    if trainer.accelerator.is_main_process:
        processor.save_pretrained(training_args.output_dir)
        history = trainer.state.log_history
        plot_path = (
            Path(script_args.reward_plot)
            if script_args.reward_plot
            else Path(training_args.output_dir) / "reward_curve.png"
        )
        written = plot_reward_curve(
            history, plot_path, title=training_args.hub_model_id or Path(training_args.output_dir).name
        )
        if written:
            logger.info("reward curve: %s", written)
        write_model_card(
            training_args.output_dir,
            base_model=base_model,
            dataset=script_args.dataset_name,
            recipe=_recipe_summary(script_args, training_args, model_args),
            log_history=history,
            hub_model_id=training_args.hub_model_id,
        )
        if training_args.push_to_hub:
            if not training_args.hub_model_id:
                raise ValueError("--push_to_hub needs --hub_model_id ORG/NAME")
            push_checkpoint(
                training_args.output_dir,
                training_args.hub_model_id,
                private=training_args.hub_private_repo,
                revision=training_args.hub_revision if hasattr(training_args, "hub_revision") else None,
                token=training_args.hub_token,
            )
            logger.info("pushed to https://huggingface.co/%s", training_args.hub_model_id)
    trainer.accelerator.wait_for_everyone()
    return trainer


def _recipe_summary(script_args: ScriptArguments, training_args: Any, model_args: Any) -> dict[str, Any]:
    """The settings that define the run, for the model card (not the whole argument dump)."""
    keys = [
        "learning_rate",
        "lr_scheduler_type",
        "warmup_ratio",
        "num_train_epochs",
        "max_steps",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "num_generations",
        "temperature",
        "beta",
        "loss_type",
        "scale_rewards",
        "epsilon",
        "max_completion_length",
        "bf16",
        "seed",
    ]
    summary: dict[str, Any] = {
        "model_name_or_path": model_args.model_name_or_path
        if not str(model_args.model_name_or_path).startswith("/")
        else Path(model_args.model_name_or_path).name
    }
    for key in keys:
        if hasattr(training_args, key):
            value = getattr(training_args, key)
            # Enums (scheduler type...) as their plain values, so the card's YAML stays readable.
            summary[key] = getattr(value, "value", value)
    summary["world_size"] = training_args.world_size
    summary["reward_funcs"] = list(script_args.reward_funcs)
    summary["video_mode"] = script_args.video_mode
    summary["video_max_pixels"] = script_args.video_max_pixels
    summary["shared_prefix"] = script_args.shared_prefix
    summary["dataset"] = script_args.dataset_name or f"online:{script_args.video_dir or 'samples'}"
    if model_args.use_peft:
        summary.update(lora_r=model_args.lora_r, lora_alpha=model_args.lora_alpha)
    return summary


def make_parser():
    from trl import GRPOConfig, ModelConfig, TrlParser

    return TrlParser((ScriptArguments, GRPOConfig, ModelConfig))


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = make_parser()
    script_args, training_args, model_args = parser.parse_args_and_config()
    main(script_args, training_args, model_args)
    sys.exit(0)
