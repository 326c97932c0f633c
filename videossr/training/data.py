"""The recipe's training rows: a built dataset (optionally subsampled or with a control arm's videos), or
rows generated online from videos, and the adaptive-difficulty controller that steers the online stream.

``datasets`` is imported inside the functions (it is heavy).
"""

from __future__ import annotations

from typing import Any

from videossr.curriculum import CurriculumCallback, DifficultyController, wrap_reward_funcs
from videossr.data.plan import parse_mix
from videossr.data.streaming import stream_dataset
from videossr.tasks import task_name_of_subtype
from videossr.training.configs import GRPOScriptArguments
from videossr.training.control import passes_needed, uninformative_videos


def load_train_data(
    script_args: GRPOScriptArguments, training_args: Any, curriculum: Any = None
) -> tuple[Any, Any]:
    """The ``(train, eval)`` datasets the options describe; ``eval`` is ``None`` unless ``eval_strategy`` is
    set.

    ``max_train_samples`` draws its rows at random (seeded by ``training_args.seed``): the ``default`` config
    of VideoSSR-30K stores the tasks one after another, so its first N rows would be one task only.
    """
    if script_args.online:
        return online_rows(script_args, training_args.seed, curriculum=curriculum), None
    from datasets import load_dataset

    data = load_dataset(
        script_args.dataset_name, script_args.dataset_config, streaming=script_args.dataset_streaming
    )
    train = _split(data, script_args.dataset_train_split, script_args.dataset_name)
    n = script_args.max_train_samples
    if n is not None:
        train = train.shuffle(seed=training_args.seed)
        train = train.take(n) if script_args.dataset_streaming else train.select(range(min(n, len(train))))
    if script_args.video_control:
        # A fresh pairing of clips and answers in every pass the run makes (videossr.training.control).
        prompts_per_step = (
            training_args.per_device_train_batch_size
            * training_args.gradient_accumulation_steps
            * max(1, training_args.world_size)
            / max(1, training_args.num_generations)
        )
        passes = passes_needed(
            len(train), training_args.max_steps, prompts_per_step, training_args.num_train_epochs
        )
        train = uninformative_videos(train, script_args.video_control, seed=training_args.seed, passes=passes)
    evaluating = training_args.eval_strategy != "no"
    test = _split(data, script_args.dataset_test_split, script_args.dataset_name) if evaluating else None
    return train, test


def _split(data: Any, split: str, name: str) -> Any:
    if split not in data:
        raise ValueError(f"dataset {name!r} has no split {split!r} (it has {sorted(data)})")
    return data[split]


def online_rows(script_args: GRPOScriptArguments, seed: int = 0, curriculum: Any = None) -> Any:
    """Rows generated from ``video_dir`` by ``videossr.data.streaming`` (the dataset row schema).

    ``online_streaming`` keeps the stream lazy (an ``IterableDataset``, generated while training; needs
    ``max_steps``); otherwise ``max_train_samples`` (or ``online_samples``) rows are generated up front.
    """
    from datasets import Dataset

    num_samples = script_args.max_train_samples or script_args.online_samples
    videos = "default" if script_args.video_dir in (None, "", "samples") else script_args.video_dir
    stream = stream_dataset(
        videos,
        mix=script_args.online_mix,
        seed=seed,
        num_samples=None if script_args.online_streaming else num_samples,
        max_pixels=script_args.max_pixels,
        curriculum=curriculum,
        keep_clips=script_args.online_keep_clips,
        skip_questions=_question_rows(script_args.online_skip_questions),
    )
    if script_args.online_streaming:
        return stream
    return Dataset.from_list(list(stream), features=stream.features)


def _question_rows(dataset: str | None) -> list[dict[str, Any]] | None:
    """The ``source`` and ``params`` of every row of every split of ``dataset`` (``None`` for none)."""
    if not dataset:
        return None
    from datasets import load_dataset

    splits = load_dataset(str(dataset))
    return [row for split in splits.values() for row in split.select_columns(["source", "params"])]


def make_curriculum(script_args: GRPOScriptArguments, training_args: Any) -> Any:
    """The run's :class:`~videossr.curriculum.DifficultyController` (``None`` unless ``curriculum``):
    one level per task of the online mix, shared by the stream, the reward wrappers and the checkpoint
    callback."""
    if not script_args.curriculum:
        return None
    tasks = list(dict.fromkeys(task_name_of_subtype(s) for s in parse_mix(script_args.online_mix)))
    return DifficultyController(
        tasks=tasks,
        band=tuple(script_args.curriculum_band),
        start=script_args.curriculum_start,
        step=script_args.curriculum_step,
        ema=script_args.curriculum_ema,
        min_rows=script_args.curriculum_min_rows,
        pass_threshold=script_args.curriculum_pass_threshold,
        num_generations=training_args.num_generations,
    )


def curriculum_hooks(controller: Any, reward_funcs: list[Any]) -> tuple[list[Any], list[Any]]:
    """``(reward functions, callbacks)`` for the trainer: the rewards wrapped to report to ``controller``,
    and the callback that saves and restores it with checkpoints. Unchanged, and no callback, without one."""
    if controller is None:
        return list(reward_funcs), []
    return wrap_reward_funcs(reward_funcs, controller), [CurriculumCallback(controller)]
