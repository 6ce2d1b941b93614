"""How far a run has trained: saved in every checkpoint, read by whoever loads the run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Progress:
    """Where training stands; saved in every checkpoint so a resumed run continues exactly."""

    step: int = 0
    epoch: int = 0
    batch: int = 0  # batches done in the current epoch
    seconds: float = 0.0  # training time so far, over all sessions of the run
    validated: int = 0  # the step of the last validation (0: none yet)

    def state_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)
