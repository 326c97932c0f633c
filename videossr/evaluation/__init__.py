"""VIUBench evaluation: load a benchmark, run a model backend, score, and report Table 1.

Example:
    >>> from videossr.evaluation import run_bench
    >>> results = run_bench(  # doctest: +SKIP
    ...     "demo_out/data/viubench", "random", out_dir="outputs/bench/random"
    ... )
    >>> results["scores"]["overall"]  # doctest: +SKIP
    16.3

Heavy dependencies (torch, transformers, datasets, matplotlib) are imported only where used.
"""

from videossr.evaluation.backends import (
    Backend,
    BackendError,
    HeuristicBackend,
    HFBackend,
    OpenAIBackend,
    Prediction,
    RandomBackend,
    load_backend,
)
from videossr.evaluation.baselines import heuristic_answer, random_guess
from videossr.evaluation.data import (
    BenchItem,
    Benchmark,
    BenchmarkError,
    infer_subtype,
    load_benchmark,
    verl_row_to_row,
)
from videossr.evaluation.harness import BenchError, read_predictions, run_bench
from videossr.evaluation.report import compare_markdown, load_results, plot_results, table1_markdown

__all__ = [
    "Backend",
    "BackendError",
    "BenchError",
    "BenchItem",
    "Benchmark",
    "BenchmarkError",
    "HFBackend",
    "HeuristicBackend",
    "OpenAIBackend",
    "Prediction",
    "RandomBackend",
    "compare_markdown",
    "heuristic_answer",
    "infer_subtype",
    "load_backend",
    "load_benchmark",
    "load_results",
    "plot_results",
    "random_guess",
    "read_predictions",
    "run_bench",
    "table1_markdown",
    "verl_row_to_row",
]
