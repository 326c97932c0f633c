"""Worker of ``test_curriculum.py::test_two_processes_agree`` (run with ``torch.distributed.run``, gloo, CPU).

Each rank scores its own, different rows through the wrapped reward functions, as TRL calls them on every
process; the last wrapper syncs the controller. Each rank writes its controller's state after every batch,
and the rows it scored, to ``<out>/rank<k>.json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch.distributed as dist  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # test_curriculum, and the shared helpers in tests/

from test_curriculum import rank_batch  # noqa: E402

from videossr.curriculum import DifficultyController, wrap_reward_funcs  # noqa: E402
from videossr.rewards import get_reward_funcs  # noqa: E402


def main(out: str) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    controller = DifficultyController(tasks=["counting", "jigsaw"], min_rows=4, step=0.1, num_generations=2)
    funcs = wrap_reward_funcs(get_reward_funcs(["counting", "jigsaw", "format"]), controller)
    states, logged, scored = [], [], []
    for batch in range(6):
        kwargs = rank_batch(rank, batch, controller.levels())
        metrics: dict[str, float] = {}
        for fn in funcs:
            fn(prompts=[None] * len(kwargs["completions"]), log_metric=metrics.__setitem__, **kwargs)
        scored.append(kwargs)
        logged.append(metrics)
        states.append(controller.state_dict())
    Path(out, f"rank{rank}.json").write_text(
        json.dumps({"states": states, "logged": logged, "scored": scored})
    )
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
