"""What ``audiozoo list`` and ``audiozoo plugins`` show, kept between commands.

Listing plugins means importing them, and every plugin imports torch (over a second). The
answer only changes when an installed plugin, its code or the registry does, so it is written to
the cache once, keyed by those (entry points and versions, the modification times of their
modules and of the core's files, the plugin environment variables), and read back without
torch. A process that has loaded the plugins already asks them directly.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from audiozoo.atomic import atomic_file
from audiozoo.data.cache import cache_root
from audiozoo.kinds import KINDS, SAMPLE_COMMANDS, Kind

ENVIRONMENT = ("AUDIOZOO_DISABLE_PLUGINS", "AUDIOZOO_REGISTRY")


def catalog() -> dict[str, Any]:
    """``{"kinds": {kind: [{"name", "summary", "settings"}]}, "plugins": [...]}``: from the cache when fresh."""
    loaded = sys.modules.get("audiozoo.plugins")
    if loaded is not None and loaded._host is not None:
        return _build()
    path = cache_root() / f"catalog-{_fingerprint()}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    built = _build()
    try:
        with atomic_file(path) as tmp:
            tmp.write_text(json.dumps(built))
        for old in path.parent.glob("catalog-*.json"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass  # an unwritable cache only costs the next listing its speed
    return built


def _build() -> dict[str, Any]:
    from audiozoo.plugins import host

    h = host()
    kinds = {kind.name: [{"name": e.name, "summary": e.summary, "settings": _settings(kind, e.obj)}
                         for e in h.registry(kind.name).entries()] for kind in KINDS}
    plugins = [{"name": i.name, "distribution": i.distribution, "version": i.version, "builtin": i.builtin,
                "hooks": i.hooks, "status": i.status, "error": i.error} for i in h.plugins.values()]
    return {"kinds": kinds, "plugins": plugins}


def _settings(kind: Kind, plugin: type) -> list[dict[str, str]]:
    """The settings of a plugin that some command takes, each with those commands; a model's sampling
    options follow as ``sample.KEY``. A kind no command takes settings of lists none."""
    from audiozoo.config import describe_settings

    prefix = kind.prefix(plugin.name)
    internal = {f"{prefix}.{key}" for key in kind.internal}
    rows = [{**row, "commands": ",".join(kind.commands)} for row in describe_settings(plugin.Config, prefix)
            if kind.commands and row["key"] not in internal]
    if kind.name == "models":
        rows += [{**row, "commands": ",".join(SAMPLE_COMMANDS)} for row in describe_settings(plugin.SampleOptions, "sample")]
    return rows


def _fingerprint() -> str:
    points = sorted(importlib.metadata.entry_points(group="audiozoo"), key=lambda ep: (ep.name, ep.value))
    files = [Path(__file__).resolve().parent.glob(pattern) for pattern in ("*.py", "*.toml")]
    stamps = [_stamp(p) for group in files for p in sorted(group)]
    stamps += [_stamp(_origin(ep.module)) for ep in points]
    if os.environ.get("AUDIOZOO_REGISTRY"):
        stamps.append(_stamp(Path(os.environ["AUDIOZOO_REGISTRY"])))
    blob = json.dumps({
        "points": [(ep.name, ep.value, ep.dist.name if ep.dist else "", ep.dist.version if ep.dist else "")
                   for ep in points],
        "stamps": stamps,
        "environment": [os.environ.get(name, "") for name in ENVIRONMENT],
        "python": sys.version,
    })
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _origin(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin else None


def _stamp(path: Path | None) -> tuple[str, int, int]:
    try:
        st = path.stat() if path is not None else None
    except OSError:
        st = None
    return (str(path), st.st_mtime_ns if st else 0, st.st_size if st else 0)
