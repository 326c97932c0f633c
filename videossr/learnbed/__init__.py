"""The learning bed: does GRPO with this package make a model better at a task *because it sees the video*?

A small Qwen3-VL is built offline (:mod:`videossr.tiny`), given a short supervised start that teaches the
answer format and nothing about the frames (:mod:`videossr.warmup`), then trained with the package's GRPO
path (``recipes/grpo.py`` -> :class:`~videossr.trl_video.VideoGRPOTrainer`, the package's rewards, rows from
the package's generators) in two arms that differ only in the information the clips carry:

* ``video``: every training row with its own clip;
* ``control``: every training row with the clip of *another* row of the same source video, a new partner
  in every pass over the data (:func:`videossr.training.control.uninformative_videos`). What the control
  can learn is the answers' prior.

The videos are many and made offline (:mod:`videossr.synthetic`), split by video (and by shared picture)
into ``train``, ``dev`` (the curve, every design choice) and ``test`` (scored at step 0 and at the end
only). The test summary puts each arm beside the best video-blind answer fitted on the training rows, the
random guess and the heuristic solver, with intervals that resample test videos, and a swap test
(:mod:`videossr.learnbed.scoring`).

Modules: :mod:`~videossr.learnbed.data` (videos, splits, rows), :mod:`~videossr.learnbed.scoring`
(baselines, swap test, bootstrap), :mod:`~videossr.learnbed.report` (summary, criteria, figure).
``recipes/learn.py`` runs the arms; ``make learn`` / ``make learn-all`` are the commands.

The curriculum bed (``make learn-curriculum``) adds :mod:`~videossr.learnbed.levels` (jigsaw rows at every
clip count, the start's pass rate per clip count, the evaluation level and the curriculum's start chosen by
rule) and :mod:`~videossr.learnbed.curriculum_report` (its measures, summary, tables and figure).
"""

from videossr.learnbed.data import (
    SPLITS,
    BedData,
    bed_videos,
    link_videos,
    load_split,
    near_copies,
    prepare_data,
    split_by_group,
)
from videossr.learnbed.report import (  # noqa: F401 (_mean_over_steps: private, the tests read it)
    CRITERIA,
    _mean_over_steps,
    compare_to_fixed,
    markdown,
    plot_bed,
    read_curves,
    steps_to_reach,
    summarize_task,
    write_summary,
)
from videossr.learnbed.scoring import (
    ConstantAnswer,
    bed_baselines,
    best_constant,
    cluster_bootstrap,
    item_scores,
    score_model,
    swap_rows,
)
from videossr.training.control import control_permutation, uninformative_videos

__all__ = [
    "SPLITS",
    "BedData",
    "CRITERIA",
    "ConstantAnswer",
    "bed_baselines",
    "bed_videos",
    "best_constant",
    "cluster_bootstrap",
    "compare_to_fixed",
    "control_permutation",
    "item_scores",
    "markdown",
    "link_videos",
    "load_split",
    "near_copies",
    "plot_bed",
    "prepare_data",
    "read_curves",
    "score_model",
    "split_by_group",
    "steps_to_reach",
    "summarize_task",
    "swap_rows",
    "uninformative_videos",
    "write_summary",
]
