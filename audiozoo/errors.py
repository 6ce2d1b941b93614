"""Errors a user can cause: the CLI turns each into one line and exit code 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class AudiozooError(Exception):
    """A problem with what the user asked for (name, key, value, file), not a bug."""


def closest_first(word: str, choices: Iterable[str]) -> list[str]:
    """All ``choices``, the ones most similar to ``word`` first, so error lines lead with the likely fix."""
    choices = sorted(set(choices))
    if not choices:
        return []
    close = difflib.get_close_matches(word, choices, n=len(choices), cutoff=0.5)
    return close + [c for c in choices if c not in close]


def unknown(what: str, word: str, choices: Iterable[str], near: str | None = None) -> AudiozooError:
    """The error for a name or key that does not exist, listing the valid ones closest first
    (closest to ``near`` when given: the part of ``word`` that was wrong)."""
    ranked = closest_first(word if near is None else near, choices)
    listed = ", ".join(ranked) if ranked else "(none available)"
    return AudiozooError(f"unknown {what} {word!r}; choose from: {listed}")
