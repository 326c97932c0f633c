"""Object Counting (VideoSSR) as an ``evaluate`` metric.

The logic lives in the ``videossr`` package (``videossr.evaluation.scoring.task_metrics``, which asks the
task itself); this module only declares the inputs.
"""

import evaluate

from videossr.evaluation import scoring
from videossr.evaluation.metric_space import metric_info

_DESCRIPTION = """\
Object Counting (VideoSSR task B): filled circles, squares and triangles are drawn on some frames of
a video and the model answers how many of each appeared, as `circles,squares,triangles`. The VIUBench
score is the per-shape exact match averaged over the three shapes; the metric also reports whether all
three counts are right and the paper's smooth training reward (per shape max(0, 1 - |pred - true| /
true), averaged). Replies the parser cannot read score 0 and stay in the denominator.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): the model's replies.
    references (`list` of `str`): ground truths in the task format (`3,1,4`).
    mode (`str`, defaults to `"strict"`): reply parser; `"strict"` is the paper's, `"lenient"` also
        reads answers in natural phrasing, `<answer>` tags or `\\boxed{}`.
Returns:
    `per_shape_accuracy` (the VIUBench score), `exact_match`, `mean_reward` (fractions in [0, 1]),
        `unparsed` and `count`.
Examples:
    >>> metric = evaluate.load("hub/metrics/object_counting")
    >>> out = metric.compute(predictions=["3,1,5", "3,1,4"], references=["3,1,4", "3,1,4"])
    >>> round(out["per_shape_accuracy"], 4), out["exact_match"]
    (0.8333, 0.5)
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ObjectCounting(evaluate.Metric):
    def _info(self):
        return metric_info(_DESCRIPTION, _KWARGS_DESCRIPTION)

    def _compute(self, predictions, references, mode="strict"):
        return scoring.task_metrics("object_counting", predictions, references, mode=mode)
