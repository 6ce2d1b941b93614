"""Memory: what a computation needs at its peak, and what this machine has free.

:class:`Footprint` counts the bytes of every tensor a computation holds at once, on any device,
by watching each operation's outputs (a ``TorchDispatchMode``) until they are freed. Scaled dot
product attention is one operation whose math path keeps its ``[batch, heads, L, S]`` scores
inside it, out of sight of the outputs; where torch would take that path, the footprint adds the
scores it holds. With it, a probe at a few short lengths says how a model's memory grows with
length (linearly, or with the square for attention over every frame) without ever needing that
memory.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

ATTENTION_COPIES = 2.3
"""Score matrices (fp32 scores and their softmax, and a bit) the math path of attention holds at
once, measured as peak RSS over ``batch × heads × L × S × 4`` bytes at L = 8000 (2208 MiB / 977 MiB)."""
MATH = 0
"""``torch._fused_sdp_choice``'s answer for the math path (``SDPBackend.MATH``)."""


class Footprint(TorchDispatchMode):
    """``with Footprint() as f: ...`` → what the block's tensors cost (tensors made before it do not count).

    ``peak``: the most tensor bytes held at once; ``work``: the bytes of every new tensor, a
    measure of cost that grows with time. Attention's hidden scores are apart, as they grow with
    the square of the length: ``scores``, the most one call held; ``score_work``, all calls' together.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live = self.peak = self.work = self.scores = self.score_work = 0
        self._held: dict[int, int] = {}

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        scores = _attention_scores(func, args)
        self.scores = max(self.scores, scores)
        self.score_work += scores
        out = func(*args, **kwargs)
        for tensor in tree_flatten(out)[0]:
            if isinstance(tensor, torch.Tensor):
                self._hold(tensor.untyped_storage())
        return out

    def _hold(self, storage: torch.UntypedStorage) -> None:
        key, size = storage.data_ptr(), storage.nbytes()
        if size == 0 or key in self._held:  # a view, or an in-place result, of a tensor already counted
            return
        self.work += size
        self._held[key] = size
        self.live += size
        self.peak = max(self.peak, self.live)
        weakref.finalize(storage, self._release, key)

    def _release(self, key: int) -> None:
        self.live -= self._held.pop(key, 0)


def _attention_scores(func: Any, args: tuple) -> int:
    """Bytes of the score matrices attention's math path holds inside the call; 0 for any other
    operation, or where torch picks a fused kernel that works in blocks."""
    if "scaled_dot_product_attention" not in str(func) or len(args) < 3:
        return 0
    query, key = args[0], args[1]
    try:
        if torch._fused_sdp_choice(*args[:3]) != MATH:
            return 0
    except (RuntimeError, AttributeError, TypeError):  # no answer from this torch: assume the math path
        pass
    return int(ATTENTION_COPIES * query.shape[:-1].numel() * key.shape[-2] * 4)


def free_bytes(device: torch.device) -> int | None:
    """Memory a computation on ``device`` may still take: CUDA's free memory and what torch holds
    unused, or the system's ``MemAvailable``; None where it cannot be told."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    if device.type != "cpu":
        return None
    limit = os.environ.get("AUDIOZOO_MEMORY_LIMIT")  # tests and shared machines: a smaller share
    if limit:
        return int(float(limit))
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def human(size: float) -> str:
    """``1.2 GB``, ``350 MB``: a byte count as a person reads it."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000:
            return f"{size:.3g} {unit}"
        size /= 1000
    return f"{size:.3g} TB"
