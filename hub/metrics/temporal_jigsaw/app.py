"""The Temporal Jigsaw metric Space: paste replies and ground truths, get the scores
(gradio 6, ``python app.py``).

The metric is ``temporal_jigsaw.py`` next to this file; the app is shared by the metric Spaces.
"""

from pathlib import Path

from videossr.evaluation.metric_space import build_metric_app

demo, compute = build_metric_app(Path(__file__).parent, "Temporal Jigsaw", ["3124", "3124"])

if __name__ == "__main__":
    demo.launch()
