"""The VIUBench metric Space: paste replies and ground truths, get the scores (gradio 6, ``python app.py``).

The metric is ``viubench.py`` next to this file; the app is shared by the metric Spaces.
"""

from pathlib import Path

from videossr.evaluation.metric_space import build_metric_app

demo, compute = build_metric_app(Path(__file__).parent, "VIUBench", ["3,1,4", "3,1,4", "counting_easy"])

if __name__ == "__main__":
    demo.launch()
