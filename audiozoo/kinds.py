"""The plugin kinds, declared once: the hook specs, the registries, ``audiozoo list``, the catalog,
``list_X``/``get_X`` and the settings listing are all derived from :data:`KINDS`.

A kind adds a row here and nothing else; this module imports nothing, so ``audiozoo --help`` and
``audiozoo list`` read it without torch (each base class is named, and imported only on use).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One kind of plugin: where its classes register, what they subclass, how users name its settings."""

    name: str  # "models": the registry, and what `audiozoo list models` lists
    singular: str  # "model": messages, and the API's get_model / list_models
    namespace: str  # the key its settings take on the command line: model.lr=1e-3
    base: str  # "module:Class" every plugin of the kind subclasses
    doc: str  # what the hook asks for (the hook's docstring)
    commands: tuple[str, ...]  # the commands that take NAMESPACE.KEY= settings of this kind
    internal: tuple[str, ...] = ()  # settings the core sets and no user does (a representation's sample_rate)
    aliases: tuple[str, ...] = ()  # other words `audiozoo list` takes for it
    every: bool = False  # every plugin of the kind runs at once, so a setting names its plugin: metric.NAME.KEY

    def prefix(self, plugin: str) -> str:
        """What a plugin's settings are keyed under: ``repr`` (the one chosen), or ``metric.fad_vggish``."""
        return f"{self.namespace}.{plugin}" if self.every else self.namespace

    @property
    def hook(self) -> str:
        """The hook that fills its registry: ``register_models(register)``."""
        return f"register_{self.name}"

    def base_class(self) -> type:
        module, _, cls = self.base.partition(":")
        return getattr(importlib.import_module(module), cls)


KINDS: tuple[Kind, ...] = (
    Kind("representations", "representation", "repr", "audiozoo.representation:Representation",
         "Register :class:`audiozoo.Representation` subclasses: ``register(MelRepresentation)``.",
         commands=("run", "bench", "roundtrip"), internal=("sample_rate",), aliases=("reprs",)),
    Kind("models", "model", "model", "audiozoo.model:GenerativeModel",
         "Register :class:`audiozoo.GenerativeModel` subclasses: ``register(MyVAE)``.",
         commands=("run", "bench")),
    Kind("datasets", "dataset", "data", "audiozoo.data.source:AudioSource",
         "Register :class:`audiozoo.AudioSource` subclasses (where audio files come from).",
         commands=("run", "bench", "prepare", "roundtrip")),
    Kind("metrics", "metric", "metric", "audiozoo.metric:Metric",
         "Register :class:`audiozoo.Metric` subclasses, computed on decoded audio.",
         commands=("bench",), internal=("sample_rate",), every=True),
)

BY_NAME: dict[str, Kind] = {kind.name: kind for kind in KINDS}

SAMPLE_COMMANDS = ("run", "bench", "generate", "export")
"""The commands that take a model's sampling options (``sample.KEY=``)."""
RUN_COMMANDS = ("run", "bench")
"""The commands that take a run's own settings (``epochs=``, ``seed=``…)."""
RUN_ONLY = ("init", "init_stats")
"""A run's own settings that ``bench`` refuses: it trains every cell alike, from scratch."""


def kind(word: str) -> Kind:
    """The kind a word names (``models``, ``reprs``…); KeyError for none."""
    for k in KINDS:
        if word == k.name or word in k.aliases:
            return k
    raise KeyError(word)


def words() -> list[str]:
    """Every word that names a kind, for `audiozoo list KIND` and its error line."""
    return [w for k in KINDS for w in (k.name, *k.aliases)]
