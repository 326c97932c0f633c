"""videossr: verifiable reinforcement-learning data from raw videos (VideoSSR).

Example:
    >>> import videossr
    >>> clip = videossr.load_clip("video.mp4", max_pixels=256 * 256)  # doctest: +SKIP
    >>> task = videossr.get_task("anomaly_grounding", perturbation="mirror")
    >>> sample = task.generate(clip, seed=0)  # doctest: +SKIP
    >>> task.reward(sample.answer, sample.answer)  # doctest: +SKIP
    1.0
"""

__version__ = "0.2.0"

from videossr.errors import VideoError, VideoSSRError
from videossr.tasks import (
    PERTURBATIONS,
    TASKS,
    TRAINING_PERTURBATIONS,
    AnomalyGrounding,
    ObjectCounting,
    Task,
    TemporalJigsaw,
    get_task,
    task_for_subtype,
)
from videossr.types import Clip, Sample
from videossr.video import load_clip, sample_videos

__all__ = [
    "__version__",
    "Clip",
    "Sample",
    "Task",
    "TASKS",
    "PERTURBATIONS",
    "TRAINING_PERTURBATIONS",
    "AnomalyGrounding",
    "ObjectCounting",
    "TemporalJigsaw",
    "VideoError",
    "VideoSSRError",
    "get_task",
    "task_for_subtype",
    "load_clip",
    "sample_videos",
]
