"""Plugin settings: dataclasses filled from ``key=value`` overrides, with type checks a user can read."""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union

from audiozoo.errors import AudiozooError, closest_first, unknown

C = TypeVar("C")


def setting_names(config_cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(config_cls) if f.init]


def setting_keys(config_cls: type, prefix: str = "") -> list[str]:
    """Every key a user can set, nested settings spelled out: ``model.lr``, ``model.schedule.steps``."""
    hints, keys = typing.get_type_hints(config_cls), []
    for name in setting_names(config_cls):
        table = _table_type(hints[name])
        keys += setting_keys(table, f"{prefix}{name}.") if table else [f"{prefix}{name}"]
    return keys


def build_config(config_cls: type[C], values: Mapping[str, Any], where: str, base: C | None = None) -> C:
    """``config_cls(**values)`` after checking every key and value; ``where`` prefixes keys in messages.

    ``None`` values are dropped so unset options keep the plugin's default (as timm's ``create_model``).
    A field whose type is a dataclass takes a table (``{"steps": 10}``, as config.toml's nested
    tables read) or dotted keys (``"schedule.steps"``, as the command line gives them); what is not
    set keeps the default of ``base`` (the enclosing config's default for that field).
    """
    names = setting_names(config_cls)
    prefix = f"{where}." if where else ""
    hints = typing.get_type_hints(config_cls)
    kwargs = {name: getattr(base, name) for name in names} if base is not None else {}
    for key, value in _nest(values, prefix).items():
        if value is None:
            continue
        hint = hints.get(key) if key in names else None
        dotted = [k for k in values if k.startswith(f"{key}.")]
        table = _table_type(hint)
        if hint is None or (dotted and table is None):
            raise unknown("key", f"{prefix}{(dotted or [key])[0]}", setting_keys(config_cls, prefix))
        if table is not None and isinstance(value, Mapping):
            kwargs[key] = build_config(table, value, f"{prefix}{key}", kwargs.get(key, _default(config_cls, key)))
        else:
            kwargs[key] = coerce(value, hint, f"{prefix}{key}")
    try:
        return config_cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise AudiozooError(f"bad settings for {where or 'the run'}: {err}") from None


def _nest(values: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """``{"schedule.steps": 10, "lr": 1}`` → ``{"schedule": {"steps": 10}, "lr": 1}`` (tables merge, later wins)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        head, dot, rest = key.partition(".")
        if dot:
            value = {rest: value}
        if isinstance(value, Mapping) and isinstance(out.get(head), Mapping):
            value = {**out[head], **value}
        elif dot and head in out:
            raise AudiozooError(f"{prefix}{head} is set both as a value and as settings ({prefix}{key})")
        out[head] = value
    return out


def _table_type(hint: Any) -> type | None:
    """The dataclass a field of type ``hint`` holds (``Schedule`` or ``Schedule | None``), else None."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (Union, types.UnionType) else (hint,)
    tables = [o for o in options if dataclasses.is_dataclass(o)]
    return tables[0] if len(tables) == 1 else None


def _default(config_cls: type, name: str) -> Any:
    """The default of field ``name`` (its factory called), or None when it has none."""
    f = next(f for f in dataclasses.fields(config_cls) if f.name == name)
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else None


def coerce(value: Any, hint: Any, key: str) -> Any:
    """Check ``value`` against the type ``hint`` (int, float, bool, str, Literal, list, Optional, a dataclass)."""
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
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        if isinstance(value, Mapping):
            return build_config(hint, value, key)
        raise AudiozooError(f"bad value {value!r} for {key}: expected settings ({', '.join(setting_keys(hint, f'{key}.'))})")
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
    if hint is float and type(value) is float and not math.isfinite(value):
        raise AudiozooError(f"bad value {value!r} for {key}: expected a finite number")
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


def describe_settings(config_cls: type, prefix: str = "") -> list[dict[str, str]]:
    """Every setting of ``config_cls`` as ``{"key", "type", "default", "help"}``, nested ones spelled
    out; the help is the comment after the field in its source (this codebase's convention)."""
    hints, notes, rows = typing.get_type_hints(config_cls), _field_comments(config_cls), []
    for name in setting_names(config_cls):
        key = f"{prefix}.{name}" if prefix else name
        table = _table_type(hints[name])
        if table is not None:
            rows += describe_settings(table, key)
            continue
        rows.append({"key": key, "type": _hint_text(hints[name]), "default": _value_text(_default(config_cls, name)),
                     "help": notes.get(name, "")})
    return rows


def _field_comments(config_cls: type) -> dict[str, str]:
    """``name → comment`` for lines like ``lr: float = 1e-3  # the step size``, subclasses' winning."""
    notes: dict[str, str] = {}
    for cls in reversed(config_cls.__mro__):
        if not dataclasses.is_dataclass(cls):
            continue
        try:
            lines = inspect.getsource(cls).splitlines()
        except (OSError, TypeError):
            continue
        for line in lines:
            match = re.match(r"\s+(\w+)\s*:[^#]*#\s*(.+)$", line)
            if match:
                notes[match[1]] = match[2].strip()
    return notes


def _value_text(value: Any) -> str:
    """A default as a user would type it on the command line."""
    if isinstance(value, str):
        return value or '""'
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _hint_text(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return "|".join(map(str, args))
    if origin in (Union, types.UnionType):
        return " or ".join("none" if a is type(None) else _hint_text(a) for a in args)
    if origin in (list, tuple):
        return f"list of {_hint_text(args[0])}" if args else "list"
    return getattr(hint, "__name__", str(hint))
