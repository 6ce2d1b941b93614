"""Which package may import which (docs/architecture.md, "Layers"): checked on the source, so a
shortcut across layers fails here before it spreads."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import audiozoo

PACKAGE = Path(audiozoo.__file__).resolve().parent
PLUGINS = PACKAGE.parent / "plugins"

UPPER = ("audiozoo.runs", "audiozoo.train", "audiozoo.bench", "audiozoo.report", "audiozoo.export",
         "audiozoo.api", "audiozoo.cli")
"""Everything above the core, lowest first."""
FORBIDDEN = {
    "core": (*UPPER, "audiozoo_plugins"),
    "audiozoo.runs": UPPER[1:],
    "audiozoo.train": ("audiozoo.bench", "audiozoo.report", "audiozoo.export", "audiozoo.api", "audiozoo.cli"),
    "audiozoo.report": ("audiozoo.train", "audiozoo.bench", "audiozoo.export", "audiozoo.api", "audiozoo.cli"),
    "audiozoo.export": ("audiozoo.train", "audiozoo.bench", "audiozoo.report", "audiozoo.api", "audiozoo.cli"),
    "audiozoo.bench": ("audiozoo.export", "audiozoo.api", "audiozoo.cli"),
    "audiozoo_plugins": ("audiozoo.train", "audiozoo.bench", "audiozoo.report", "audiozoo.export", "audiozoo.api",
                         "audiozoo.cli"),
}
"""Layer → the modules it must not import (a plugin reaches the core through the ``audiozoo`` facade)."""


def layer(path: Path) -> str | None:
    """The layer of a source file; None for the facade and the CLI, which may import anything."""
    if path.is_relative_to(PLUGINS):
        return "audiozoo_plugins"
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[0] in ("__init__", "__main__", "cli", "api"):
        return None
    name = f"audiozoo.{parts[0]}"
    return name if name in FORBIDDEN else "core"


def imports(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, at any depth of the file (lazy imports too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


SOURCES = sorted([*PACKAGE.rglob("*.py"), *PLUGINS.rglob("*.py")])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_no_import_runs_up_a_layer(path: Path) -> None:
    where = layer(path)
    if where is None:
        return
    offenders = [f"line {line}: {module}" for line, module in imports(path)
                 if any(module == bad or module.startswith(f"{bad}.") for bad in FORBIDDEN[where])]
    assert not offenders, f"{path.name} ({where}) imports above its layer: {offenders}"


def test_the_layer_table_covers_every_package() -> None:
    packages = {f"audiozoo.{p.name}" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert packages - {"audiozoo.data"} <= set(FORBIDDEN), "a new package needs its row in FORBIDDEN"
