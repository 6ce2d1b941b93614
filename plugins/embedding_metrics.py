"""The field's generation metrics: FAD (fadtk) and KAD (kadtk) on VGGish and PANNs Cnn14 embeddings.

Papers report these, so a table can be set beside theirs. The networks need their published
weights, which audiozoo never downloads: ``metric.NAME.weights=PATH`` names the file
(docs/metrics.md says where each is published). Without it a metric is ``n/a``: it returns NaN
and :meth:`EmbeddingMetric.unavailable_reason` says why in one line, so a table shows the cell
and the run goes on. A path that is named but missing, unreadable or not the right checkpoint is
an error that names the file.

None of the four is a ``distance`` in the sense of tests/test_metrics.py: a network that never
heard 3150 Hz audio has not been held to the sentinel test (and cannot be without its weights).
"""

from __future__ import annotations

import functools
import math
import pickle
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from audiozoo_plugins.panns import Cnn14
from audiozoo_plugins.vggish import VGGish
from torch import nn

from audiozoo import AudiozooError, dsp, hookimpl
from audiozoo.distances import check_sets, frechet_frames, kad
from audiozoo.metric import FeatureSetMetric, MetricConfig
from audiozoo.spectra import per_clips

try:  # numpy ≥ 2
    from numpy._core import multiarray
except ImportError:  # pragma: no cover - numpy 1
    from numpy.core import multiarray


def _numpy_globals() -> list:
    """What a checkpoint may hold besides tensors: numpy arrays and scalars (PANNs' files keep their
    training sampler's state beside the weights), under numpy 1's names and numpy 2's. Nothing
    else is unpickled: checkpoints are read with ``weights_only``."""
    dtypes = getattr(np, "dtypes", None)  # numpy ≥ 1.25 pickles a dtype by its class
    return [np.ndarray, np.dtype, *(getattr(dtypes, name) for name in (dtypes.__all__ if dtypes else ())),
            *((fn, f"{module}.multiarray.{fn.__name__}") for fn in (multiarray._reconstruct, multiarray.scalar)
              for module in ("numpy.core", "numpy._core"))]


BAD_KEYS_SHOWN = 3


@dataclass
class EmbeddingConfig(MetricConfig):
    weights: str = ""  # path to the published checkpoint (vggish-10086976.pth or Cnn14_mAP=0.431.pth, see docs/metrics.md); empty: the metric is n/a

    def __post_init__(self) -> None:
        # Checked with the settings, so a bench stops before its first cell rather than fail every one.
        if self.weights and not Path(self.weights).expanduser().is_file():
            raise ValueError(f"weights={self.weights}: no such file")


@dataclass
class KadConfig(EmbeddingConfig):
    bandwidth_from: Literal["reference", "evaluated"] = "reference"  # the kernel's width: median distance of the reference frames, or of the set scored (kadtk's rule)


def read_weights(path: Path, network: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict in ``path`` (bare, or under ``"model"`` as PANNs' files),
    checked key by key against ``network``."""
    if not path.is_file():
        raise AudiozooError(f"{path}: no such file (the weights of {type(network).__name__}, {network.checkpoint})")
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as err:
        unsafe = [line.strip() for line in str(err).splitlines() if "GLOBAL" in line]
        if unsafe:
            raise AudiozooError(f"{path}: holds objects other than tensors and numpy arrays, which audiozoo never "
                                f"unpickles ({unsafe[0]})") from None
        raise AudiozooError(f"{path}: not a readable PyTorch checkpoint ({type(err).__name__})") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise AudiozooError(f"{path}: holds no state dict of tensors (expected {network.checkpoint})")
    expected = network.state_dict()
    problems = {
        "missing": [k for k in expected if k not in state],
        "unexpected": [k for k in state if k not in expected],
        "wrong shape": [f"{k} {tuple(state[k].shape)} (not {tuple(v.shape)})"
                        for k, v in expected.items() if k in state and state[k].shape != v.shape],
    }
    if any(problems.values()):
        listed = "; ".join(f"{what}: {', '.join(keys[:BAD_KEYS_SHOWN])}{' …' if len(keys) > BAD_KEYS_SHOWN else ''}"
                           f" ({len(keys)})" for what, keys in problems.items() if keys)
        raise AudiozooError(f"{path} is not {network.checkpoint} ({type(network).__name__}): {listed}")
    return state


class Embedder:
    """A network with its weights on one device, and the frames of the last few clip sets it embedded."""

    def __init__(self, network: nn.Module) -> None:
        self.network = network
        self.frames = per_clips(self._frames)

    @torch.inference_mode()
    def _frames(self, sample_rate: int, clips: torch.Tensor) -> list[torch.Tensor]:
        """``[N, T]`` at ``sample_rate`` → per clip, its frame embeddings ``[frames, D]`` (float32)."""
        device = next(self.network.parameters()).device
        wave = clips.float()
        # soxr HQ, which made the 3150 Hz clips in the first place (fadtk: torchaudio's Kaiser sinc)
        wave = dsp.resample(wave, sample_rate, self.network.sample_rate)
        return list(self.network(wave.to(device)).float().unbind(0))


@functools.lru_cache(maxsize=2)
def _embedder(network_cls: type[nn.Module], path: Path, stamp: tuple[int, int], device: str) -> Embedder:
    with torch.device("meta"):  # no random initialisation of 80 M weights about to be replaced
        network = network_cls()
    network.load_state_dict(read_weights(path, network), strict=True, assign=True)
    return Embedder(network.float().to(device).eval())


def embedder(network_cls: type[nn.Module], weights: str, device: torch.device) -> Embedder:
    """The network loaded from ``weights`` on ``device``, loaded once while the file stays the same."""
    path = Path(weights).expanduser().resolve()
    stat = path.stat() if path.is_file() else None
    stamp = (stat.st_size, stat.st_mtime_ns) if stat else (0, 0)
    return _embedder(network_cls, path, stamp, str(device))


class EmbeddingMetric(FeatureSetMetric):
    """A set distance between two sets' frame embeddings from a pretrained network.

    ``features(clips)`` (per clip, ``[frames, D]``) and ``between(ref, est)`` are separate so that a
    caller can keep the reference set's embeddings; ``metric(reference, estimate)`` does both.
    """

    Config = EmbeddingConfig
    network: ClassVar[type[nn.Module]]
    higher_is_better = False

    def unavailable_reason(self) -> str | None:
        """Why this metric cannot be computed (one line), or None: without weights it returns NaN."""
        if self.config.weights:
            return None
        return (f"without the published weights: metric.{self.name}.weights=PATH to "
                f"{self.network.checkpoint} (docs/metrics.md)")

    def features(self, clips: torch.Tensor) -> list[torch.Tensor]:
        """``[N, T]`` waveforms at ``config.sample_rate`` → per clip, ``[frames, D]`` on ``clips``' device."""
        if (reason := self.unavailable_reason()) is not None:
            raise AudiozooError(f"{self.name}: n/a {reason}")
        return embedder(self.network, self.config.weights, clips.device).frames(self.config.sample_rate, clips)

    @abstractmethod
    def between(self, ref: list[torch.Tensor], est: list[torch.Tensor]) -> torch.Tensor:
        """The figure from the reference's and the estimate's per-clip frames (float64, 0-d)."""

    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor, train: torch.Tensor | None = None,
                 reference_features: Any = None) -> torch.Tensor:
        if self.unavailable_reason() is not None:
            check_sets(reference, estimate)
            return torch.tensor(math.nan, device=reference.device)
        return super().__call__(reference, estimate, train, reference_features)


class _Fad(EmbeddingMetric):
    def between(self, ref: list[torch.Tensor], est: list[torch.Tensor]) -> torch.Tensor:
        return frechet_frames(torch.cat(ref), torch.cat(est))


class _Kad(EmbeddingMetric):
    Config = KadConfig

    def between(self, ref: list[torch.Tensor], est: list[torch.Tensor]) -> torch.Tensor:
        return kad(torch.cat(ref), torch.cat(est), bandwidth_from=self.config.bandwidth_from)


class FadVggish(_Fad):
    """FAD as fadtk: Fréchet distance between Gaussians fitted to the sets' VGGish frames (one per 0.96 s)."""

    name = "fad_vggish"
    network = VGGish
    analysis_rate = VGGish.sample_rate


class KadVggish(_Kad):
    """KAD as kadtk: unbiased MMD² × 100 between the sets' VGGish frames, Gaussian kernel."""

    name = "kad_vggish"
    network = VGGish
    analysis_rate = VGGish.sample_rate


class FadPanns(_Fad):
    """FAD on PANNs Cnn14 clip embeddings (2048-d, one per clip, as kadtk takes them)."""

    name = "fad_panns"
    network = Cnn14
    analysis_rate = Cnn14.sample_rate


class KadPanns(_Kad):
    """KAD on PANNs Cnn14 clip embeddings (2048-d, one per clip, as kadtk takes them)."""

    name = "kad_panns"
    network = Cnn14
    analysis_rate = Cnn14.sample_rate


@hookimpl
def register_metrics(register):
    for metric in (FadVggish, KadVggish, FadPanns, KadPanns):
        register(metric)
