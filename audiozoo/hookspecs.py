"""The hooks a plugin may implement: one per plugin kind, each handed a ``register`` callback,
and one for the presets a plugin ships.

The core owns ``register`` (and so the registries): a plugin only says what it
provides, and duplicates are decided in one place. ``register(cls)`` takes the
plugin class; its name is ``cls.name`` unless ``name=`` is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import pluggy

hookspec = pluggy.HookspecMarker("audiozoo")
hookimpl = pluggy.HookimplMarker("audiozoo")

Register = Callable[..., None]


class RegisterPreset(Protocol):
    def __call__(self, name: str, overrides: Mapping[str, Any], model: str | None = None) -> None: ...


@hookspec
def register_representations(register: Register) -> None:
    """Register :class:`audiozoo.Representation` subclasses: ``register(MelRepresentation)``."""


@hookspec
def register_models(register: Register) -> None:
    """Register :class:`audiozoo.GenerativeModel` subclasses: ``register(MyVAE)``."""


@hookspec
def register_datasets(register: Register) -> None:
    """Register :class:`audiozoo.AudioSource` subclasses (where audio files come from)."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register :class:`audiozoo.Metric` subclasses, computed on decoded audio."""


@hookspec
def register_presets(register: RegisterPreset) -> None:
    """Register named bundles of ``key=value`` overrides, kept beside the code they tune.

    ``register("debug", {"model.widths": [16, 32]}, model="vae_x")`` adds what ``preset=debug``
    sets when ``model=vae_x`` is chosen, on top of the preset's shared part in registry.toml
    (``epochs``, ``batch_size``, ...). Without ``model=`` it is a preset of its own. A model
    plugin ships at least a ``debug`` preset (tiny, seconds to train): the contract tests run
    every model at its own ``debug`` size. The same preset for the same model from two
    providers is an error naming both.
    """


KINDS: dict[str, str] = {
    "representations": "register_representations",
    "models": "register_models",
    "datasets": "register_datasets",
    "metrics": "register_metrics",
}
"""Plugin kind (as `audiozoo list` names it) → the hook that fills its registry."""

