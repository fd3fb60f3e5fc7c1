"""A small, typed registry for the open sets: sources, features, models, cost models."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from alphaforge.core.errors import RegistryError

T = TypeVar("T")


class Registry(Generic[T]):
    """Map names to members; unknown names fail with the closest known names.

    Parameters
    ----------
    kind
        What the members are, for error messages ("data source", "feature").
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._members: dict[str, T] = {}

    def add(self, name: str, member: T) -> T:
        """Register ``member`` under ``name``; a duplicate name is a programming error."""
        if name in self._members:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._members[name] = member
        return member

    def register(self, name: str) -> Callable[[T], T]:
        """Return a decorator that registers its target under ``name``."""

        def decorate(member: T) -> T:
            return self.add(name, member)

        return decorate

    def get(self, name: str) -> T:
        """Return the member called ``name`` or raise :class:`RegistryError`."""
        try:
            return self._members[name]
        except KeyError:
            raise RegistryError(f"Unknown {self.kind} {name!r}.", hint=self.suggest(name)) from None

    def suggest(self, name: str) -> str:
        """Return a sentence naming the closest known names."""
        close = difflib.get_close_matches(name, list(self._members), n=3, cutoff=0.5)
        if close:
            return f"Did you mean {', '.join(close)}?"
        return f"Known: {', '.join(sorted(self._members))}."

    def name_of(self, member: object) -> str:
        """Return the name ``member`` is registered under (its repr when it is not)."""
        for name, known in self._members.items():
            if known is member:
                return name
        return repr(member)

    def names(self) -> list[str]:
        """Return registered names in registration order."""
        return list(self._members)

    def __contains__(self, name: object) -> bool:
        return name in self._members

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)
