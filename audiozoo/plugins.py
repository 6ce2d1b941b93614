"""Plugin discovery: every plugin, built-in or third-party, is an entry point in the group ``audiozoo``.

Discovery happens on first use (:func:`host`), never at import. A plugin that fails to
import or to register is recorded with its error and left out; the others keep working.
Built-ins are listed once, as entry points in pyproject.toml; any plugin is switched off by
name in registry.toml's ``[plugins] disabled`` or ``$AUDIOZOO_DISABLE_PLUGINS``.
"""

from __future__ import annotations

import importlib.metadata
import os
import tomllib
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import pluggy

from audiozoo import hookspecs
from audiozoo.errors import AudiozooError
from audiozoo.kinds import BY_NAME, KINDS
from audiozoo.presets import Presets
from audiozoo.registry import Registry

GROUP = "audiozoo"
BUILTIN_DIST = "audiozoo"
Commit = Callable[[str], None]
"""A checked registration, waiting for its provider (the plugin that made it) to be committed."""


@dataclass
class PluginInfo:
    """What `audiozoo plugins` shows for one plugin."""

    name: str
    distribution: str
    version: str
    builtin: bool
    hooks: list[str] = field(default_factory=list)
    status: str = "loaded"  # loaded | disabled | error
    error: str = ""

    @property
    def provider(self) -> str:
        return f"plugin {self.name!r} ({self.distribution} {self.version})"


def registry_file() -> Path:
    """registry.toml: ``$AUDIOZOO_REGISTRY`` if set, else the one inside the ``audiozoo`` package (package data)."""
    return Path(os.environ.get("AUDIOZOO_REGISTRY") or Path(__file__).resolve().parent / "registry.toml")


class PluginHost:
    """The plugin manager, the registries and presets it fills, and what registry.toml says."""

    def __init__(self, registry_path: Path | None = None) -> None:
        path = registry_path or registry_file()
        try:
            self.settings: dict[str, Any] = tomllib.loads(path.read_text())
            self.preset_registry = Presets()
            self.preset_registry.register_file(self.settings.get("presets", {}), f"registry file {path}")
        except (OSError, tomllib.TOMLDecodeError, AudiozooError) as err:
            raise AudiozooError(f"cannot read the plugin registry {path}: {err}") from None
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.registries: dict[str, Registry[Any]] = {kind.name: Registry(kind.singular) for kind in KINDS}
        self.plugins: dict[str, PluginInfo] = {}
        self._load_entry_points()
        self._register_all()

    @cached_property
    def presets(self) -> dict[str, dict[str, Any]]:
        """Every preset, registry.toml's and the plugins', as ``preset=NAME`` expands it."""
        return self.preset_registry.tables()

    @cached_property
    def defaults(self) -> dict[str, Any]:
        return self.settings.get("defaults", {})

    def registry(self, kind: str) -> Registry[Any]:
        return self.registries[kind]

    def _load_entry_points(self) -> None:
        blocked = {n.strip() for n in os.environ.get("AUDIOZOO_DISABLE_PLUGINS", "").split(",") if n.strip()}
        blocked |= set(self.settings.get("plugins", {}).get("disabled", []))
        points = importlib.metadata.entry_points(group=GROUP)
        # Built-ins first, so a third-party duplicate is the one reported.
        ordered = sorted(points, key=lambda ep: (_dist_name(ep) != BUILTIN_DIST, ep.name))
        for ep in ordered:
            dist = _dist_name(ep)
            info = PluginInfo(ep.name, dist, _dist_version(ep), builtin=dist == BUILTIN_DIST)
            if ep.name in self.plugins:
                info.status, info.error = "error", f"name already used by {self.plugins[ep.name].provider}"
                self.plugins[f"{ep.name} ({dist})"] = info
                continue
            self.plugins[ep.name] = info
            if ep.name in blocked:
                info.status = "disabled"
                continue
            try:
                module = ep.load()
                self.pm.register(module, name=ep.name)
                self.pm.check_pending()
            except Exception as err:  # a broken plugin must not take the others down
                if self.pm.has_plugin(ep.name):
                    self.pm.unregister(name=ep.name)
                info.status, info.error = "error", _one_line(err)
                continue
            info.hooks = sorted(caller.name for caller in self.pm.get_hookcallers(module) or [])

    def _register_all(self) -> None:
        for kind in KINDS:
            for impl in getattr(self.pm.hook, kind.hook).get_hookimpls():
                self._call_register_hook(impl, self._class_register(kind.name))
        for impl in self.pm.hook.register_presets.get_hookimpls():
            self._call_register_hook(impl, self._preset_register)

    def _call_register_hook(self, impl: pluggy.HookImpl, register: Callable[..., Commit]) -> None:
        """Run one plugin's hook. Each ``register`` call is checked at once and committed, with the
        plugin as provider, after the hook returns: a hook that raises registers nothing."""
        info = self.plugins[impl.plugin_name]
        staged: list[Commit] = []
        try:
            impl.function(register=lambda *args, **kwargs: staged.append(register(*args, **kwargs)))
            for commit in staged:
                commit(info.provider)
        except Exception as err:
            info.status, info.error = "error", _one_line(err)

    def _class_register(self, kind: str) -> Callable[..., Commit]:
        """``register(cls, name=None)`` for a plugin kind's hook, refusing what is not a subclass of its base."""
        registry, base = self.registries[kind], BY_NAME[kind].base_class()

        def register(obj: Any, name: str | None = None) -> Commit:
            if not (isinstance(obj, type) and issubclass(obj, base)):
                raise AudiozooError(f"{BY_NAME[kind].hook} got {obj!r}, which is not a {base.__name__} subclass")
            return partial(registry.register, name or obj.name, obj)

        return register

    def _preset_register(self, name: str, overrides: Mapping[str, Any], model: str | None = None) -> Commit:
        """``register(name, overrides, model=None)`` for ``register_presets``."""
        return partial(self.preset_registry.register, name, overrides, model=model)


def _dist_name(ep: importlib.metadata.EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else "unknown"


def _dist_version(ep: importlib.metadata.EntryPoint) -> str:
    return ep.dist.version if ep.dist is not None else "?"


def _one_line(err: BaseException) -> str:
    if isinstance(err, AudiozooError):
        return str(err)
    return traceback.format_exception_only(type(err), err)[-1].strip()


_host: PluginHost | None = None


def host() -> PluginHost:
    """The process-wide plugin host, created (and plugins discovered) on first call."""
    global _host
    if _host is None:
        _host = PluginHost()
    return _host
