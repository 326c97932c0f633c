"""Anomaly Grounding (VideoSSR) as an ``evaluate`` metric.

The logic lives in the ``videossr`` package (``videossr.evaluation.scoring.task_metrics``, which asks the
task itself); this module only declares the inputs.
"""

import evaluate

from videossr.evaluation import scoring
from videossr.evaluation.metric_space import metric_info

_DESCRIPTION = """\
Anomaly Grounding (VideoSSR task A): the model names the interval, in seconds, of the stretch of a
video that was perturbed (e.g. mirrored, colour channels swapped, frames shuffled). Each reply is parsed
as `start-end` and scored by its temporal IoU with the true interval; the metric reports the mean IoU
(the VIUBench grounding score) and the fraction of replies with IoU at least 0.3, 0.5 and 0.7.
Replies the parser cannot read score 0 and stay in the denominator.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): the model's replies.
    references (`list` of `str`): ground truths in the task format (`14.5-26.2`).
    mode (`str`, defaults to `"strict"`): reply parser; `"strict"` is the paper's, `"lenient"` also
        reads answers in natural phrasing, `<answer>` tags or `\\boxed{}`.
Returns:
    `miou`, `recall@0.3`, `recall@0.5`, `recall@0.7` (fractions in [0, 1]), `unparsed` (number of
        unreadable replies) and `count`.
Examples:
    >>> metric = evaluate.load("hub/metrics/anomaly_grounding")
    >>> out = metric.compute(predictions=["10.0-20.0", "no idea"], references=["10.0-20.0", "5.0-9.0"])
    >>> out["miou"], out["recall@0.5"], out["unparsed"]
    (0.5, 0.5, 1)
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class AnomalyGrounding(evaluate.Metric):
    def _info(self):
        return metric_info(_DESCRIPTION, _KWARGS_DESCRIPTION)

    def _compute(self, predictions, references, mode="strict"):
        return scoring.task_metrics("anomaly_grounding", predictions, references, mode=mode)
