# Copyright the videossr developers. Licensed under the Apache License, Version 2.0.
"""The learning bed: GRPO raises the test score only when the model sees the video (``make learn``).

Usage::

    python recipes/learn.py --config recipes/tiny/grpo/config_learn.yaml         # grounding: 3 seeds x 2 arms
    python recipes/learn.py --config recipes/tiny/grpo/config_learn_jigsaw.yaml    # the jigsaw bed
    python recipes/learn.py --config recipes/tiny/grpo/config_learn.yaml --seeds 0 --max_steps 40 \\
        --output_dir learn_quick                                                 # a quick look
    python recipes/learn.py --config recipes/tiny/grpo/config_learn_curriculum.yaml  # the curriculum bed

What it does (``videossr.learnbed`` has the details), per task under ``<output_dir>/<subtype>/``:

1. makes (or reads from the cache) the bed's synthetic videos, splits them by video into train / dev /
   test, and writes each split's rows as a dataset folder under ``data/``; scores the video-blind and pixel
   baselines on the test items (``baselines.json``: the best constant answer fitted on the training rows,
   the random guess, the heuristic solver);
2. per seed, builds the offline tiny Qwen3-VL and gives it the supervised format warm-up (random answers,
   no video information), saved under ``start/seed<k>``; both arms of a seed start from it;
3. per seed and arm, runs ``recipes/grpo.py``'s ``main`` (``VideoGRPOTrainer``, the package's rewards), the
   ``control`` arm with ``video_control: swap``, scoring the dev items every ``viubench_steps`` steps; then
   scores the start and the final model on the test items, and the swap test (``test_scores.json``); final
   models under ``<arm>/seed<k>`` (``save_pretrained``);
4. merges the task into ``<output_dir>/summary.json`` and draws ``<output_dir>/learning_curve.png``.

Runs go ``jobs`` at a time, each in its own process with ``torch_threads`` threads (on a small CPU the tiny
model is faster as two one-thread processes than as one two-thread process).

The curriculum bed (arms ``fixed-strict``, ``curriculum-strict``, ``fixed-smooth``, ``curriculum-smooth``;
``make learn-curriculum``) goes into ``<output_dir>/jigsaw_curriculum/`` and adds two steps before the GRPO
runs (``videossr.learnbed.levels``): jigsaw rows at every clip count from the training and dev videos
(``levels/``; the warm-up trains on the training ones), and each seed's start scored on the dev ones; from
those pass rates code picks the evaluation level and each seed's comfortable start (``levels.json``), and
only then are the bed's data (``data/``: dev and test items at the evaluation level) made. Every arm trains
on the online stream of the training videos through ``recipes/grpo.py``, the ``curriculum-*`` arms with
``curriculum: true``; the summary (``summary.json``, ``summary.md``) and the figure
(``curriculum_bed.png``) are ``videossr.learnbed.curriculum_report``'s.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from trl import GRPOConfig, ModelConfig, TrlParser

from videossr.learnbed import (
    BedData,
    bed_baselines,
    bed_videos,
    link_videos,
    load_split,
    markdown,
    plot_bed,
    prepare_data,
    score_model,
    summarize_task,
    write_summary,
)
from videossr.learnbed.curriculum_report import (
    CURRICULUM_ARMS,
    arm_settings,
    curriculum_markdown,
    plot_curriculum_bed,
    summarize_curriculum_bed,
    write_curriculum_summary,
)
from videossr.learnbed.levels import EVAL_CANDIDATES, choose_levels, level_pass_rates, prepare_level_data
from videossr.training import GRPOScriptArguments
from videossr.video import NUM_FRAMES

logger = logging.getLogger("videossr.recipes.learn")
#: Arms trained on the stored rows, and arms trained on rows generated while training.
STORED_ARMS = ("video", "control")
#: Not GRPO: cross-entropy on the right answers from the same start (the skyline GRPO can approach).
SUPERVISED_ARM = "supervised"
ONLINE_ARMS = ("online", "curriculum")
#: The curriculum bed's folder under output_dir (its arms: ``CURRICULUM_ARMS``).
CURRICULUM_BED = "jigsaw_curriculum"
HERE = Path(__file__).resolve().parent


@dataclass
class LearnBedArguments:
    """The bed's own options (the GRPO ones are ``GRPOConfig``'s and ``GRPOScriptArguments``')."""

    seeds: list[int] = field(
        default_factory=lambda: [0, 1, 2], metadata={"help": "Seeds (model, warm-up, GRPO)."}
    )
    arms: list[str] = field(
        default_factory=lambda: ["video", "control"],
        metadata={
            "help": "Arms to run: video, control (the stored training rows); online, curriculum (rows "
            "generated while training from the training videos, at the fixed difficulty or the "
            "controller's); or the curriculum bed's fixed-strict, curriculum-strict, fixed-smooth, "
            "curriculum-smooth (jigsaw at the evaluation level or the controller's, strict or smooth reward)."
        },
    )
    control: str = field(default="swap", metadata={"help": "The control arm's video_control: swap or blank."})
    bed_subtype: str = field(
        default="grounding_invert", metadata={"help": "The task subtype trained and scored."}
    )
    bed_videos: int = field(default=160, metadata={"help": "Synthetic videos made for the bed (all splits)."})
    video_seed: int = field(default=0, metadata={"help": "Seed of the videos and of the split."})
    test_videos: int = field(default=40, metadata={"help": "Videos in the test split (at least)."})
    dev_videos: int = field(default=16, metadata={"help": "Videos in the dev split (at least)."})
    train_per_video: int = field(default=6, metadata={"help": "Training rows per training video."})
    dev_per_video: int = field(default=4, metadata={"help": "Dev items per dev video."})
    test_per_video: int = field(default=6, metadata={"help": "Test items per test video."})
    test_batch_size: int = field(default=16, metadata={"help": "Items per generate call when scoring."})
    supervised_steps: int = field(
        default=800, metadata={"help": "The `supervised` arm's steps (cross-entropy on the right answers)."}
    )
    supervised_learning_rate: float = field(
        default=1e-3, metadata={"help": "The `supervised` arm's AdamW rate."}
    )
    supervised_eval_every: int = field(
        default=100, metadata={"help": "Dev scoring interval of `supervised`."}
    )
    bed_num_frames: int = field(default=48, metadata={"help": "Frames per clip."})
    bed_max_pixels: int = field(default=64 * 64, metadata={"help": "Largest decoded frame area."})
    tiny_hidden: int = field(default=64, metadata={"help": "Width of the tiny Qwen3-VL."})
    tiny_layers: int = field(default=4, metadata={"help": "Text layers of the tiny Qwen3-VL."})
    tiny_vision_depth: int = field(default=2, metadata={"help": "Vision-tower blocks of the tiny Qwen3-VL."})
    format_warmup_steps: int = field(
        default=200, metadata={"help": "Supervised format warm-up steps (0: none)."}
    )
    format_warmup_batch_size: int = field(default=8, metadata={"help": "Rows per warm-up step."})
    format_warmup_learning_rate: float = field(
        default=2e-3, metadata={"help": "Warm-up learning rate (AdamW)."}
    )
    format_warmup_targets: str = field(
        default="random",
        metadata={"help": "`random`: the task's random guesses (no video information); `truth`."},
    )
    level_clips: list[int] = field(
        default_factory=lambda: [2, 3, 4, 5, 6, 7, 8, 9],
        metadata={"help": "Curriculum bed: the clip counts of the warm-up rows and of the level search."},
    )
    level_train_per_video: int = field(
        default=2, metadata={"help": "Curriculum bed: warm-up rows per training video and clip count."}
    )
    level_dev_per_video: int = field(
        default=6, metadata={"help": "Curriculum bed: dev items per dev video and clip count (level search)."}
    )
    eval_pass_below: float = field(
        default=0.05,
        metadata={
            "help": "Curriculum bed: the evaluation level is the smallest clip count (3..9) where every "
            "seed's start passes fewer dev items than this."
        },
    )
    curriculum_figure: str | None = field(
        default=None,
        metadata={"help": "Curriculum bed: also write the figure here (e.g. docs/curriculum_bed.png)."},
    )
    jobs: int = field(default=2, metadata={"help": "Runs at the same time (one process each)."})
    torch_threads: int = field(default=1, metadata={"help": "torch threads per run process."})
    rerun: bool = field(
        default=False, metadata={"help": "Train again the runs that already wrote their test scores."}
    )
    prepare_only: bool = field(
        default=False, metadata={"help": "Only write the data and the baselines, then stop."}
    )
    summarize_only: bool = field(
        default=False,
        metadata={"help": "Only (re)write summary.json and the plot from the runs in output_dir."},
    )
    run: str | None = field(default=None, metadata={"help": "Internal: run one `<arm>:<seed>` and exit."})


def make_parser() -> TrlParser:
    return TrlParser((LearnBedArguments, GRPOScriptArguments, GRPOConfig, ModelConfig))


def warm_start(
    bed: LearnBedArguments, out: Path, seed: int, train_dir: Path, data: str | None = None
) -> Path:
    """The seed's starting model: the tiny Qwen3-VL after the format warm-up (built once, then reused).
    ``data`` names the rows in the settings it is reused by (default: the bed's subtype)."""
    folder = out / "start" / f"seed{seed}"
    marker = folder / "warmup.json"
    settings = {
        "seed": seed,
        "hidden": bed.tiny_hidden,
        "layers": bed.tiny_layers,
        **({"vision_depth": bed.tiny_vision_depth} if bed.tiny_vision_depth != 2 else {}),
        "steps": bed.format_warmup_steps,
        "batch_size": bed.format_warmup_batch_size,
        "learning_rate": bed.format_warmup_learning_rate,
        "targets": bed.format_warmup_targets,
        "data": data or bed.bed_subtype,
    }
    if marker.is_file() and json.loads(marker.read_text()).get("settings") == settings:
        return folder
    import torch
    from datasets import load_dataset
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from videossr.tiny import build_tiny_model
    from videossr.warmup import supervised_warmup

    base = build_tiny_model(
        out / "start" / f"tiny-seed{seed}",
        seed=seed,
        hidden=bed.tiny_hidden,
        layers=bed.tiny_layers,
        vision_depth=bed.tiny_vision_depth,
    )
    model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch.float32)
    processor = AutoProcessor.from_pretrained(base)
    rows = list(load_dataset(str(train_dir), split="train"))
    started = time.time()
    losses = supervised_warmup(
        model,
        processor,
        rows,
        steps=bed.format_warmup_steps,
        batch_size=bed.format_warmup_batch_size,
        learning_rate=bed.format_warmup_learning_rate,
        seed=seed,
        targets=bed.format_warmup_targets,  # type: ignore[arg-type]
    )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    marker.write_text(
        json.dumps(
            {
                "settings": settings,
                "seconds": round(time.time() - started, 1),
                "loss_first": losses[0] if losses else None,
                "loss_last": losses[-1] if losses else None,
            },
            indent=2,
        )
    )
    return folder


def run_one(bed: LearnBedArguments, script_args, training_args, model_args) -> None:
    """One arm of one seed, through ``recipes/grpo.py``'s ``main``; then the test scores of its start and
    final model (``test_scores.json``)."""
    import torch

    sys.path.insert(0, str(HERE))
    from grpo import main as grpo_main

    torch.set_num_threads(max(1, bed.torch_threads))
    arm, seed = bed.run.split(":")
    out = Path(training_args.output_dir)
    data = out / "data"
    if arm == "start" and is_curriculum_bed(bed):
        warm_start(bed, out, int(seed), out / "levels" / "train", data=_levels_data_name(bed))
        return
    if arm == "start":
        warm_start(bed, out, int(seed), data / "train")
        return
    if arm == "levels":
        score_levels(bed, out, int(seed))
        return
    if arm == SUPERVISED_ARM:
        run_supervised(bed, out, int(seed))
        return
    if arm in CURRICULUM_ARMS:
        # The curriculum bed: the online stream of the training videos, as a user turns it on. Fixed arms
        # make every question at the evaluation level; curriculum arms start at the seed's comfortable level
        # and let the package's controller move it (`curriculum: true`, the YAML's band and step).
        levels = json.loads((out / "levels.json").read_text())
        curriculum, reward = arm_settings(arm)
        start = levels["start"][str(seed)]
        script_args.dataset_name = "none"
        script_args.video_dir = str(data / "videos")
        script_args.online_streaming = True
        script_args.online_keep_clips = True
        script_args.max_pixels = bed.bed_max_pixels
        script_args.reward_funcs = [reward]
        script_args.curriculum = curriculum
        if curriculum:
            script_args.online_mix = f"{start['subtype']}=1"
            script_args.curriculum_start = float(start["level"])
        else:
            script_args.online_mix = f"{levels['eval_subtype']}=1"
    elif arm in STORED_ARMS:
        script_args.dataset_name = str(data / "train")
        script_args.video_control = None if arm == "video" else bed.control
    else:
        # The same training videos and subtype, generated while training (never a dev or test video).
        # `online` keeps the subtype's own difficulty, `curriculum` lets the controller move it.
        script_args.dataset_name = "none"
        script_args.video_dir = str(data / "videos")
        script_args.online_mix = f"{bed.bed_subtype}=1"
        script_args.online_streaming = True
        script_args.online_keep_clips = True
        script_args.max_pixels = bed.bed_max_pixels
        script_args.curriculum = arm == "curriculum"
    # The curve is the dev split's, every item; the test split is scored only below, at the start and end.
    script_args.viubench_dataset = str(data / "dev")
    script_args.viubench_split = "validation"
    script_args.viubench_limit = 1_000_000
    script_args.viubench_at_start = True
    script_args.viubench_batch_size = bed.test_batch_size
    start = out / "start" / f"seed{seed}"
    model_args.model_name_or_path = str(start)
    training_args.seed = int(seed)
    training_args.output_dir = str(out / arm / f"seed{seed}")
    trainer = grpo_main(script_args, training_args, model_args)
    score_test(bed, trainer.model, trainer.processing_class, start, out, Path(training_args.output_dir))


def run_supervised(bed: LearnBedArguments, out: Path, seed: int) -> None:
    """The skyline: the seed's start model trained with cross-entropy on the training rows' right answers
    (no GRPO), scored on the dev items every ``supervised_eval_every`` steps and on the test items at the
    end. If this does not transfer to the test videos, no GRPO arm will."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from videossr.learnbed import item_scores
    from videossr.learnbed.scoring import model_replies
    from videossr.warmup import supervised_warmup

    start = out / "start" / f"seed{seed}"
    run_dir = out / SUPERVISED_ARM / f"seed{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    model = AutoModelForImageTextToText.from_pretrained(start, dtype=torch.float32)
    processor = AutoProcessor.from_pretrained(start)
    train = list(load_split(out / "data", "train"))
    dev = list(load_split(out / "data", "dev"))
    history = run_dir / "heldout_history.jsonl"
    history.unlink(missing_ok=True)

    def score_dev(step: int, loss: float | None = None) -> None:
        if step % bed.supervised_eval_every and step != bed.supervised_steps and step != 0:
            return
        model.eval()
        replies = model_replies(model, processor, dev, max_new_tokens=12, batch_size=bed.test_batch_size)
        model.train()
        items = item_scores(dev, replies)
        record = {"step": step, "score": float(sum(items) / len(items)), "reward": None, "item_scores": items}
        with open(history, "a") as f:
            f.write(json.dumps(record) + "\n")
        logger.info("supervised seed %d step %d: dev %.3f (loss %s)", seed, step, record["score"], loss)

    score_dev(0)
    supervised_warmup(
        model,
        processor,
        train,
        steps=bed.supervised_steps,
        batch_size=bed.format_warmup_batch_size,
        learning_rate=bed.supervised_learning_rate,
        seed=seed,
        targets="truth",
        progress=False,
        on_step=score_dev,
    )
    model.save_pretrained(run_dir)
    processor.save_pretrained(run_dir)
    score_test(bed, model, processor, start, out, run_dir)


def is_curriculum_bed(bed: LearnBedArguments) -> bool:
    return any(arm in CURRICULUM_ARMS for arm in bed.arms)


def _levels_spec(bed: LearnBedArguments) -> dict:
    return {
        "clips": sorted(bed.level_clips),
        "train_per_video": bed.level_train_per_video,
        "dev_per_video": bed.level_dev_per_video,
        "videos": bed.bed_videos,
        "video_seed": bed.video_seed,
        "test_videos": bed.test_videos,
        "dev_videos": bed.dev_videos,
        "num_frames": bed.bed_num_frames,
        "max_pixels": bed.bed_max_pixels,
    }


def _levels_data_name(bed: LearnBedArguments) -> str:
    return f"jigsaw levels {sorted(bed.level_clips)} x {bed.level_train_per_video} per training video"


def prepare_levels(bed: LearnBedArguments, out: Path) -> dict:
    """The curriculum bed's rows at every clip count (``levels/{train,dev}``), written once per settings."""
    marker = out / "levels" / "spec.json"
    wanted = json.dumps(_levels_spec(bed), sort_keys=True)
    if marker.is_file() and marker.read_text() == wanted:
        return json.loads((out / "levels" / "split.json").read_text())
    logger.info("writing the level rows (clips %s) under %s", sorted(bed.level_clips), out / "levels")
    info = prepare_level_data(
        out / "levels",
        _bed_spec(bed, "jigsaw"),
        bed.level_clips,
        bed.level_train_per_video,
        bed.level_dev_per_video,
    )
    marker.write_text(wanted)
    return info


def score_levels(bed: LearnBedArguments, out: Path, seed: int) -> dict:
    """Seed ``seed``'s start model on the level dev items: the exact-order pass rate per clip count
    (``start/seed<k>/level_scores.json``; kept while its start and the level rows are unchanged)."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    start = out / "start" / f"seed{seed}"
    path = start / "level_scores.json"
    inputs = {
        "warmup": json.loads((start / "warmup.json").read_text())["settings"],
        "levels": _levels_spec(bed),
    }
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("inputs") == inputs:
            return saved
    rows = list(load_split(out / "levels", "dev"))
    model = AutoModelForImageTextToText.from_pretrained(start, dtype=torch.float32).eval()
    processor = AutoProcessor.from_pretrained(start)
    started = time.time()
    scores = level_pass_rates(model, processor, rows, batch_size=bed.test_batch_size, max_new_tokens=12)
    result = {
        "inputs": inputs,
        "scores": {str(n): s for n, s in scores.items()},
        "seconds": round(time.time() - started, 1),
    }
    path.write_text(json.dumps(result, indent=2) + "\n")
    for n, s in scores.items():
        logger.info(
            "seed %d start, %d clips: pass %.3f, parsable %.3f (%d items)",
            seed,
            n,
            s["pass_rate"],
            s["parsable"],
            s["items"],
        )
    return result


def decide_levels(bed: LearnBedArguments, out: Path, seeds: list[int], band_low: float) -> dict:
    """The evaluation level and each seed's comfortable start (``levels.json``), from the seeds' start
    scores on the dev level items. Once written it is final: a bed whose runs were chosen on one levels.json
    refuses to go on with another."""
    scores = {
        seed: json.loads((out / "start" / f"seed{seed}" / "level_scores.json").read_text())["scores"]
        for seed in seeds
    }
    levels = choose_levels(
        {seed: {int(n): s["pass_rate"] for n, s in by.items()} for seed, by in scores.items()},
        band_low=band_low,
        candidates=[n for n in EVAL_CANDIDATES if n in bed.level_clips],
        below=bed.eval_pass_below,
        lowest=min(bed.level_clips),
    )
    levels["parsable"] = {str(seed): {n: s["parsable"] for n, s in by.items()} for seed, by in scores.items()}
    levels["items_per_level"] = {n: s["items"] for n, s in next(iter(scores.values())).items()}
    path = out / "levels.json"
    if path.is_file():
        # Written before: kept as it is, for these seeds or a subset of the seeds it was chosen with, as long
        # as their starts still score what it holds.
        saved = json.loads(path.read_text())
        same = all(
            saved.get("pass_rates", {}).get(str(seed)) == levels["pass_rates"][str(seed)]
            and str(seed) in saved.get("start", {})
            for seed in seeds
        )
        if not same:
            raise SystemExit(
                f"{path} was chosen from other start models or seeds than these; the evaluation level is "
                "fixed before any run: use a new output_dir (or remove the bed's folder) to choose again"
            )
        return saved
    path.write_text(json.dumps(levels, indent=2) + "\n")
    logger.info(
        "evaluation level: %d clips (%s); curriculum starts: %s",
        levels["eval_clips"],
        levels["eval_subtype"],
        {seed: s["clips"] for seed, s in levels["start"].items()},
    )
    return levels


def score_test(bed: LearnBedArguments, model, processor, start: Path, out: Path, run_dir: Path) -> dict:
    """Score the start model and the trained ``model`` on every test item (and the swap test)."""
    import torch
    from transformers import AutoModelForImageTextToText

    rows = list(load_split(out / "data", "test"))
    kwargs = {"max_new_tokens": 12, "batch_size": bed.test_batch_size}
    started = time.time()
    begin = AutoModelForImageTextToText.from_pretrained(start, dtype=torch.float32).eval()
    result = {
        "start": score_model(begin, processor, rows, **kwargs),
        "end": score_model(model.eval(), processor, rows, **kwargs),
        "items": len(rows),
    }
    result["seconds"] = round(time.time() - started, 1)
    (run_dir / "test_scores.json").write_text(json.dumps(result) + "\n")
    return result


def _bed_spec(bed: LearnBedArguments, subtype: str) -> BedData:
    return BedData(
        subtype=subtype,
        videos=bed.bed_videos,
        video_seed=bed.video_seed,
        test_videos=bed.test_videos,
        dev_videos=bed.dev_videos,
        train_per_video=bed.train_per_video,
        dev_per_video=bed.dev_per_video,
        test_per_video=bed.test_per_video,
        num_frames=bed.bed_num_frames,
        max_pixels=bed.bed_max_pixels,
    )


def prepare(bed: LearnBedArguments, out: Path, subtype: str | None = None) -> dict:
    """The task's data and baselines (``data/``, ``baselines.json``), written once per settings (the rows
    of ``subtype``, default the bed's)."""
    spec = _bed_spec(bed, subtype or bed.bed_subtype)
    marker = out / "data" / "spec.json"
    wanted = json.dumps(asdict(spec), sort_keys=True)
    if marker.is_file() and marker.read_text() == wanted and (out / "baselines.json").is_file():
        return json.loads((out / "data" / "split.json").read_text())
    logger.info("writing the bed's rows under %s", out / "data")
    split = prepare_data(out / "data", spec)
    logger.info("scoring the baselines on %d test items", split["test_items"])
    baselines = bed_baselines(
        list(load_split(out / "data", "train")),
        list(load_split(out / "data", "dev")),
        list(load_split(out / "data", "test")),
    )
    (out / "baselines.json").write_text(json.dumps(baselines) + "\n")
    marker.write_text(wanted)
    return split


def _elapsed_minutes(out: Path) -> float:
    """A finished bed's wall time, from its files: the data written to the last test score saved."""
    first = (out / "data" / "split.json").stat().st_mtime
    last = max((p.stat().st_mtime for p in out.glob("*/seed*/test_scores.json")), default=first)
    return (last - first) / 60


def launch_run(
    bed: LearnBedArguments, out: Path, task_argv: list[str], run: tuple[str, int]
) -> tuple[str, int, int]:
    """Run ``--run <arm>:<seed>`` of this script in its own process (log in the run's folder); a finished
    run (its test scores written) is kept unless ``rerun``. Returns ``(arm, seed, exit code)``."""
    arm, seed = run
    folder = out / arm / f"seed{seed}"
    log_name = "log.txt"
    if arm == "levels":
        folder, log_name = out / "start" / f"seed{seed}", "levels_log.txt"
        logger.info("seed %d: scoring the start on the level dev items", seed)
    elif arm == "start":
        logger.info("seed %d: format warm-up (%d steps)", seed, bed.format_warmup_steps)
    elif (folder / "test_scores.json").is_file() and not bed.rerun:
        # A finished run (its test scores written) is kept: an interrupted bed resumes where it stopped.
        logger.info("%s seed %d: already finished, kept (--rerun to train it again)", arm, seed)
        return arm, seed, 0
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(bed.torch_threads), TOKENIZERS_PARALLELISM="false")
    with open(folder / log_name, "w") as log:
        code = subprocess.call(
            [sys.executable, str(Path(__file__).resolve()), *task_argv, "--run", f"{arm}:{seed}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    logger.info("%s seed %d finished (exit %d): %s", arm, seed, code, folder)
    return arm, seed, code


def _start_settings(bed: LearnBedArguments, **warmup_extra) -> dict:
    """The model and its format warm-up, as the summaries record them."""
    warmup = {
        "steps": bed.format_warmup_steps,
        "batch_size": bed.format_warmup_batch_size,
        "learning_rate": bed.format_warmup_learning_rate,
        "targets": bed.format_warmup_targets,
        **warmup_extra,
    }
    return {
        "model": {
            "arch": "qwen3_vl",
            "hidden": bed.tiny_hidden,
            "layers": bed.tiny_layers,
            "vision_depth": bed.tiny_vision_depth,
        },
        "warmup": warmup,
    }


def _run_all(bed: LearnBedArguments, out: Path, task_argv: list[str], runs: list[tuple[str, int]]) -> None:
    """``runs`` ``jobs`` at a time; exits naming the failed ones."""
    with ThreadPoolExecutor(max_workers=max(1, bed.jobs)) as pool:
        results = list(pool.map(lambda run: launch_run(bed, out, task_argv, run), runs))
    failed = [f"{arm}:{seed}" for arm, seed, code in results if code != 0]
    if failed:
        raise SystemExit(f"runs failed: {failed}; see the log.txt (levels_log.txt) of each under {out}")


def curriculum_bed(bed: LearnBedArguments, script_args, training_args, argv: list[str]) -> dict:
    """The curriculum bed: level rows, warm-ups, the start's pass rate per clip count, the levels chosen
    (``levels.json``), the data at the evaluation level, the four arms, then the summary and the figure."""
    unknown = set(bed.arms) - set(CURRICULUM_ARMS)
    if unknown:
        raise ValueError(
            f"the curriculum bed runs only its own arms ({', '.join(CURRICULUM_ARMS)}); got {sorted(unknown)}"
        )
    if bed.bed_num_frames != NUM_FRAMES:
        raise ValueError(
            f"the online arms decode {NUM_FRAMES} frames per video; set bed_num_frames {NUM_FRAMES}"
        )
    if len(bed.seeds) < 2:
        logger.warning(
            "one seed: the noise floor (a second fixed-smooth seed against the first) is not measured"
        )
    started = time.time()
    root = Path(training_args.output_dir)
    out = root / CURRICULUM_BED
    out.mkdir(parents=True, exist_ok=True)
    task_argv = [*argv, "--output_dir", str(out)]
    if not bed.summarize_only:
        prepare_levels(bed, out)
        _run_all(bed, out, task_argv, [("start", seed) for seed in bed.seeds])
        _run_all(bed, out, task_argv, [("levels", seed) for seed in bed.seeds])
        levels = decide_levels(bed, out, list(bed.seeds), float(script_args.curriculum_band[0]))
        # Only now, with the evaluation level fixed, are the dev and test items at that level made.
        split = prepare(bed, out, subtype=levels["eval_subtype"])
        if bed.prepare_only:
            return {"levels": levels, "split": split}
        train = set(split["train_videos"])
        spec = BedData(videos=bed.bed_videos, video_seed=bed.video_seed, num_frames=bed.bed_num_frames)
        link_videos(out / "data" / "videos", [v.path for v in bed_videos(spec) if Path(v.path).name in train])
        _run_all(bed, out, task_argv, [(arm, seed) for seed in bed.seeds for arm in bed.arms])
    levels = json.loads((out / "levels.json").read_text())
    split = json.loads((out / "data" / "split.json").read_text())
    baselines = json.loads((out / "baselines.json").read_text())
    entry = summarize_curriculum_bed(out, bed.arms, bed.seeds, split, baselines, levels)
    entry["settings"] = {
        **_start_settings(bed, rows=_levels_data_name(bed)),
        "levels": _levels_spec(bed),
        "curriculum": {
            "band": list(script_args.curriculum_band),
            "step": script_args.curriculum_step,
            "ema": script_args.curriculum_ema,
            "min_rows": script_args.curriculum_min_rows,
            "pass_threshold": script_args.curriculum_pass_threshold,
        },
        "rewards": {arm: arm_settings(arm)[1] for arm in bed.arms},
        "grpo": {
            "max_steps": training_args.max_steps,
            "learning_rate": training_args.learning_rate,
            "num_generations": training_args.num_generations,
            "per_device_train_batch_size": training_args.per_device_train_batch_size,
            "temperature": training_args.temperature,
            "beta": training_args.beta,
            "viubench_steps": script_args.viubench_steps,
        },
    }
    if bed.summarize_only:
        first = (out / "levels" / "split.json").stat().st_mtime
        last = max((p.stat().st_mtime for p in out.glob("*/seed*/test_scores.json")), default=first)
        minutes = (last - first) / 60
    else:
        minutes = (time.time() - started) / 60
    summary = write_curriculum_summary(out / "summary.json", entry, minutes)
    (out / "summary.md").write_text(curriculum_markdown(summary))
    figures = [out / "curriculum_bed.png"] + ([Path(bed.curriculum_figure)] if bed.curriculum_figure else [])
    for figure in figures:
        plot_curriculum_bed(summary, figure)
    for arm, runs in entry["arms"].items():
        for r in runs:
            logger.info(
                "%s seed %d: test %.3f -> %.3f; zero-variance groups %s; level end %s",
                arm,
                r["seed"],
                r["start"],
                r["end"],
                r["mean_frac_reward_zero_std"],
                r.get("clips_end"),
            )
    logger.info(
        "summary: %s, %s; figure: %s", out / "summary.json", out / "summary.md", ", ".join(map(str, figures))
    )
    return summary


def main(argv: list[str] | None = None) -> dict:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    argv = list(sys.argv[1:] if argv is None else argv)
    bed, script_args, training_args, model_args = make_parser().parse_args_and_config(args=argv)
    if bed.run:
        run_one(bed, script_args, training_args, model_args)
        return {}
    if is_curriculum_bed(bed):
        return curriculum_bed(bed, script_args, training_args, argv)
    known = (*STORED_ARMS, *ONLINE_ARMS, SUPERVISED_ARM)
    unknown = set(bed.arms) - set(known)
    if unknown:
        raise ValueError(f"unknown arms {sorted(unknown)}; use {', '.join(known)}")
    online = [arm for arm in bed.arms if arm in ONLINE_ARMS]
    if online and bed.bed_num_frames != NUM_FRAMES:
        raise ValueError(
            f"the online arms decode {NUM_FRAMES} frames per video; set bed_num_frames {NUM_FRAMES}"
        )
    started = time.time()
    root = Path(training_args.output_dir)
    out = root / bed.bed_subtype
    out.mkdir(parents=True, exist_ok=True)
    split = json.loads((out / "data" / "split.json").read_text()) if bed.summarize_only else prepare(bed, out)
    if bed.prepare_only:
        return {"split": split, "baselines": json.loads((out / "baselines.json").read_text())}
    runs = []
    if not bed.summarize_only:
        if online:
            from videossr.learnbed import bed_videos

            train = set(split["train_videos"])
            spec = BedData(videos=bed.bed_videos, video_seed=bed.video_seed, num_frames=bed.bed_num_frames)
            link_videos(
                out / "data" / "videos", [v.path for v in bed_videos(spec) if Path(v.path).name in train]
            )
        runs = [(arm, seed) for seed in bed.seeds for arm in bed.arms]
    task_argv = [*argv, "--output_dir", str(out)]

    # The seeds' warm-ups first, side by side (each arm of a seed starts from its folder), then the arms.
    _run_all(bed, out, task_argv, [("start", seed) for seed in (bed.seeds if runs else [])])
    _run_all(bed, out, task_argv, runs)
    baselines = json.loads((out / "baselines.json").read_text())
    metric = "mIoU" if bed.bed_subtype.startswith("grounding") else "score"
    entry = summarize_task(out, bed.arms, bed.seeds, split, baselines, metric)
    entry["settings"] = {
        **_start_settings(bed),
        "control": bed.control,
        "grpo": {
            "max_steps": training_args.max_steps,
            "learning_rate": training_args.learning_rate,
            "num_generations": training_args.num_generations,
            "per_device_train_batch_size": training_args.per_device_train_batch_size,
            "temperature": training_args.temperature,
            "beta": training_args.beta,
            "reward_funcs": list(script_args.reward_funcs),
        },
    }
    minutes = _elapsed_minutes(out) if bed.summarize_only else (time.time() - started) / 60
    summary = write_summary(root / "summary.json", bed.bed_subtype, entry, minutes)
    plot_bed(summary, root / "learning_curve.png")
    (root / "summary.md").write_text(markdown(summary))
    for arm, arm_runs in entry["arms"].items():
        for r in arm_runs:
            logger.info(
                "%s %s seed %d: test %.3f -> %.3f (best constant %.3f); swap shown %.3f label %.3f",
                bed.bed_subtype,
                arm,
                r["seed"],
                r["start"],
                r["end"],
                entry["baselines"]["best_constant"],
                r["swap"]["against_shown"],
                r["swap"]["against_label"],
            )
    logger.info("summary: %s; figure: %s", root / "summary.json", root / "learning_curve.png")
    return summary


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
