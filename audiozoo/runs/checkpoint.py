"""Checkpoints: everything needed to continue a run exactly, written atomically, loadable with weights_only."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import torch

from audiozoo.atomic import atomic_file
from audiozoo.errors import AudiozooError
from audiozoo.faults import fault_point

def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` in one rename: a crash never leaves a torn checkpoint."""
    with atomic_file(path) as tmp:
        torch.save(state, tmp)
        fault_point("during-checkpoint-write")
    fault_point("after-checkpoint-write")
    return path


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise AudiozooError(f"no checkpoint: {path}") from None
    except Exception as err:  # a foreign, damaged or unsafe file: say which, never torch's advice to unpickle it
        raise AudiozooError(f"cannot load checkpoint {path}: {_why(path, err)}") from None


def _why(path: Path, err: Exception) -> str:
    if path.stat().st_size == 0:
        return "the file is empty"
    if isinstance(err, EOFError) or "central directory" in str(err) or "zip archive" in str(err):
        return "the file is truncated or not a torch checkpoint"
    if "Weights only load failed" in str(err):
        return "it holds objects other than tensors and plain values (refused: loading them could run code)"
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


class Stateful(Protocol):
    def state_dict(self) -> Any: ...

    def load_state_dict(self, state: Any) -> Any: ...


class Checkpointed:
    """State declared once by name (audiocraft's ``register_stateful``), saved and loaded generically.

    Loading takes the entries the checkpoint has: one written before an entry was declared
    (a scheduler, the EMA) leaves that entry as it was built.
    """

    def __init__(self, **entries: Stateful | None) -> None:
        self.entries = {name: entry for name, entry in entries.items() if entry is not None}

    def state_dict(self) -> dict[str, Any]:
        return {name: entry.state_dict() for name, entry in self.entries.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, entry in self.entries.items():
            if name in state:
                entry.load_state_dict(state[name])


class Named:
    """Several stateful objects by name (a model's optimizers, their schedulers) as one entry."""

    def __init__(self, items: dict[str, Stateful]) -> None:
        self.items = items

    def state_dict(self) -> dict[str, Any]:
        return {name: item.state_dict() for name, item in self.items.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, item in self.items.items():
            item.load_state_dict(state[name])


class RandomState:
    """The global torch generators (CPU, and every CUDA device), which a model's noise draws from."""

    def state_dict(self) -> dict[str, Any]:
        state = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        torch.set_rng_state(state["cpu"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])


class Constant:
    """A value recorded in the checkpoint for the reader (the settings), never loaded back."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def state_dict(self) -> Any:
        return self.value

    def load_state_dict(self, state: Any) -> None:
        """The run's config.toml, not the checkpoint, says what its settings are."""
