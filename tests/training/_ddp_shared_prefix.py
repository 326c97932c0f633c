"""Worker of ``test_shared_prefix.py::test_ddp_two_cpu_processes`` (run with ``torch.distributed.run``).

Each rank trains the tiny Qwen3-VL for a few GRPO steps twice, with the shared-prefix passes on and off, and
writes its losses and a checksum of its final weights to ``<out>/rank<k>.json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # test_trl_video, and the shared helpers in tests/

from test_trl_video import make_trainer, mixed_rows  # noqa: E402


def main(model_dir: str, out: str) -> None:
    torch.set_num_threads(1)
    rank = int(os.environ.get("RANK", "0"))
    result = {}
    for shared in (True, False):
        rows = mixed_rows(4)
        trainer = make_trainer(
            model_dir,
            rows,
            Path(out) / f"run-{shared}-{rank}",
            shared_prefix=shared,
            max_steps=3,
            per_device_train_batch_size=4,
            beta=0.05,
            learning_rate=1e-2,
        )
        assert trainer.accelerator.num_processes == 2, trainer.accelerator.num_processes
        trainer.train()
        weights = torch.cat([p.detach().flatten() for p in trainer.model.parameters()])
        result[str(shared)] = {
            "loss": [h["loss"] for h in trainer.state.log_history if "loss" in h],
            "checksum": float(weights.double().sum()),
            "abs_checksum": float(weights.double().abs().sum()),
            "stats": dict(trainer.shared_prefix_stats),
        }
    Path(out, f"rank{rank}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
