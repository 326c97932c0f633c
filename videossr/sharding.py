"""Sharded training (FSDP2, DeepSpeed ZeRO-3) for the video GRPO trainer: what accelerate, transformers and
TRL leave out when the sharded model generates videos, or when the ranks are CPU processes (docs/sharding.md).

- :func:`fsdp_on_cpu_processes`: accelerate 1.16 builds its state as plain ``MULTI_CPU`` (DDP) on CPU
  processes and drops the FSDP or DeepSpeed plugin the launcher asked for; while the Trainer builds its
  ``Accelerator``, this turns such a state into ``FSDP`` (or ``DEEPSPEED``) with that plugin, so
  ``fully_shard`` (or ZeRO-3, through DeepSpeed's CPU accelerator) runs on gloo ranks.
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


def _deepspeed_requested() -> bool:
    return os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true"


@contextlib.contextmanager
def fsdp_on_cpu_processes() -> Iterator[None]:
    """Within the block, an ``AcceleratorState`` built on CPU processes with an FSDP plugin becomes FSDP.

    accelerate's state sets ``distributed_type = FSDP`` only for accelerator devices (its ``MULTI_GPU``,
    ``MULTI_XPU``... branch); on CPU ranks the plugin is silently dropped and the model is wrapped in DDP.
    PyTorch's FSDP2 (``fully_shard``) itself works on CPU tensors over gloo, and so does accelerate's FSDP2
    preparation (sharding, full-state-dict broadcast, saving), so the only missing piece is the state. Outside
    that case (GPUs, no FSDP asked) this does nothing.

    The same holds for DeepSpeed (``accelerate launch`` with a ``DEEPSPEED`` config, e.g.
    ``recipes/accelerate_configs/zero3_cpu.yaml``, and ``DS_ACCELERATOR=cpu``): accelerate starts DeepSpeed's
    communication and sets ``DEEPSPEED`` only on accelerator devices. Here DeepSpeed's communication is
    started on the gloo group accelerate already built, and the state becomes ``DEEPSPEED`` with the plugin,
    so the Trainer prepares a ZeRO engine. Checked with deepspeed 0.19.8's CPU accelerator (docs/sharding.md).
    """
    if not (_fsdp_requested() or _deepspeed_requested()):
        yield
        return
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedType

    original = AcceleratorState.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if self.distributed_type != DistributedType.MULTI_CPU:
            return
        fsdp, deepspeed_plugin = kwargs.get("fsdp_plugin"), kwargs.get("deepspeed_plugin")
        if fsdp is not None and _fsdp_requested() and getattr(self, "fsdp_plugin", None) is None:
            if self._mixed_precision != "no":
                fsdp.set_mixed_precision(self._mixed_precision)
            self.fsdp_plugin = fsdp
            self.distributed_type = DistributedType.FSDP
            PartialState._shared_state["distributed_type"] = DistributedType.FSDP
        elif deepspeed_plugin is not None and _deepspeed_requested() and not self.deepspeed_plugins:
            _deepspeed_state(self, deepspeed_plugin)

    AcceleratorState.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        AcceleratorState.__init__ = original  # type: ignore[method-assign]


def _deepspeed_state(state: Any, plugin: Any) -> None:
    """What accelerate's ``PartialState`` and ``AcceleratorState`` do for DeepSpeed on accelerator devices."""
    import deepspeed
    from accelerate.state import PartialState
    from accelerate.utils import DistributedType

    if not deepspeed.comm.is_initialized():
        deepspeed.comm.init_distributed(dist_backend="gloo", auto_mpi_discovery=False)
    plugins = plugin if isinstance(plugin, dict) else {"default": plugin}
    for one in plugins.values():
        one.set_mixed_precision(state._mixed_precision)
    next(iter(plugins.values())).select(_from_accelerator_state=True)
    state.deepspeed_plugins = plugin
    state._mixed_precision = "no"  # DeepSpeed handles precision through its own config, as accelerate does
    state.distributed_type = DistributedType.DEEPSPEED
    PartialState._shared_state["distributed_type"] = DistributedType.DEEPSPEED


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


def _zero3_range(param: Any) -> tuple[int, int]:
    """``(start, length)`` of this rank's ZeRO-3 partition in the flattened parameter (padding left out)."""
    size = param.ds_tensor.ds_numel
    start = size * torch.distributed.get_rank(group=getattr(param, "ds_process_group", None))
    return start, max(0, min(size, param.ds_numel - start))


def local_shards(model: torch.nn.Module, prefix: str = "") -> dict[str, torch.Tensor]:
    """This rank's own piece of every parameter whose name contains ``prefix`` (a detached copy).

    FSDP2 parameters are ``DTensor``s: their local tensor is the rank's shard. ZeRO-3 parameters keep the
    rank's partition of the flattened tensor in ``ds_tensor`` (the padding at the end is left out). Plain
    tensors come whole.
    """
    out: dict[str, torch.Tensor] = {}
    for name, param in model.named_parameters():
        if prefix and prefix not in name:
            continue
        if getattr(param, "ds_tensor", None) is not None:
            local = param.ds_tensor[: _zero3_range(param)[1]]
        else:
            local = param.to_local() if hasattr(param, "to_local") else param
        out[name] = local.detach().clone().cpu()
    return out


def initial_local_shards(model: torch.nn.Module, full: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The rank's shards of a full (unsharded) state dict, cut as ``model``'s ``DTensor`` (FSDP2) or ZeRO-3
    parameters are."""
    from torch.distributed.tensor import distribute_tensor

    out: dict[str, torch.Tensor] = {}
    for name, param in model.named_parameters():
        if name not in full:
            continue
        tensor = full[name].to(param.dtype)
        if getattr(param, "ds_tensor", None) is not None:
            start, length = _zero3_range(param)
            tensor = tensor.reshape(-1)[start : start + length]
        elif hasattr(param, "device_mesh"):
            tensor = distribute_tensor(tensor, param.device_mesh, param.placements).to_local()
        out[name] = tensor.detach().cpu()
    return out


def is_partitioned(param: Any) -> bool:
    """Whether a parameter is split over the processes: an FSDP2 ``DTensor`` or a ZeRO-3 partitioned one
    (ZeRO-3 keeps parameters under ``stage3_param_persistence_threshold`` whole on every rank)."""
    if hasattr(param, "to_local"):
        return True
    if getattr(param, "ds_tensor", None) is None:
        return False
    return param.ds_tensor.ds_numel < param.ds_numel and not getattr(param, "ds_persist", False)


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
    "is_partitioned",
    "is_sharded",
    "local_shards",
    "needs_synced_generation",
]
