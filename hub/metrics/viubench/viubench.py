"""VIUBench: the benchmark score of VideoSSR (Table 1), as an ``evaluate`` metric.

The logic lives in the ``videossr`` package (``videossr.evaluation.scoring.viubench``, built on
``videossr.metrics``); this module only declares the inputs.
"""

import evaluate

from videossr.evaluation import scoring
from videossr.evaluation.metric_space import metric_info

_DESCRIPTION = """\
VIUBench scores a model's replies on the three VideoSSR pretext tasks, split into 9 subtypes:
counting_easy, counting_hard, grounding_channel_swap, grounding_rotate180, grounding_zoom_out,
grounding_mirror, grounding_shuffle, jigsaw_easy and jigsaw_hard. Grounding is scored by mean temporal
IoU, counting by per-shape exact match averaged over circles, squares and triangles, jigsaw by exact
sequence match. Task averages are means over their subtypes and Overall is the plain mean of the
subtype scores. Replies the parser cannot read score 0 and stay in the denominator.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): the model's replies.
    references (`list` of `str`): ground truths in the task formats (`14.5-26.2`, `3,1,4`, `3124`).
    subtypes (`list` of `str`): the VIUBench subtype of each item, e.g. `grounding_mirror`.
    mode (`str`, defaults to `"strict"`): reply parser; `"strict"` is the paper's, `"lenient"` also
        reads answers in natural phrasing, `<answer>` tags or `\\boxed{}`.
Returns:
    One percentage (one decimal) per subtype present, `counting`, `grounding`, `jigsaw` (task
    averages), `overall` (mean of the subtype scores), `counts` (items per subtype) and `missing`
    (Table 1 subtypes without items, left out of the averages).
Examples:
    >>> viubench = evaluate.load("hub/metrics/viubench")
    >>> out = viubench.compute(predictions=["3,1,4", "1.0-2.0"], references=["3,1,4", "1.0-3.0"],
    ...                        subtypes=["counting_easy", "grounding_mirror"])
    >>> out["counting_easy"], out["grounding_mirror"], out["overall"]
    (100.0, 50.0, 75.0)
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Viubench(evaluate.Metric):
    def _info(self):
        return metric_info(
            _DESCRIPTION, _KWARGS_DESCRIPTION, columns=("predictions", "references", "subtypes")
        )

    def _compute(self, predictions, references, subtypes, mode="strict"):
        return scoring.viubench(predictions, references, subtypes, mode=mode)
