"""Several processes (``torchrun``): one process group, each rank a shard of every global batch.

Gradients are averaged by the trainer's update (:func:`average_gradients`, called from
:mod:`audiozoo.train.update`) — the all-reduce that ``DistributedDataParallel`` performs —
rather than by wrapping the model in DDP, because a GAN's alternating generator/discriminator
updates do not fit DDP's one-forward-one-backward contract. Only rank 0 writes files.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: torch.device) -> torch.device:
    """Join the process group (NCCL on CUDA, gloo on CPU); returns this rank's device."""
    if not launched_by_torchrun() or dist.is_initialized():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def shard(index: torch.Tensor) -> torch.Tensor:
    """This rank's part of a global batch of indices."""
    return index[rank() :: world_size()]


def mean_across_ranks(values: dict[str, float]) -> dict[str, float]:
    """Losses averaged over ranks, so the logged curve is the global batch's."""
    if world_size() == 1:
        return values
    tensor = torch.tensor(list(values.values()), dtype=torch.float64)
    dist.all_reduce(tensor)
    return dict(zip(values, (tensor / world_size()).tolist()))


def average_gradients(params: list[torch.Tensor]) -> None:
    """Each gradient averaged over ranks, in place (nothing to do in one process)."""
    if world_size() == 1:
        return
    for p in params:
        dist.all_reduce(p.grad)
        p.grad.div_(world_size())


def broadcast(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (e.g. the run directory it chose)."""
    if world_size() == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
