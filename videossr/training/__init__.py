"""The library side of the GRPO recipe (``recipes/grpo.py`` only wires these together),
one concern per module:

- :mod:`~videossr.training.configs`: the recipe's options (:class:`GRPOScriptArguments`, a
  ``trl.ScriptArguments``);
- :mod:`~videossr.training.data`: the training rows (a built dataset, or rows generated online) and the
  adaptive-difficulty controller;
- :mod:`~videossr.training.models`: the policy and its processor (``tiny:<arch>`` names too);
- :mod:`~videossr.training.callbacks`: the in-training VIUBench score (:class:`VIUBenchCallback`);
- :mod:`~videossr.training.plots`: the reward and curriculum curves;
- :mod:`~videossr.training.hub`: the run's outputs (model card, recipe summary, Hub push).

They live in the library, not in the recipe script, so the demo, the tests and other scripts share them;
every name is importable from ``videossr.training``. Heavy imports (datasets, matplotlib, huggingface_hub)
stay inside the functions; the package needs the ``train`` extra (trl, transformers).
"""

from videossr.training.callbacks import (
    VIUBenchCallback,
    _load_rows,  # noqa: F401 (private; the tests import it from here)
    answer_rows,
    score_rows,
    viubench_callbacks,
    viubench_subset,
)
from videossr.training.configs import GRPOScriptArguments
from videossr.training.data import (
    _question_rows,  # noqa: F401 (private; importable from here as before)
    curriculum_hooks,
    load_train_data,
    make_curriculum,
    online_rows,
)
from videossr.training.hub import (
    PUSH_IGNORE,
    SUMMARY_KEYS,
    files_to_push,
    push_checkpoint,
    recipe_summary,
    write_model_card,
    write_run_outputs,
)
from videossr.training.models import TINY_PREFIX, load_model, load_processor, resolve_model_path
from videossr.training.plots import curriculum_history, plot_reward_curve, reward_history, save_figure

__all__ = [
    "GRPOScriptArguments",
    "PUSH_IGNORE",
    "SUMMARY_KEYS",
    "TINY_PREFIX",
    "VIUBenchCallback",
    "answer_rows",
    "curriculum_history",
    "curriculum_hooks",
    "files_to_push",
    "load_model",
    "load_processor",
    "load_train_data",
    "make_curriculum",
    "online_rows",
    "plot_reward_curve",
    "push_checkpoint",
    "recipe_summary",
    "resolve_model_path",
    "reward_history",
    "save_figure",
    "score_rows",
    "viubench_callbacks",
    "viubench_subset",
    "write_model_card",
    "write_run_outputs",
]
