"""The Anomaly Grounding metric Space: paste replies and ground truths, get the scores
(gradio 6, ``python app.py``).

The metric is ``anomaly_grounding.py`` next to this file; the app is shared by the metric Spaces.
"""

from pathlib import Path

from videossr.evaluation.metric_space import build_metric_app

demo, compute = build_metric_app(Path(__file__).parent, "Anomaly Grounding", ["10.0-20.0", "12.0-20.0"])

if __name__ == "__main__":
    demo.launch()
