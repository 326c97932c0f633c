"""Sharded training (FSDP2, DeepSpeed ZeRO-3) for the video GRPO trainer: what accelerate, transformers and
TRL leave out when the sharded model generates videos, or when the ranks are CPU processes (docs/sharding.md).

- :func:`fsdp_on_cpu_processes`: accelerate 1.16 builds its state as plain ``MULTI_CPU`` (DDP) on CPU
  processes and drops the FSDP plugin the launcher asked for; while the Trainer builds its ``Accelerator``,
  this turns such a state into ``FSDP`` with that plugin, so ``fully_shard`` runs on gloo ranks.
- :func:`needs_synced_generation`: a sharded model gathers its weights inside every forward, so every rank
  must run the same number of decoding steps; transformers only detects this for models it sharded itself.
- :func:`local_shards` / :func:`changed_on_every_rank`: each rank's own slice of the parameters, for the
  check that the vision tower trains on every shard.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import torch


def _fsdp_requested() -> bool:
    return os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"


@contextlib.contextmanager
def fsdp_on_cpu_processes() -> Iterator[None]:
    """Within the block, an ``AcceleratorState`` built on CPU processes with an FSDP plugin becomes FSDP.

    accelerate's state sets ``distributed_type = FSDP`` only for accelerator devices (its ``MULTI_GPU``,
    ``MULTI_XPU``... branch); on CPU ranks the plugin is silently dropped and the model is wrapped in DDP.
    PyTorch's FSDP2 (``fully_shard``) itself works on CPU tensors over gloo, and so does accelerate's FSDP2
    preparation (sharding, full-state-dict broadcast, saving), so the only missing piece is the state. Outside
    that case (GPUs, DeepSpeed, no FSDP asked) this does nothing.
    """
    if not _fsdp_requested():
        yield
        return
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedType

    original = AcceleratorState.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        plugin = kwargs.get("fsdp_plugin")
        if plugin is None or self.distributed_type != DistributedType.MULTI_CPU:
            return
        if getattr(self, "fsdp_plugin", None) is not None:
            return
        if self._mixed_precision != "no":
            plugin.set_mixed_precision(self._mixed_precision)
        self.fsdp_plugin = plugin
        self.distributed_type = DistributedType.FSDP
        PartialState._shared_state["distributed_type"] = DistributedType.FSDP

    AcceleratorState.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        AcceleratorState.__init__ = original  # type: ignore[method-assign]


def is_sharded(accelerator: Any) -> bool:
    """Whether the model's parameters are split over the processes (FSDP, or DeepSpeed ZeRO-3)."""
    from accelerate.utils import DistributedType

    state = accelerator.state
    if state.distributed_type == DistributedType.FSDP:
        return True
    plugin = getattr(state, "deepspeed_plugin", None)
    return plugin is not None and getattr(plugin, "zero_stage", 0) == 3


def needs_synced_generation(accelerator: Any) -> bool:
    """Whether ``generate`` must run with ``synced_gpus=True``: the model is sharded over several processes.

    A sharded forward is a collective (each wrapped unit all-gathers its weights), so a rank whose replies all
    ended early must keep stepping until every rank is done, or the others wait forever. transformers turns
    this on by itself for ZeRO-3 and for models it sharded with its own FSDP helper, not for a model that
    accelerate wrapped with ``fully_shard``.
    """
    return accelerator.num_processes > 1 and is_sharded(accelerator)


def local_shards(model: torch.nn.Module, prefix: str = "") -> dict[str, torch.Tensor]:
    """This rank's own piece of every parameter whose name contains ``prefix`` (a detached copy).

    FSDP2 parameters are ``DTensor``s: their local tensor is the rank's shard. Plain tensors come whole.
    """
    out: dict[str, torch.Tensor] = {}
    for name, param in model.named_parameters():
        if prefix and prefix not in name:
            continue
        local = param.to_local() if hasattr(param, "to_local") else param
        out[name] = local.detach().clone().cpu()
    return out


def initial_local_shards(model: torch.nn.Module, full: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The rank's shards of a full (unsharded) state dict, cut as ``model``'s ``DTensor`` parameters are."""
    from torch.distributed.tensor import distribute_tensor

    out: dict[str, torch.Tensor] = {}
    for name, param in model.named_parameters():
        if name not in full:
            continue
        tensor = full[name].to(param.dtype)
        if hasattr(param, "device_mesh"):
            tensor = distribute_tensor(tensor, param.device_mesh, param.placements).to_local()
        out[name] = tensor.detach().cpu()
    return out


def changed_on_every_rank(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> bool:
    """Whether this rank's shards changed (any element of any non-empty shard), all ranks agreeing.

    Returns True only if every process saw a change in its own shards (an all-reduce of the local answers).
    """
    changed = any(
        b.numel() > 0 and not torch.equal(b, after[name]) for name, b in before.items() if name in after
    )
    flag = torch.tensor([1 if changed else 0], dtype=torch.int64)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MIN)
    return bool(flag.item())


__all__ = [
    "changed_on_every_rank",
    "fsdp_on_cpu_processes",
    "initial_local_shards",
    "is_sharded",
    "local_shards",
    "needs_synced_generation",
]
