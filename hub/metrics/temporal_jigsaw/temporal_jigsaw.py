"""Temporal Jigsaw (VideoSSR) as an ``evaluate`` metric.

The logic lives in the ``videossr`` package (``videossr.evaluation.scoring.task_metrics``, which asks the
task itself); this module only declares the inputs.
"""

import evaluate

from videossr.evaluation import scoring
from videossr.evaluation.metric_space import metric_info

_DESCRIPTION = """\
Temporal Jigsaw (VideoSSR task C): a video is cut into n clips that are shown shuffled, and the model
answers the original order as n digits (digit k is the displayed position of the k-th original clip).
The VIUBench score is exact sequence match; the metric also reports the paper's smooth training reward,
1 - (sum of position errors) / floor(n^2 / 2). Replies the parser cannot read score 0 and stay in the
denominator.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): the model's replies.
    references (`list` of `str`): ground truths in the task format (`3124`).
    mode (`str`, defaults to `"strict"`): reply parser; `"strict"` is the paper's, `"lenient"` also
        reads answers in natural phrasing, `<answer>` tags or `\\boxed{}`.
Returns:
    `exact_match` (the VIUBench score), `mean_reward` (fractions in [0, 1]), `unparsed` and `count`.
Examples:
    >>> metric = evaluate.load("hub/metrics/temporal_jigsaw")
    >>> out = metric.compute(predictions=["3124", "4213"], references=["3124", "3124"])
    >>> out["exact_match"], out["mean_reward"]
    (0.5, 0.75)
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class TemporalJigsaw(evaluate.Metric):
    def _info(self):
        return metric_info(_DESCRIPTION, _KWARGS_DESCRIPTION)

    def _compute(self, predictions, references, mode="strict"):
        return scoring.task_metrics("temporal_jigsaw", predictions, references, mode=mode)
