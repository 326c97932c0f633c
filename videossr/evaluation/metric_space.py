"""The small Gradio app each ``hub/metrics/<name>/`` Space runs: paste replies and truths, get scores.

One implementation for the four metric Spaces, so their ``app.py`` files only name the metric and an
example row. evaluate's built-in metric widget targets an older gradio API, hence our own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def table_scorer(metric: Any):
    """A function scoring the rows of a ``gr.Dataframe`` (empty rows skipped) with ``metric``."""
    columns_names = list(metric.features)  # predictions, references (, subtypes)

    def compute(table: Any, mode: str = "strict") -> dict:
        rows = table.values.tolist() if hasattr(table, "values") else list(table or [])
        rows = [r for r in rows if any(str(c).strip() for c in r)]
        columns = {name: [str(r[i]).strip() for r in rows] for i, name in enumerate(columns_names)}
        return metric.compute(**columns, mode=mode)

    return compute


def build_metric_app(folder: str | Path, title: str, example: Sequence[str]):
    """Load the ``evaluate`` module in ``folder`` and build its Blocks app.

    Returns ``(demo, compute)``; launching is left to the caller (``demo.launch()``).
    """
    import evaluate
    import gradio as gr

    metric = evaluate.load(str(Path(folder).resolve()))
    compute = table_scorer(metric)
    names = list(metric.features)
    with gr.Blocks(title=title) as demo:
        gr.Markdown(f"# {title}\n" + metric.info.description)
        table = gr.Dataframe(
            headers=names,
            column_count=len(names),
            datatype=["str"] * len(names),
            value=[list(example)],
            label="one item per row",
        )
        mode = gr.Radio(["strict", "lenient"], value="strict", label="reply parser")
        output = gr.JSON(label="scores")
        gr.Button("Score").click(compute, [table, mode], output)
    return demo, compute


CITATION = """\
@inproceedings{he2026videossr,
  title     = {VideoSSR: Video Self-Supervised Reinforcement Learning},
  author    = {He and others},
  booktitle = {CVPR},
  year      = {2026},
  note      = {arXiv:2511.06281}
}
"""


def metric_info(
    description: str, inputs_description: str, columns: Sequence[str] = ("predictions", "references")
):
    """The ``evaluate.MetricInfo`` of a VideoSSR metric module: string columns, the paper's citation."""
    import datasets
    import evaluate

    return evaluate.MetricInfo(
        description=description,
        citation=CITATION,
        inputs_description=inputs_description,
        features=datasets.Features({name: datasets.Value("string") for name in columns}),
        reference_urls=["https://arxiv.org/abs/2511.06281"],
    )
