# Copyright the videossr developers. Licensed under the Apache License, Version 2.0.
"""GRPO on VideoSSR data: the paper's training run, scaled from a CPU toy to many GPUs.

Usage::

    # one process (CPU toy: the offline tiny model, about a minute)
    python recipes/grpo.py --config recipes/tiny/grpo/config_cpu.yaml

    # the paper's run: Qwen3-VL-8B on VideoSSR-30K, 8 GPUs, DeepSpeed ZeRO-3
    accelerate launch --config_file recipes/accelerate_configs/zero3.yaml \\
        recipes/grpo.py --config recipes/Qwen3-VL-8B-Instruct/grpo/config_videossr.yaml

    # the sharded path on two CPU processes (FSDP2 over gloo; docs/sharding.md)
    accelerate launch --config_file recipes/accelerate_configs/fsdp_cpu.yaml \\
        recipes/grpo.py --config recipes/tiny/grpo/config_tiny_fsdp.yaml

The options are three dataclasses: ``GRPOScriptArguments`` (data, rewards, video; ``videossr.training``),
TRL's ``GRPOConfig`` (training) and ``ModelConfig`` (model, LoRA). Every YAML key can be overridden on the
command line (``--learning_rate 2e-6``). Data comes from a dataset built by ``videossr build`` (a local
folder or a Hub id: ``dataset_name`` + ``dataset_config``) or is generated online from a folder of videos
(``video_dir``, mixed by ``online_mix``). Rewards are chosen by name (``reward_funcs``, keys of
``videossr.rewards.REWARD_FUNCS``); each is logged as ``rewards/<name>/mean`` and returns ``None`` on rows of
other tasks, so the per-name means are per-task curves. The pieces live in ``videossr.training``; this
script only wires them together.

A run resumes by itself: when ``output_dir`` holds a complete ``checkpoint-N`` and ``resume_from_checkpoint``
is unset, training continues from the newest one (``--auto_resume false`` starts over instead).
"""

from __future__ import annotations

import logging
import os
import sys

from datasets import IterableDataset
from transformers import set_seed
from trl import GRPOConfig, ModelConfig, TrlParser, get_peft_config

from videossr.rewards import get_reward_funcs
from videossr.training import (
    GRPOScriptArguments,
    curriculum_hooks,
    load_model,
    load_processor,
    load_train_data,
    make_curriculum,
    resolve_model_path,
    viubench_callbacks,
    write_run_outputs,
)
from videossr.training.models import last_checkpoint
from videossr.trl_video import VideoGRPOTrainer

logger = logging.getLogger("videossr.recipes.grpo")


def main(
    script_args: GRPOScriptArguments, training_args: GRPOConfig, model_args: ModelConfig
) -> VideoGRPOTrainer:
    """Train, save, plot the reward curve, write the model card, and push when asked. Returns the trainer."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    if training_args.push_to_hub and not training_args.hub_model_id:
        raise ValueError("--push_to_hub needs --hub_model_id ORG/NAME")
    set_seed(training_args.seed)
    base_model = model_args.model_name_or_path
    model_args.model_name_or_path = resolve_model_path(base_model, script_args.tiny_model_dir)

    # Adaptive difficulty (`curriculum: true`): one controller shared by the stream, the rewards and
    # checkpoints.
    curriculum = make_curriculum(script_args, training_args)
    train_dataset, eval_dataset = load_train_data(script_args, training_args, curriculum=curriculum)
    if script_args.online and isinstance(train_dataset, IterableDataset) and training_args.shuffle_dataset:
        # The online stream is already in random order; TRL's buffered shuffle of an IterableDataset would
        # generate a whole buffer (1,000 questions, minutes of video decoding) before the first step.
        logger.info("online stream: turning off TRL's shuffle buffer (the stream is already random)")
        training_args.shuffle_dataset = False
    processor = load_processor(model_args, training_args)
    reward_funcs, curriculum_callbacks = curriculum_hooks(
        curriculum, get_reward_funcs(script_args.reward_funcs)
    )

    trainer = VideoGRPOTrainer(
        model=load_model(model_args, training_args),
        processing_class=processor,
        reward_funcs=reward_funcs,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        peft_config=get_peft_config(model_args),
        callbacks=viubench_callbacks(script_args, processor) + curriculum_callbacks,
        video_mode=script_args.video_mode,
        video_max_pixels=script_args.video_max_pixels,
        video_min_pixels=script_args.video_min_pixels,
        shared_prefix=script_args.shared_prefix,
        layout_invariant_sampling=script_args.layout_invariant_sampling,
    )
    result = trainer.train(resume_from_checkpoint=resume_point(script_args, training_args))
    trainer.log_metrics("train", result.metrics)
    trainer.save_metrics("train", result.metrics)
    trainer.save_state()
    # `_internal_call=True`: the final push (write_run_outputs) uploads the folder once, with our model card
    # (the Trainer's own final push would upload it with TRL's generic card first). Checkpoints saved during
    # training are still pushed by the Trainer itself (`hub_strategy`).
    trainer.save_model(training_args.output_dir, _internal_call=True)
    if trainer.accelerator.is_main_process:
        write_run_outputs(trainer, processor, script_args, training_args, model_args, base_model)
    trainer.accelerator.wait_for_everyone()
    return trainer


def resume_point(script_args: GRPOScriptArguments, training_args: GRPOConfig) -> str | None:
    """The checkpoint to resume from: the one asked for, else (``auto_resume``) the newest in output_dir."""
    if training_args.resume_from_checkpoint:
        return training_args.resume_from_checkpoint
    if not script_args.auto_resume:
        return None
    found = last_checkpoint(training_args.output_dir)
    if found is not None:
        logger.info(
            "resuming from %s (the newest checkpoint in output_dir; --auto_resume false to start over)", found
        )
    return found


def make_parser() -> TrlParser:
    return TrlParser((GRPOScriptArguments, GRPOConfig, ModelConfig))


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    script_args, training_args, model_args = make_parser().parse_args_and_config()
    main(script_args, training_args, model_args)
    sys.exit(0)
