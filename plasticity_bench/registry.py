"""One registry class, used once per kind of thing (models, datasets, optimisers,
scenarios, strategies).

Modelled on timm's `@register_model`: a decorator puts a factory under a name,
duplicate names are refused, and `names()` lists what is there so that the CLI
and the tests can be parametrized over it.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

from plasticity_bench.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered thing: its name, the object, and a one-line description."""

    name: str
    obj: T
    description: str
    extra: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Name -> object, for one kind of thing (`kind` appears in error messages)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, *, description: str = "", **extra: Any) -> Callable[[T], T]:
        """Decorator: `@REGISTRY.register("name")` on a factory or class."""

        def deco(obj: T) -> T:
            self.add(name, obj, description=description, **extra)
            return obj

        return deco

    def add(self, name: str, obj: T, *, description: str = "", **extra: Any) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"{self.kind} name must be an identifier, got {name!r}")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered; names must be unique")
        if not description:
            doc = (getattr(obj, "__doc__", None) or "").strip()
            description = doc.splitlines()[0] if doc else ""
        self._entries[name] = Entry(name, obj, description, dict(extra))

    def remove(self, name: str) -> None:
        """Unregister (tests and interactive sessions use this to clean up)."""
        self._entries.pop(name, None)

    def get(self, name: str, *, field_name: str | None = None) -> T:
        return self.entry(name, field_name=field_name).obj

    def entry(self, name: str, *, field_name: str | None = None) -> Entry[T]:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ConfigError(
                field_name or self.kind,
                f"unknown {self.kind} {name!r}; allowed: {', '.join(self.names())}",
            ) from None

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._entries)
