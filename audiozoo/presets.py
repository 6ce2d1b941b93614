"""Presets: named bundles of ``key=value`` overrides, from registry.toml and from plugins.

registry.toml holds the shared presets and the shared part of ``default``, ``seed`` and
``debug``; a plugin registers what is its own (a model's ``debug`` size) beside its code,
through the ``register_presets`` hook. Each preset, shared or for one model, has one provider:
a second is an error naming both, as a duplicate plugin name is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audiozoo.errors import AudiozooError
from audiozoo.registry import Registry

Table = dict[str, Any]


class Presets:
    """Every preset's shared overrides and per-model ones, each with who provided it."""

    def __init__(self) -> None:
        self.shared: Registry[Table] = Registry("preset")
        self.per_model: dict[str, Registry[Table]] = {}

    def register(self, name: str, overrides: Mapping[str, Any], provider: str, model: str | None = None) -> None:
        if not isinstance(overrides, Mapping) or not all(isinstance(key, str) for key in overrides):
            raise AudiozooError(f"preset {name!r} from {provider} is not a table of key = value overrides")
        registry = self.shared if model is None else self.per_model.setdefault(model, Registry(f"{model} preset"))
        registry.register(name, dict(overrides), provider)

    def register_file(self, presets: Mapping[str, Any], provider: str) -> None:
        """registry.toml's ``[presets]``: each table's keys, and its ``models`` tables per model."""
        for name, table in presets.items():
            models = table.get("models", {}) if isinstance(table, Mapping) else None
            if not isinstance(models, Mapping):
                raise AudiozooError(f"[presets.{name}] in {provider} is not a table of overrides (and of models' tables)")
            for model, overrides in models.items():
                self.register(name, overrides, provider, model)
            self.register(name, {key: value for key, value in table.items() if key != "models"}, provider)

    def tables(self) -> dict[str, Table]:
        """Every preset as :func:`audiozoo.overrides.apply_preset` reads it: ``{name: {key: value,
        "models": {model: {key: value}}}}``."""
        out = {entry.name: dict(entry.obj) for entry in self.shared.entries()}
        for model, registry in sorted(self.per_model.items()):
            for entry in registry.entries():
                out.setdefault(entry.name, {}).setdefault("models", {})[model] = entry.obj
        return out
