"""Helpers of the tests that run ``recipes/grpo.py``: import it as a module; a tiny CPU run's arguments."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
TINY_CONFIG = RECIPES / "tiny" / "grpo" / "config_cpu.yaml"


def load_recipe(name: str = "videossr_recipe_grpo") -> ModuleType:
    """``recipes/grpo.py`` as a module (the recipes are scripts, not a package the library imports)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, RECIPES / "grpo.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def tiny_run_args(
    tmp_path: Path,
    *extra: str,
    steps: int = 2,
    batch: int = 4,
    generations: int = 2,
    output_dir: Path | None = None,
) -> list[str]:
    """The command line of a short run of the tiny CPU config: the tiny model built under ``tmp_path``."""
    return [
        "--config",
        str(TINY_CONFIG),
        "--output_dir",
        str(output_dir or tmp_path / "run"),
        "--tiny_model_dir",
        str(tmp_path / "tiny"),
        "--max_steps",
        str(steps),
        "--per_device_train_batch_size",
        str(batch),
        "--num_generations",
        str(generations),
        *extra,
    ]
