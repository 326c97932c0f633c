"""The recipe's own options: :class:`GRPOScriptArguments` (data, rewards, video, VIUBench, curriculum).

Model options are ``trl.ModelConfig``'s and training options ``trl.GRPOConfig``'s; this class subclasses
``trl.ScriptArguments``, so it needs the ``train`` extra.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trl import ScriptArguments

from videossr.data.plan import parse_mix
from videossr.rewards import DEFAULT_REWARDS


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
            "help": "Folder of videos for online generation; `samples` = videos shipped by installed "
            "packages."
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
        metadata={
            "help": "Keep each decoded video for the whole online stream (small folders, e.g. the bed)."
        },
    )
    online_skip_questions: str | None = field(
        default=None,
        metadata={
            "help": "A dataset (folder or Hub id, every split) whose questions the online stream never "
            "makes, e.g. the held-out items (same video file and generation parameters)."
        },
    )
    reward_funcs: list[str] = field(
        default_factory=lambda: list(DEFAULT_REWARDS),
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
            "help": "Per-frame pixel budget given to the video processor (256*256 for the paper). "
            "None: processor's."
        },
    )
    video_min_pixels: int | None = field(
        default=None, metadata={"help": "Per-frame lower bound for the video processor."}
    )
    shared_prefix: bool = field(
        default=True,
        metadata={
            "help": "Encode each group's prompt once per micro-batch in every pass (exact; docs/training.md)."
        },
    )
    layout_invariant_sampling: bool = field(
        default=False,
        metadata={
            "help": "Draw rollout tokens with noise keyed by (seed, step, rollout index, position) instead "
            "of each process's random stream: same distribution, but N processes sample what one would, "
            "and a resumed run what an uninterrupted one would (docs/sharding.md)."
        },
    )
    auto_resume: bool = field(
        default=True,
        metadata={
            "help": "Resume from the last `checkpoint-N` in output_dir when resume_from_checkpoint is unset "
            "(false: start over, overwriting)."
        },
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
    viubench_batch_size: int = field(
        default=1,
        metadata={
            "help": "Items per generate call when scoring VIUBench (left padded, same greedy replies)."
        },
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
            "help": "Adaptive difficulty (online_streaming only): move each task's difficulty to hold "
            "its pass rate in curriculum_band (videossr.curriculum). The paper's run has it off."
        },
    )
    curriculum_band: list[float] = field(
        default_factory=lambda: [0.3, 0.7], metadata={"help": "Target pass rate per task: low high."}
    )
    curriculum_start: float = field(
        default=0.5, metadata={"help": "First difficulty of every task (0.5: the paper's)."}
    )
    curriculum_step: float = field(
        default=0.05, metadata={"help": "How far one move of the difficulty goes."}
    )
    curriculum_ema: float = field(
        default=0.3, metadata={"help": "Weight of the newest batch in the pass rate."}
    )
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
                    "online_mix must be one string like 'grounding_mirror=0.5,jigsaw_easy=0.5', "
                    f"got {self.online_mix!r}"
                )
            parse_mix(
                self.online_mix
            )  # a malformed mix or unknown subtype fails here, before any model loads
        if self.video_control is not None:
            if self.video_control not in ("swap", "blank"):
                raise ValueError(f"video_control must be 'swap' or 'blank', got {self.video_control!r}")
            if self.online or self.dataset_streaming:
                raise ValueError("video_control needs a dataset read in full (dataset_name, no streaming)")
        if self.curriculum and not (self.online and self.online_streaming):
            raise ValueError(
                "curriculum: true needs rows generated while training (dataset_name: none, "
                "online_streaming: true)"
            )
        if self.curriculum and len(self.curriculum_band) != 2:
            raise ValueError(f"curriculum_band must be two numbers (low high), got {self.curriculum_band!r}")

    @property
    def online(self) -> bool:
        """Whether rows are generated from ``video_dir`` (no ``dataset_name``, or ``none``/``null``)."""
        return not self.dataset_name or self.dataset_name.lower() in ("none", "null")
