"""Plugin settings: dataclasses filled from ``key=value`` overrides, with type checks a user can read."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union

from audiozoo.errors import AudiozooError, closest_first, unknown

C = TypeVar("C")


def setting_names(config_cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(config_cls) if f.init]


def build_config(config_cls: type[C], values: Mapping[str, Any], where: str) -> C:
    """``config_cls(**values)`` after checking every key and value; ``where`` prefixes keys in messages.

    ``None`` values are dropped so unset options keep the plugin's default (as timm's ``create_model``).
    """
    names = setting_names(config_cls)
    prefix = f"{where}." if where else ""
    hints = typing.get_type_hints(config_cls)
    kwargs = {}
    for key, value in values.items():
        if value is None:
            continue
        if key not in names:
            raise unknown("key", f"{prefix}{key}", [f"{prefix}{n}" for n in names])
        kwargs[key] = coerce(value, hints[key], f"{prefix}{key}")
    try:
        return config_cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise AudiozooError(f"bad settings for {where or 'the run'}: {err}") from None


def coerce(value: Any, hint: Any, key: str) -> Any:
    """Check ``value`` against the type ``hint`` (int, float, bool, str, Literal, list, Optional)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if type(None) in args and (value is None or (isinstance(value, str) and value.lower() == "none")):
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return coerce(value, option, key)
            except AudiozooError as err:
                errors.append(str(err))
        raise AudiozooError(errors[0])
    if origin is Literal:
        if value in args:
            return value
        raise AudiozooError(
            f"bad value {value!r} for {key}; choose from: {', '.join(map(str, closest_first(str(value), map(str, args))))}"
        )
    if origin in (list, tuple):
        items = value if isinstance(value, (list, tuple)) else [value]
        item_hint = args[0] if args else Any
        return [coerce(v, item_hint, key) for v in items]
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (type(value) is hint):
        return value
    raise AudiozooError(f"bad value {value!r} for {key}: expected {_type_name(hint)}, got {_type_name(type(value))}")


def _type_name(hint: Any) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list"}.get(
        hint, getattr(hint, "__name__", str(hint))
    )


def as_dict(config: Any) -> dict[str, Any]:
    """Settings as plain TOML-ready values (for run files and messages)."""
    return dataclasses.asdict(config)
