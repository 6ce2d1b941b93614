"""Speed helpers: the same computation, laid out or split so that it runs faster on this hardware.

Each helper has a plain fallback and is opted into by the code that wants it; none is part of an
interface a plugin author reads or subclasses. ``ChannelsLast`` runs a stack of 1-D layers on
channels-last memory; ``in_blocks`` splits a CPU batch into cache-sized blocks of clips;
``fused_optimizer`` makes the trainer's optimizers step with torch's fused kernels;
``one_thread`` runs a small dense linear-algebra call on one CPU thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import ParamSpec, TypeVar

import torch
import torch.nn.functional as F

Layer = Callable[[torch.Tensor], torch.Tensor]
P = ParamSpec("P")
R = TypeVar("R")

BLOCK_SAMPLES = 1 << 16
"""Samples (per thread) a CPU block of clips holds, at least one clip: a half clip and a bit,
whose frames and spectra (0.7 MB each at n_fft 512) stay in cache through every step of a
transform. A whole batch at once is several times slower on CPU; twice this block was 5–15 %
slower (docs/performance.md); on a GPU the whole batch is one block."""


def in_blocks(fn: Layer, x: torch.Tensor, out_shape: Sequence[int], samples: int) -> torch.Tensor:
    """``fn(x)``, of shape ``out_shape``, computed on blocks of rows of ``x`` (:func:`each_block`;
    ``samples``: the audio samples of a row, in or out).

    The output is allocated before any block's temporaries, so each call allocates in the same order.
    """
    if exporting():  # an exported file takes any batch: one block, as on a GPU
        return fn(x)
    out = x.new_empty(tuple(out_shape))
    start = 0
    for y in each_block(fn, x, samples):
        out[start : start + len(y)] = y
        start += len(y)
    return out


def exporting() -> bool:
    """Whether a model is being traced or exported: the plain fallbacks then, which any runtime runs."""
    return torch.jit.is_tracing() or torch.compiler.is_exporting()


def each_block(fn: Layer, x: torch.Tensor, samples: int) -> Iterator[torch.Tensor]:
    """``fn`` of each block of rows of ``x`` in order: on CPU as many clips of ``samples`` samples as
    fill :data:`BLOCK_SAMPLES` per thread (at least one); elsewhere the whole batch at once."""
    size = len(x)
    if x.device.type == "cpu":
        size = max(1, BLOCK_SAMPLES * torch.get_num_threads() // max(1, samples))
    for start in range(0, len(x), size):
        yield fn(x[start : start + size])


def fused_optimizer(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """``optimizer`` itself, now stepping with torch's fused kernel wherever it has one (Adam, AdamW,
    SGD, Adagrad on CPU and CUDA): one pass over each parameter's memory instead of one per operation,
    2–3× faster on CPU (docs/performance.md). The same update up to float rounding (1e-7 relative).

    A param group that chose ``foreach`` or ``fused`` itself, or is ``differentiable``, is left as
    it is, and so is one with a parameter the kernels do not take (not floating point, another
    device). The choice is made again after ``load_state_dict``, whose saved groups carry the flag
    they were saved with, so a resumed run steps as fast as a new one.
    """
    if "fused" not in optimizer.defaults:  # a class without fused kernels
        return optimizer

    def choose(opt: torch.optim.Optimizer) -> None:
        for group in opt.param_groups:
            if group.get("fused") is None and not group.get("foreach") and not group.get("differentiable") \
                    and all(_takes_fused(p) for p in group["params"]):
                group["fused"] = True
                for p in group["params"]:  # a fused step counts on the parameter's device
                    if torch.is_tensor(step := opt.state.get(p, {}).get("step")):
                        opt.state[p]["step"] = step.to(p.device, torch.float32)

    choose(optimizer)
    optimizer.register_load_state_dict_post_hook(choose)
    return optimizer


def _takes_fused(p: torch.Tensor) -> bool:
    return p.is_floating_point() and not p.is_sparse and p.device.type in ("cpu", "cuda")


def one_thread(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(*args, **kwargs)`` with torch on one CPU thread, its thread count restored after: for a small
    dense linear-algebra call (the mel basis' pseudo-inverse, an SVD of 181 × 3901 at 48 kHz) whose
    LAPACK threads spin waiting for a partner the scheduler has parked when another process is busy
    (docs/performance.md, "Threads": 0.19 s against 0.044 s on one thread beside one busy process,
    0.027 s against 0.042 s idle). The same result: only the scheduling changes.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn(*args, **kwargs)
    finally:
        torch.set_num_threads(threads)


ELEMENTWISE = (torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.ELU, torch.nn.GELU, torch.nn.Tanh, torch.nn.Sigmoid)
"""Activations that compute the same on any shape and memory layout (Dropout is left out: its
random mask must be drawn as the plain module draws it)."""


class ChannelsLast(torch.nn.Sequential):
    """A ``Sequential`` of 1-D layers on ``[B, C, L]`` that runs the ones it knows as 2-D layers on
    channels-last ``[B, C, 1, L]`` memory, and any other by its own ``forward``.

    Same modules, same weights, same function (state dicts are a ``Sequential``'s): only the
    memory layout changes. oneDNN's channels-last convolutions skip the reorders it wraps around
    channels-first ones, and channels-last pooling and upsampling are faster on CPU (the
    ``vae_convpool`` waveform training step about 1.15×, docs/performance.md). Known: exactly
    ``Conv1d`` (zero padding), ``ConvTranspose1d``, ``MaxPool1d``, ``AvgPool1d``, ``Upsample``
    by a scale factor (nearest, linear), the activations in :data:`ELEMENTWISE`, and plain
    ``Sequential``\\ s of them. Anything else — a residual block, ``BatchNorm1d``, ``Dropout``, a
    subclass with its own ``forward``, a layer with hooks — runs as it would in a ``Sequential``,
    hooks included; a stack of only such layers is a plain ``Sequential``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if exporting():  # an exported file holds the plain layers
            return super().forward(x)
        return run_channels_last(self, x)


def run_channels_last(layers: Iterable[torch.nn.Module], x: torch.Tensor) -> torch.Tensor:
    """``layers`` applied in order to ``[B, C, L]``, each known one on channels-last ``[B, C, 1, L]``."""
    wide = None  # x as [B, C, 1, L] channels-last while known layers run
    for layer in _leaves(layers):
        two_d = _two_d(layer)
        if two_d is None:
            if wide is not None:
                x, wide = _FromChannelsLast.apply(wide), None
            x = layer(x)
        else:
            if wide is None:
                wide = _ToChannelsLast.apply(x)
            wide = two_d(wide)
    return x if wide is None else _FromChannelsLast.apply(wide)


class _ToChannelsLast(torch.autograd.Function):
    """``[B, C, L]`` → channels-last ``[B, C, 1, L]``, and the gradient back to a contiguous
    ``[B, C, L]`` in one copy. Left to the layers on either side, the mismatched layouts cost
    more: 4–10 % of a ``vae_convpool`` encoder's or decoder's forward and backward (docs/performance.md)."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(2).contiguous(memory_format=torch.channels_last)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        return grad.squeeze(2).contiguous()


class _FromChannelsLast(torch.autograd.Function):
    """Channels-last ``[B, C, 1, L]`` → contiguous ``[B, C, L]``, the gradient back to channels-last."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, wide: torch.Tensor) -> torch.Tensor:
        return wide.squeeze(2).contiguous()

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        return grad.unsqueeze(2).contiguous(memory_format=torch.channels_last)


def _leaves(layers: Iterable[torch.nn.Module]) -> Iterator[torch.nn.Module]:
    """The layers in order, plain ``Sequential``\\ s (no hooks, no forward of their own) opened up."""
    for layer in layers:
        if type(layer) in (torch.nn.Sequential, ChannelsLast) and not _hooked(layer):
            yield from _leaves(layer)
        else:
            yield layer


def _hooked(module: torch.nn.Module) -> bool:
    """Whether hooks are registered on ``module``: then it must run through its own call."""
    return bool(module._forward_hooks or module._forward_pre_hooks or module._backward_hooks
                or module._backward_pre_hooks)


def _two_d(layer: torch.nn.Module) -> Layer | None:
    """``layer`` as a function of ``[B, C, 1, L]`` (the height of 1 untouched), or None where it has none."""
    kind = type(layer)
    if _hooked(layer):
        return None
    if kind in ELEMENTWISE:
        return layer
    if kind in (torch.nn.Conv1d, torch.nn.ConvTranspose1d) and layer.padding_mode == "zeros":
        # A channels-last weight makes oneDNN keep the layout even where C = 1 leaves the input ambiguous.
        weight = layer.weight.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        common = {"bias": layer.bias, "stride": _pair(layer.stride, 1), "padding": _pair(layer.padding, 0),
                  "dilation": _pair(layer.dilation, 1), "groups": layer.groups}
        if kind is torch.nn.Conv1d:
            return partial(F.conv2d, weight=weight, **common)
        return partial(F.conv_transpose2d, weight=weight, output_padding=_pair(layer.output_padding, 0), **common)
    if kind is torch.nn.MaxPool1d and not layer.return_indices:
        return partial(F.max_pool2d, kernel_size=_pair(layer.kernel_size, 1), stride=_pair(layer.stride, 1),
                       padding=_pair(layer.padding, 0), dilation=_pair(layer.dilation, 1), ceil_mode=layer.ceil_mode)
    if kind is torch.nn.AvgPool1d:
        return partial(F.avg_pool2d, kernel_size=_pair(layer.kernel_size, 1), stride=_pair(layer.stride, 1),
                       padding=_pair(layer.padding, 0), ceil_mode=layer.ceil_mode,
                       count_include_pad=layer.count_include_pad)
    if kind is torch.nn.Upsample and layer.scale_factor and layer.mode in ("nearest", "linear"):
        factor = layer.scale_factor[0] if isinstance(layer.scale_factor, tuple) else layer.scale_factor
        mode = "bilinear" if layer.mode == "linear" else "nearest"  # bilinear over a height of 1 is linear
        return partial(F.interpolate, scale_factor=(1.0, float(factor)), mode=mode, align_corners=layer.align_corners)
    return None


def _pair(value: int | tuple[int, ...] | str, height: int) -> tuple[int, int] | str:
    """A 1-D layer's setting as the 2-D ``(height, width)`` one (``"same"``/``"valid"`` padding as it is)."""
    if isinstance(value, str):
        return value
    return height, value[0] if isinstance(value, tuple) else value
