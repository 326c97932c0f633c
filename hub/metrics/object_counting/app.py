"""The Object Counting metric Space: paste replies and ground truths, get the scores
(gradio 6, ``python app.py``).

The metric is ``object_counting.py`` next to this file; the app is shared by the metric Spaces.
"""

from pathlib import Path

from videossr.evaluation.metric_space import build_metric_app

demo, compute = build_metric_app(Path(__file__).parent, "Object Counting", ["3,1,5", "3,1,4"])

if __name__ == "__main__":
    demo.launch()
