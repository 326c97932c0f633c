"""The library side of the GRPO recipe (``recipes/grpo.py`` only wires these together): its arguments, data,
model, callbacks, the run's outputs (reward curve, model card, Hub push) and the in-training VIUBench score.

They live in the library, not in the recipe script, so the demo, the tests and other scripts share them.
Heavy imports (torch, datasets, matplotlib, huggingface_hub) stay inside the functions; the argument class
subclasses ``trl.ScriptArguments``, so this module needs the ``train`` extra.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from trl import ScriptArguments

logger = logging.getLogger(__name__)

TINY_PREFIX = "tiny:"


# ---------------------------------------------------------------------------------------------- arguments
@dataclass
class GRPOScriptArguments(ScriptArguments):
    """Data, reward and video options of the recipe (model options: ``trl.ModelConfig``; training:
    ``trl.GRPOConfig``).

    From ``trl.ScriptArguments``: ``dataset_name`` (a folder built by ``videossr build`` or a Hub dataset id;
    unset or ``none``: rows are generated online from ``video_dir``), ``dataset_config``,
    ``dataset_train_split``, ``dataset_test_split`` (read only when ``eval_strategy`` is not ``no``) and
    ``dataset_streaming`` (read the dataset lazily).
    """

    max_train_samples: int | None = field(
        default=None, metadata={"help": "Train on N rows drawn at random (seeded by `seed`) from the split."}
    )
    video_dir: str | None = field(
        default=None,
        metadata={
            "help": "Folder of videos for online generation; `samples` = videos shipped by installed packages."
        },
    )
    online_mix: str | None = field(
        default=None,
        metadata={
            "help": "Online task mix, as `videossr build --mix`: `grounding_mirror=0.5,jigsaw_easy=0.5`. "
            "Default: the VideoSSR-30K mix."
        },
    )
    online_samples: int = field(default=512, metadata={"help": "Rows to generate online."})
    online_streaming: bool = field(
        default=False, metadata={"help": "Generate rows while training (IterableDataset; needs max_steps)."}
    )
    max_pixels: int = field(default=256 * 256, metadata={"help": "Largest frame area for online generation."})
    online_keep_clips: bool = field(
        default=False,
        metadata={"help": "Keep each decoded video for the whole online stream (small folders, e.g. the bed)."},
    )
    online_skip_questions: str | None = field(
        default=None,
        metadata={
            "help": "A dataset (folder or Hub id, every split) whose questions the online stream never makes, "
            "e.g. the held-out items (same video file and generation parameters)."
        },
    )
    reward_funcs: list[str] = field(
        default_factory=lambda: ["grounding", "counting", "jigsaw"],
        metadata={"help": "Reward names from videossr.rewards.REWARD_FUNCS (e.g. grounding_strict01, format)."},
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
        metadata={"help": "Encode each group's prompt once per micro-batch in every pass (exact; docs/training.md)."},
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
    viubench_max_new_tokens: int = field(
        default=32, metadata={"help": "Reply budget when scoring VIUBench (answers are a few tokens)."}
    )
    viubench_at_start: bool = field(
        default=False, metadata={"help": "Also score the VIUBench subset before the first step (step 0)."}
    )
    video_control: str | None = field(
        default=None,
        metadata={
            "help": "A control arm: train on clips that carry no information about the answer. `swap`: each "
            "row gets the clips of another row from the same source video; `blank`: grey frames "
            "(videossr.learnbed). Needs a dataset (not online rows).",
            "choices": [None, "swap", "blank"],
        },
    )
    curriculum: bool = field(
        default=False,
        metadata={
            "help": "Adaptive difficulty (online_streaming only): move each task's difficulty to hold its pass "
            "rate in curriculum_band (videossr.curriculum). The paper's run has it off."
        },
    )
    curriculum_band: list[float] = field(
        default_factory=lambda: [0.3, 0.7], metadata={"help": "Target pass rate per task: low high."}
    )
    curriculum_start: float = field(default=0.5, metadata={"help": "First difficulty of every task (0.5: the paper's)."})
    curriculum_step: float = field(default=0.05, metadata={"help": "How far one move of the difficulty goes."})
    curriculum_ema: float = field(default=0.3, metadata={"help": "Weight of the newest batch in the pass rate."})
    curriculum_min_rows: int = field(
        default=16, metadata={"help": "Rollouts needed at a difficulty before it may move."}
    )
    curriculum_pass_threshold: float | None = field(
        default=0.5, metadata={"help": "Reward counted as a pass; None: the pass rate is the mean reward."}
    )

    def __post_init__(self) -> None:
        if self.online_mix is not None:
            if not isinstance(self.online_mix, str):
                raise ValueError(
                    f"online_mix must be one string like 'grounding_mirror=0.5,jigsaw_easy=0.5', got {self.online_mix!r}"
                )
            from videossr.data.plan import parse_mix

            parse_mix(self.online_mix)  # a malformed mix or unknown subtype fails here, before any model loads
        if self.video_control is not None:
            if self.video_control not in ("swap", "blank"):
                raise ValueError(f"video_control must be 'swap' or 'blank', got {self.video_control!r}")
            if self.online or self.dataset_streaming:
                raise ValueError("video_control needs a dataset read in full (dataset_name, no streaming)")
        if self.curriculum and not (self.online and self.online_streaming):
            raise ValueError(
                "curriculum: true needs rows generated while training (dataset_name: none, online_streaming: true)"
            )
        if self.curriculum and len(self.curriculum_band) != 2:
            raise ValueError(f"curriculum_band must be two numbers (low high), got {self.curriculum_band!r}")

    @property
    def online(self) -> bool:
        """Whether rows are generated from ``video_dir`` (no ``dataset_name``, or ``none``/``null``)."""
        return not self.dataset_name or self.dataset_name.lower() in ("none", "null")


# ---------------------------------------------------------------------------------------------- data
def load_train_data(script_args: GRPOScriptArguments, training_args: Any, curriculum: Any = None) -> tuple[Any, Any]:
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
        from videossr.learnbed import uninformative_videos

        train = uninformative_videos(train, script_args.video_control, seed=training_args.seed)
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

    from videossr.data.streaming import stream_dataset

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
    """The run's :class:`~videossr.curriculum.DifficultyController` (``None`` unless ``curriculum``): one level
    per task of the online mix, shared by the stream, the reward wrappers and the checkpoint callback."""
    if not script_args.curriculum:
        return None
    from videossr.curriculum import DifficultyController
    from videossr.data.plan import parse_mix
    from videossr.tasks import task_name_of_subtype

    tasks = list(dict.fromkeys(task_name_of_subtype(s) for s in parse_mix(script_args.online_mix)))
    return DifficultyController(
        tasks=tasks,
        band=tuple(script_args.curriculum_band),
        start=script_args.curriculum_start,
        step=script_args.curriculum_step,
        ema=script_args.curriculum_ema,
        min_rows=script_args.curriculum_min_rows,
        pass_threshold=script_args.curriculum_pass_threshold,
        num_generations=getattr(training_args, "num_generations", None),
    )


def curriculum_hooks(controller: Any, reward_funcs: list[Any]) -> tuple[list[Any], list[Any]]:
    """``(reward functions, callbacks)`` for the trainer: the rewards wrapped to report to ``controller``,
    and the callback that saves and restores it with checkpoints. Unchanged, and no callback, without one."""
    if controller is None:
        return list(reward_funcs), []
    from videossr.curriculum import CurriculumCallback, wrap_reward_funcs

    return wrap_reward_funcs(reward_funcs, controller), [CurriculumCallback(controller)]


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


def load_processor(model_args: Any, training_args: Any) -> Any:
    """The policy's processor, padding on the left (generation appends to the right end of every prompt)."""
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(
        model_args.model_name_or_path,
        revision=model_args.model_revision,
        trust_remote_code=training_args.trust_remote_code,
    )
    processor.tokenizer.padding_side = "left"
    return processor


def load_model(model_args: Any, training_args: Any) -> Any:
    """The policy, loaded with the ``ModelConfig`` options (dtype, attention kernel, quantisation for LoRA)."""
    import torch
    from transformers import AutoModelForImageTextToText
    from trl import get_quantization_config

    dtype = model_args.dtype
    if dtype not in (None, "auto"):
        dtype = getattr(torch, dtype)
    kwargs: dict[str, Any] = {
        "revision": model_args.model_revision,
        "trust_remote_code": training_args.trust_remote_code,
        "attn_implementation": model_args.attn_implementation,
        "dtype": dtype,
    }
    quantization = get_quantization_config(model_args)
    if quantization is not None:
        # k-bit weights must sit on this process's GPU from the start (they cannot be moved later).
        from accelerate import PartialState

        kwargs.update(quantization_config=quantization, device_map={"": PartialState().local_process_index})
    return AutoModelForImageTextToText.from_pretrained(model_args.model_name_or_path, **kwargs)


# ---------------------------------------------------------------------------------------------- curves
def _history(log_history: Sequence[dict[str, Any]], wanted: Any) -> dict[str, list[tuple[int, float]]]:
    """``{metric: [(step, value), ...]}`` for the logged metrics whose key ``wanted(key)`` accepts (NaN skipped)."""
    curves: dict[str, list[tuple[int, float]]] = {}
    for entry in log_history:
        step = entry.get("step")
        if step is None:
            continue
        for key, value in entry.items():
            if wanted(key) and isinstance(value, (int, float)) and not math.isnan(float(value)):
                curves.setdefault(key, []).append((int(step), float(value)))
    return curves


def reward_history(log_history: Sequence[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """``{metric: [(step, value), ...]}`` for the reward metrics (``reward`` and ``rewards/<name>/mean``)."""
    return _history(log_history, lambda k: k == "reward" or (k.startswith("rewards/") and k.endswith("/mean")))


def curriculum_history(log_history: Sequence[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """``{metric: [(step, value), ...]}`` for a curriculum run: ``curriculum/<task>/difficulty`` and
    ``frac_reward_zero_std``; empty when the run logged no difficulty (no curriculum)."""
    curves = _history(
        log_history,
        lambda k: k == "frac_reward_zero_std" or (k.startswith("curriculum/") and k.endswith("/difficulty")),
    )
    if not any(k.startswith("curriculum/") for k in curves):
        return {}
    return curves


def _plot_curriculum(ax: Any, curves: dict[str, list[tuple[int, float]]]) -> None:
    for key in sorted(curves, key=lambda k: (k == "frac_reward_zero_std", k)):
        steps, values = zip(*curves[key])
        zero_std = key == "frac_reward_zero_std"
        task = key.removeprefix("curriculum/").removesuffix("/difficulty")
        label = "zero-variance groups" if zero_std else f"{task} difficulty"
        ax.plot(steps, values, ls="--" if zero_std else "-", color="0.4" if zero_std else None,
                marker="o" if len(steps) < 30 else None, lw=1, label=label)  # fmt: skip
    ax.set_xlabel("step")
    ax.set_ylabel("difficulty / fraction")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def plot_reward_curve(
    log_history: Sequence[dict[str, Any]], path: str | os.PathLike, title: str = ""
) -> Path | None:
    """Write a PNG of the mean reward (and each reward function's mean) against the step; a curriculum run
    adds a panel with each task's difficulty and the fraction of zero-variance groups.

    Returns the path, or ``None`` when the log has no reward yet.
    """
    curves = reward_history(log_history)
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # A run with the curriculum gets a second panel: each task's difficulty and the zero-variance fraction.
    curriculum = curriculum_history(log_history)
    extra = None
    if curriculum:
        fig, (ax, extra) = plt.subplots(2, 1, figsize=(6.4, 6.4), dpi=120, sharex=True)
    else:
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
    if extra is not None:
        _plot_curriculum(extra, curriculum)
    return save_figure(fig, path)


def save_figure(fig: Any, path: str | os.PathLike) -> Path:
    """Lay out, write (making the folder) and close a matplotlib figure; returns the path."""
    import matplotlib.pyplot as plt

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


def answer_rows(
    model: Any,
    processor: Any,
    rows: Sequence[dict[str, Any]],
    max_new_tokens: int = 32,
    video_max_pixels: int | None = None,
    synced_gpus: bool = False,
) -> list[str]:
    """Greedy replies of ``model`` to ``rows`` (videos at their fps, no reasoning), one per row.

    Inputs are prepared and decoded by :mod:`videossr.vlm`, as ``videossr bench`` does (``hf:`` backend).
    """
    from videossr.trl_video import clean_prompt, clip_to_array
    from videossr.vlm import greedy_replies, video_inputs

    replies = []
    for row in rows:
        clips = [clip_to_array(c) for c in row["videos"]]
        prompt = clean_prompt(row["prompt"])
        text = processor.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        inputs = video_inputs(
            processor, [text], clips, [float(row["fps"])] * len(clips), max_pixels=video_max_pixels
        )
        replies.append(greedy_replies(model, processor, inputs, max_new_tokens, synced_gpus=synced_gpus)[0])
    return replies


def score_rows(model: Any, processor: Any, rows: Sequence[dict[str, Any]], **kwargs: Any) -> list[tuple[str, float]]:
    """Greedy answers of ``model`` to ``rows``, scored with the VIUBench metric. Returns ``(subtype, score)``
    per row; ``kwargs`` are :func:`answer_rows`' (``max_new_tokens``, ``video_max_pixels``, ``synced_gpus``)."""
    from videossr.metrics import score

    replies = answer_rows(model, processor, rows, **kwargs)
    return [(row["subtype"], float(score(row["task"], r, row["answer"]))) for row, r in zip(rows, replies)]


def _viubench_callback_base():
    from transformers import TrainerCallback

    return TrainerCallback


class VIUBenchCallback(_viubench_callback_base()):
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
    ) -> None:
        self.rows = viubench_subset(_load_rows(dataset, config, split), limit)
        self.processor = processor
        self.every_steps = every_steps
        self.max_new_tokens = max_new_tokens
        self.video_max_pixels = video_max_pixels
        self.at_start = at_start
        self.last: dict[str, Any] | None = None
        #: Per item of the last evaluation, in ``self.rows`` order: ``(subtype, metric, smooth reward)``.
        self.last_items: list[tuple[str, float, float]] = []

    def evaluate(self, model: Any) -> dict[str, Any]:
        """Score the subset now; returns ``videossr.metrics.aggregate``'s result plus ``reward`` (the mean
        smooth reward of the same replies, in [0, 1])."""
        import torch.distributed as dist

        from videossr.metrics import aggregate, score
        from videossr.tasks import task_for_subtype

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
                model, self.processor, padded, self.max_new_tokens, self.video_max_pixels, distributed
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
        entry = {"step": state.global_step, "viubench/overall": result["overall"], "viubench/reward": result["reward"]}
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
    """``[VIUBenchCallback]`` when ``viubench_dataset`` is set (every ``viubench_steps``, and at the end), else
    ``[]``."""
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
        )
    ]


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


# ---------------------------------------------------------------------------------------------- run outputs
#: The GRPOConfig settings that define a run, shown in the model card (not the whole argument dump).
SUMMARY_KEYS = (
    "learning_rate",
    "lr_scheduler_type",
    "warmup_steps",
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
)


def recipe_summary(script_args: GRPOScriptArguments, training_args: Any, model_args: Any) -> dict[str, Any]:
    """The settings that define the run, for the model card's recipe section."""
    model = str(model_args.model_name_or_path)
    summary: dict[str, Any] = {"model_name_or_path": Path(model).name if model.startswith("/") else model}
    for key in SUMMARY_KEYS:
        value = getattr(training_args, key)
        # Enums (scheduler type...) as their plain values, so the card's YAML stays readable.
        summary[key] = getattr(value, "value", value)
    summary["world_size"] = training_args.world_size
    summary["reward_funcs"] = list(script_args.reward_funcs)
    summary["video_mode"] = script_args.video_mode
    summary["video_max_pixels"] = script_args.video_max_pixels
    summary["shared_prefix"] = script_args.shared_prefix
    summary["dataset"] = script_args.dataset_name or f"online:{script_args.video_dir or 'samples'}"
    if script_args.curriculum:
        summary["curriculum"] = {
            "band": list(script_args.curriculum_band), "start": script_args.curriculum_start,
            "step": script_args.curriculum_step, "ema": script_args.curriculum_ema,
            "min_rows": script_args.curriculum_min_rows, "pass_threshold": script_args.curriculum_pass_threshold,
        }  # fmt: skip
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


__all__ = [
    "GRPOScriptArguments",
    "VIUBenchCallback",
    "curriculum_history",
    "curriculum_hooks",
    "make_curriculum",
    "files_to_push",
    "load_model",
    "load_processor",
    "load_train_data",
    "online_rows",
    "plot_reward_curve",
    "push_checkpoint",
    "recipe_summary",
    "resolve_model_path",
    "reward_history",
    "score_rows",
    "viubench_callbacks",
    "viubench_subset",
    "write_model_card",
    "write_run_outputs",
]
