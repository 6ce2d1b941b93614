"""The hooks a plugin may implement: one per plugin kind, each handed a ``register`` callback.

The core owns ``register`` (and so the registries): a plugin only says what it
provides, and duplicates are decided in one place. ``register(cls)`` takes the
plugin class; its name is ``cls.name`` unless ``name=`` is given.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("audiozoo")
hookimpl = pluggy.HookimplMarker("audiozoo")

Register = Callable[..., None]


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


KINDS: dict[str, str] = {
    "representations": "register_representations",
    "models": "register_models",
    "datasets": "register_datasets",
    "metrics": "register_metrics",
}
"""Plugin kind (as `audiozoo list` names it) → the hook that fills its registry."""

