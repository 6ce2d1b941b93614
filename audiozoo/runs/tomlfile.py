"""Writing the resolved configuration of a run as TOML (the standard library only reads TOML)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from audiozoo.atomic import atomic_file


def _literal(value: Any) -> str:
    if value is None:
        return '"none"'  # TOML has no null; settings read "none" back as None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):  # a nested settings dataclass, as an inline table
        return "{" + ", ".join(f"{_key(k)} = {_literal(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def _key(key: str) -> str:
    """A bare key where TOML allows one; dotted override names (``data.root``) are quoted."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def write_toml(path: Path, tables: dict[str, dict[str, Any]], header: str = "") -> None:
    """``{"run": {...}, "model": {...}}`` → one ``[table]`` each; nested settings as inline tables."""
    lines = [f"# {line}" for line in header.splitlines()]
    for table, values in tables.items():
        lines += ["", f"[{table}]"] + [f"{_key(key)} = {_literal(value)}" for key, value in values.items()]
    with atomic_file(path) as tmp:
        tmp.write_text("\n".join(lines).lstrip() + "\n")
