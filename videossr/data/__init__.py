"""Hub datasets from videos: the VIUBench / VideoSSR-30K builders, publishing, and online generation.

Example:
    >>> from videossr.data import build_dataset, viubench_recipe
    >>> build_dataset(viubench_recipe(per_subtype=4), "default", "out/viubench")  # doctest: +SKIP
    >>> from datasets import load_dataset
    >>> load_dataset("out/viubench", "jigsaw_hard", split="test")  # doctest: +SKIP
"""

from videossr.data.build import (
    BuildError,
    BuildResult,
    build_dataset,
    merge,
    regenerate_row,
    videossr30k_recipe,
    viubench_recipe,
)
from videossr.data.features import row_features
from videossr.data.plan import DEFAULT_MIX, VIUBENCH_SUBTYPES, Recipe, parse_mix
from videossr.data.sources import VideoSource, resolve_videos
from videossr.data.streaming import stream_dataset

__all__ = [
    "BuildError",
    "BuildResult",
    "DEFAULT_MIX",
    "Recipe",
    "VIUBENCH_SUBTYPES",
    "VideoSource",
    "build_dataset",
    "merge",
    "parse_mix",
    "regenerate_row",
    "resolve_videos",
    "row_features",
    "stream_dataset",
    "videossr30k_recipe",
    "viubench_recipe",
]
