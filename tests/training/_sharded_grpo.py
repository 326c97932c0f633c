"""Worker of ``tests/training/test_sharded_grpo.py``: ``recipes/grpo.py`` as it is, plus what the checks
need to see.

Run under ``accelerate launch`` (sharded) or plain ``python`` (one process), with the recipe's command line:

    python tests/training/_sharded_grpo.py RESULT.json --config recipes/tiny/grpo/config_tiny_fsdp.yaml ...

What it adds to the recipe, and only that:

- a fourth reward, ``varied`` (a function of the reply's token ids), next to the paper's three: a random tiny
  model scores 0 on all three, every group has zero variance and nothing would train; with it advantages
  are non-zero and the weights (vision tower included) move;
- each rank's own shard of every vision-tower parameter, before (cut from the initial weights) and after
  training: did it change on every rank;
- ``VIDEOSSR_KILL_RANK1_AT_STEP=N``: rank 1 SIGKILLs itself when step N+1 begins (the resume check);
- every rank writes ``RESULT.rank<k>.json``: its logged history and the shard check.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for the shared _recipe_helpers

from _recipe_helpers import load_recipe  # noqa: E402

from videossr.sharding import (  # noqa: E402
    changed_on_every_rank,
    initial_local_shards,
    is_partitioned,
    local_shards,
)


def varied(completions, completion_ids=None, **kwargs):
    """A reward that differs between the rollouts of a random model (read from the token ids)."""
    return [(sum(ids) % 11) / 10 + 0.01 * len(ids) for ids in completion_ids]


class KillRank1(TrainerCallback):
    """SIGKILL rank 1 when the step after ``step`` begins (a crash between two checkpoints)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.step and int(os.environ.get("RANK", "0")) == 1:
            os.kill(os.getpid(), signal.SIGKILL)


def main(result: str, argv: list[str]) -> None:
    torch.set_num_threads(1)
    recipe = load_recipe()
    three = recipe.get_reward_funcs
    recipe.get_reward_funcs = lambda names: [*three(names), varied]
    kill_at = os.environ.get("VIDEOSSR_KILL_RANK1_AT_STEP")
    if kill_at:
        callbacks = recipe.viubench_callbacks
        recipe.viubench_callbacks = lambda *a, **k: [*callbacks(*a, **k), KillRank1(int(kill_at))]
    script, train, model = recipe.make_parser().parse_args_and_config(argv)
    trainer = recipe.main(script, train, model)

    from safetensors.torch import load_file

    initial = load_file(str(Path(model.model_name_or_path) / "model.safetensors"))
    wrapped = trainer.model
    after = local_shards(wrapped, prefix="visual")
    before = initial_local_shards(wrapped, {k: v for k, v in initial.items() if k in after})
    rank = trainer.accelerator.process_index
    out = {
        "rank": rank,
        "world_size": trainer.accelerator.num_processes,
        "distributed_type": str(trainer.accelerator.distributed_type),
        "sharded_params": sum(is_partitioned(p) for p in wrapped.parameters()),
        "params": sum(1 for _ in wrapped.parameters()),
        "vision_params": len(after),
        "vision_changed_every_rank": changed_on_every_rank(before, after),
        "vision_changed_here": sorted(n for n in after if not torch.equal(before[n], after[n])),
        "vision_nonempty": sorted(n for n in after if after[n].numel() > 0),
        "log_history": trainer.state.log_history,
        "shared_prefix_stats": dict(trainer.shared_prefix_stats),
    }
    Path(f"{result}.rank{rank}.json").write_text(json.dumps(out, default=str))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
