"""One generic registry serves every plugin kind (representations, models, datasets, metrics)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from audiozoo.errors import AudiozooError, unknown

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered plugin object and who provided it."""

    name: str
    obj: T
    provider: str

    @property
    def summary(self) -> str:
        """First line of the object's docstring: the one-line description `audiozoo list` shows."""
        doc = (getattr(self.obj, "__doc__", None) or "").strip()
        return doc.splitlines()[0] if doc else ""


class Registry(Generic[T]):
    """Names to plugin objects of one kind; duplicates and unknown names are errors."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, obj: T, provider: str) -> None:
        if not name.isidentifier():
            raise AudiozooError(f"{self.kind} name {name!r} from {provider} is not a valid identifier")
        if name in self._entries:
            first = self._entries[name].provider
            raise AudiozooError(f"{self.kind} {name!r} is registered twice: by {first} and by {provider}")
        self._entries[name] = Entry(name, obj, provider)

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            raise unknown(self.kind, name, self._entries) from None

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def names(self, include: str | Iterable[str] | None = None, exclude: str | Iterable[str] | None = None) -> list[str]:
        """Sorted names matching any ``include`` pattern and no ``exclude`` pattern (fnmatch wildcards)."""
        names = sorted(self._entries)
        if include:
            inc = [include] if isinstance(include, str) else list(include)
            names = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in inc)]
        if exclude:
            exc = [exclude] if isinstance(exclude, str) else list(exclude)
            names = [n for n in names if not any(fnmatch.fnmatchcase(n, p) for p in exc)]
        return names

    def entries(self, include: str | Iterable[str] | None = None, exclude: str | Iterable[str] | None = None) -> list[Entry[T]]:
        return [self._entries[n] for n in self.names(include, exclude)]
