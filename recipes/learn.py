# Copyright the videossr developers. Licensed under the Apache License, Version 2.0.
"""The learning bed: GRPO raises held-out reward only when the model sees the video (``make learn``).

Usage::

    python recipes/learn.py --config recipes/tiny/grpo/config_learn.yaml               # 3 seeds x 2 arms
    python recipes/learn.py --config recipes/tiny/grpo/config_learn.yaml --seeds 0 --max_steps 40 \\
        --output_dir learn_quick                                                     # a quick look

What it does (``videossr.learnbed`` has the details):

1. writes the training rows and the held-out items (other seeds, and a video no training row uses) as
   dataset folders under ``<output_dir>/data``;
2. per seed, builds the offline tiny Qwen3-VL (``tiny_hidden`` x ``tiny_layers``) and gives it the
   supervised format warm-up (``videossr.warmup``: random answers, no video information), saved under
   ``<output_dir>/start/seed<k>``; both arms of a seed start from that same folder;
3. per seed and arm, runs ``recipes/grpo.py``'s ``main`` on it (``VideoGRPOTrainer``, the package's
   rewards), the ``control`` arm with ``video_control`` (each row gets another row's clip of the same
   video), scoring the held-out items every ``viubench_steps`` steps; final models under
   ``<output_dir>/<arm>/seed<k>`` (``save_pretrained``: score them with ``videossr bench``);
4. writes ``<output_dir>/summary.json`` and ``<output_dir>/learning_curve.png``.

Runs go ``jobs`` at a time, each in its own process with ``torch_threads`` threads (on a small CPU the tiny
model is faster as two one-thread processes than as one two-thread process).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from trl import GRPOConfig, ModelConfig, TrlParser

from videossr.learnbed import BedData, link_videos, prepare_data, summarize
from videossr.training import GRPOScriptArguments
from videossr.video import NUM_FRAMES

logger = logging.getLogger("videossr.recipes.learn")
#: Arms trained on the stored rows, and arms trained on rows generated while training.
STORED_ARMS = ("video", "control")
ONLINE_ARMS = ("online", "curriculum")
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
            "controller's)."
        },
    )
    control: str = field(default="swap", metadata={"help": "The control arm's video_control: swap or blank."})
    bed_subtype: str = field(
        default="grounding_invert", metadata={"help": "The task subtype trained and scored."}
    )
    train_per_video: int = field(
        default=80, metadata={"help": "Training rows per training video (seeds 0..N-1)."}
    )
    heldout_per_video: int = field(default=8, metadata={"help": "Held-out items per video."})
    bed_num_frames: int = field(default=48, metadata={"help": "Frames per clip."})
    bed_max_pixels: int = field(default=64 * 64, metadata={"help": "Largest decoded frame area."})
    tiny_hidden: int = field(default=64, metadata={"help": "Width of the tiny Qwen3-VL."})
    tiny_layers: int = field(default=4, metadata={"help": "Text layers of the tiny Qwen3-VL."})
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
    jobs: int = field(default=2, metadata={"help": "Runs at the same time (one process each)."})
    torch_threads: int = field(default=1, metadata={"help": "torch threads per run process."})
    summarize_only: bool = field(
        default=False,
        metadata={"help": "Only (re)write summary.json and the plot from the runs in output_dir."},
    )
    run: str | None = field(default=None, metadata={"help": "Internal: run one `<arm>:<seed>` and exit."})


def make_parser() -> TrlParser:
    return TrlParser((LearnBedArguments, GRPOScriptArguments, GRPOConfig, ModelConfig))


def warm_start(bed: LearnBedArguments, out: Path, seed: int, train_dir: Path) -> Path:
    """The seed's starting model: the tiny Qwen3-VL after the format warm-up (built once, then reused)."""
    folder = out / "start" / f"seed{seed}"
    marker = folder / "warmup.json"
    settings = {
        "seed": seed,
        "hidden": bed.tiny_hidden,
        "layers": bed.tiny_layers,
        "steps": bed.format_warmup_steps,
        "batch_size": bed.format_warmup_batch_size,
        "learning_rate": bed.format_warmup_learning_rate,
        "targets": bed.format_warmup_targets,
        "data": bed.bed_subtype,
    }
    if marker.is_file() and json.loads(marker.read_text()).get("settings") == settings:
        return folder
    import torch
    from datasets import load_dataset
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from videossr.tiny import build_tiny_model
    from videossr.warmup import supervised_warmup

    base = build_tiny_model(
        out / "start" / f"tiny-seed{seed}", seed=seed, hidden=bed.tiny_hidden, layers=bed.tiny_layers
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
    """One arm of one seed, through ``recipes/grpo.py``'s ``main``."""
    import torch

    sys.path.insert(0, str(HERE))
    from grpo import main as grpo_main

    torch.set_num_threads(max(1, bed.torch_threads))
    arm, seed = bed.run.split(":")
    out = Path(training_args.output_dir)
    data = out / "data"
    if arm in STORED_ARMS:
        script_args.dataset_name = str(data / "train")
        script_args.video_control = None if arm == "video" else bed.control
    else:
        # The same training videos and subtype, generated while training; the held-out questions are never
        # made. `online` keeps the subtype's own difficulty (the held-out items'), `curriculum` lets the
        # controller move it (videossr.curriculum).
        script_args.dataset_name = "none"
        script_args.video_dir = str(data / "videos")
        script_args.online_mix = f"{bed.bed_subtype}=1"
        script_args.online_streaming = True
        script_args.online_keep_clips = True
        script_args.online_skip_questions = str(data / "heldout")
        script_args.max_pixels = bed.bed_max_pixels
        script_args.curriculum = arm == "curriculum"
    script_args.viubench_dataset = str(data / "heldout")
    script_args.viubench_at_start = True
    model_args.model_name_or_path = str(out / "start" / f"seed{seed}")
    training_args.seed = int(seed)
    training_args.output_dir = str(out / arm / f"seed{seed}")
    grpo_main(script_args, training_args, model_args)


def _elapsed_minutes(out: Path) -> float:
    """A finished bed's wall time, from its files: the training rows written to the last run's state saved."""
    first = (out / "data" / "train").stat().st_mtime
    last = max((p.stat().st_mtime for p in out.glob("*/seed*/trainer_state.json")), default=first)
    return (last - first) / 60


def main(argv: list[str] | None = None) -> dict:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    argv = list(sys.argv[1:] if argv is None else argv)
    bed, script_args, training_args, model_args = make_parser().parse_args_and_config(args=argv)
    if bed.run:
        run_one(bed, script_args, training_args, model_args)
        return {}
    unknown = set(bed.arms) - set(STORED_ARMS) - set(ONLINE_ARMS)
    if unknown:
        raise ValueError(f"unknown arms {sorted(unknown)}; use {', '.join(STORED_ARMS + ONLINE_ARMS)}")
    online = [arm for arm in bed.arms if arm in ONLINE_ARMS]
    if online and bed.bed_num_frames != NUM_FRAMES:
        raise ValueError(
            f"the online arms decode {NUM_FRAMES} frames per video; set bed_num_frames {NUM_FRAMES}"
        )
    started = time.time()
    out = Path(training_args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = BedData(
        subtype=bed.bed_subtype,
        train_per_video=bed.train_per_video,
        heldout_per_video=bed.heldout_per_video,
        num_frames=bed.bed_num_frames,
        max_pixels=bed.bed_max_pixels,
    )
    held_out_file = out / "data" / "held_out.json"
    if bed.summarize_only:
        held_out = json.loads(held_out_file.read_text())
        runs = []
    else:
        logger.info("writing the training rows and held-out items under %s", out / "data")
        held_out = prepare_data(out / "data", spec)
        held_out_file.write_text(json.dumps(held_out, indent=2) + "\n")
        if online:
            link_videos(out / "data" / "videos", spec.train_videos)
        for seed in bed.seeds:
            logger.info("seed %d: format warm-up (%d steps)", seed, bed.format_warmup_steps)
            warm_start(bed, out, seed, out / "data" / "train")
        runs = [(arm, seed) for seed in bed.seeds for arm in bed.arms]

    def launch(run: tuple[str, int]) -> tuple[str, int, int]:
        arm, seed = run
        folder = out / arm / f"seed{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, OMP_NUM_THREADS=str(bed.torch_threads), TOKENIZERS_PARALLELISM="false")
        with open(folder / "log.txt", "w") as log:
            code = subprocess.call(
                [sys.executable, str(Path(__file__).resolve()), *argv, "--run", f"{arm}:{seed}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        logger.info("%s seed %d finished (exit %d): %s", arm, seed, code, folder)
        return arm, seed, code

    with ThreadPoolExecutor(max_workers=max(1, bed.jobs)) as pool:
        results = list(pool.map(launch, runs))
    failed = [f"{arm}:{seed}" for arm, seed, code in results if code != 0]
    if failed:
        raise SystemExit(f"runs failed: {failed}; see {out}/<arm>/seed<k>/log.txt")
    summary = summarize(
        out,
        bed.arms,
        bed.seeds,
        task=spec.subtype.split("_")[0],
        options={"subtype": spec.subtype, "num_frames": spec.num_frames, "max_pixels": spec.max_pixels},
        held_out=held_out,
        metric="mIoU" if spec.subtype.startswith("grounding") else "score",
        minutes=_elapsed_minutes(out) if bed.summarize_only else (time.time() - started) / 60,
        extra={
            "model": {"arch": "qwen3_vl", "hidden": bed.tiny_hidden, "layers": bed.tiny_layers},
            "warmup": {
                "steps": bed.format_warmup_steps,
                "batch_size": bed.format_warmup_batch_size,
                "learning_rate": bed.format_warmup_learning_rate,
                "targets": bed.format_warmup_targets,
            },
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
        },
    )
    for arm, arm_runs in summary["arms"].items():
        for r in arm_runs:
            logger.info("%s seed %d: held-out %.3f -> %.3f", arm, r["seed"], r["start"], r["end"])
    logger.info("summary: %s; curve: %s", out / "summary.json", out / "learning_curve.png")
    return summary


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
