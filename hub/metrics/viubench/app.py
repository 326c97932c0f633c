"""A small Space for the VIUBench metric: paste replies and ground truths, get the scores.

Runs with gradio 6 (``python app.py``); the metric itself is ``viubench.py`` next to this file.
"""

from pathlib import Path

import evaluate
import gradio as gr

HERE = Path(__file__).resolve().parent
metric = evaluate.load(str(HERE))
COLUMNS = list(metric.features)  # predictions, references (, subtypes)
EXAMPLE = ["3,1,4", "3,1,4", "counting_easy"]


def compute(table, mode: str = "strict") -> dict:
    """Score the rows of the table (empty rows are skipped)."""
    rows = table.values.tolist() if hasattr(table, "values") else list(table or [])
    rows = [r for r in rows if any(str(c).strip() for c in r)]
    columns = {name: [str(r[i]).strip() for r in rows] for i, name in enumerate(COLUMNS)}
    return metric.compute(**columns, mode=mode)


with gr.Blocks(title="VIUBench") as demo:
    gr.Markdown("# VIUBench\n" + metric.info.description)
    table = gr.Dataframe(
        headers=COLUMNS,
        column_count=len(COLUMNS),
        datatype=["str"] * len(COLUMNS),
        value=[EXAMPLE],
        label="one item per row",
    )
    mode = gr.Radio(["strict", "lenient"], value="strict", label="reply parser")
    output = gr.JSON(label="scores")
    gr.Button("Score").click(compute, [table, mode], output)

if __name__ == "__main__":
    demo.launch()
