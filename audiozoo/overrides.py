"""``key=value`` command-line arguments: TOML literal values, dotted keys, presets from registry.toml."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from audiozoo.errors import AudiozooError, unknown


def parse_value(text: str) -> Any:
    """A TOML literal (``128``, ``1e-5``, ``true``, ``"x"``, ``[1, 2]``); bare words are strings.

    Lists of bare words work as typed on a shell: ``[classical,jazz]`` → ``["classical", "jazz"]``.
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    stripped = text.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        inner = stripped[1:-1].strip()
        return [parse_value(item.strip()) for item in inner.split(",")] if inner else []
    return text


def parse_overrides(args: Iterable[str]) -> dict[str, Any]:
    """``["repr=mel", "repr.n_mels=128"]`` → ``{"repr": "mel", "repr.n_mels": 128}`` (later wins)."""
    out: dict[str, Any] = {}
    for arg in args:
        key, sep, text = arg.partition("=")
        key = key.strip()
        if not sep or not key:
            raise AudiozooError(f"expected key=value, got {arg!r} (for example: repr=mel repr.n_mels=128)")
        out[key] = parse_value(text)
    return out


def apply_preset(overrides: Mapping[str, Any], presets: Mapping[str, Mapping[str, Any]],
                 default: str | None = None) -> dict[str, Any]:
    """Expand ``preset=NAME`` into its overrides; the user's own overrides still win.

    A preset may hold a ``models`` table of per-model overrides (``[presets.seed.models.gan]``),
    applied when that model is chosen. Without ``preset=``, the preset named ``default`` applies
    where registry.toml has one (training uses ``default="default"``: its budget is no
    setting of ``prepare``).
    """
    overrides = dict(overrides)
    name = overrides.pop("preset", None)
    if name is None and default in presets:
        name = default
    if name is None:
        return overrides
    if name not in presets:
        raise unknown("preset", str(name), presets)
    preset = presets[name]
    expanded = {k: v for k, v in preset.items() if k not in ("description", "models")}
    model = overrides.get("model", expanded.get("model"))
    expanded.update(preset.get("models", {}).get(model, {}))
    return {**expanded, **overrides}


def split_namespaces(overrides: Mapping[str, Any], allowed: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Group dotted keys by their first part: ``{"repr": {"": "mel", "n_mels": 128}, ...}``.

    ``allowed`` lists the top-level keys the command accepts; anything else is an error naming them.
    """
    groups: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        head, _, rest = key.partition(".")
        if head not in allowed:
            raise unknown("key", key, allowed, near=head)
        groups.setdefault(head, {})[rest] = value
    return groups
