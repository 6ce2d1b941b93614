"""The hooks a plugin may implement: one per plugin kind (:data:`audiozoo.kinds.KINDS`), each
handed a ``register`` callback, and one for the presets a plugin ships.

The core owns ``register`` (and so the registries): a plugin only says what it
provides, and duplicates are decided in one place. ``register(cls)`` takes the
plugin class; its name is ``cls.name`` unless ``name=`` is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import pluggy

from audiozoo.kinds import KINDS, Kind

hookspec = pluggy.HookspecMarker("audiozoo")
hookimpl = pluggy.HookimplMarker("audiozoo")

Register = Callable[..., None]


class RegisterPreset(Protocol):
    def __call__(self, name: str, overrides: Mapping[str, Any], model: str | None = None) -> None: ...


def _register_spec(kind: Kind) -> Callable[[Register], None]:
    def spec(register: Register) -> None: ...

    spec.__name__ = spec.__qualname__ = kind.hook
    spec.__doc__ = kind.doc
    return hookspec(spec)


# One hook per plugin kind, from the one table of kinds (audiozoo/kinds.py):
# register_representations, register_models, register_datasets, register_metrics.
for _kind in KINDS:
    globals()[_kind.hook] = _register_spec(_kind)
del _kind


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
