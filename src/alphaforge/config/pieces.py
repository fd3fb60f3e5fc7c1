"""Named pieces with parameters: the shape shared by sizers, constructors, limits, stops,
breakers and filters.

A piece is a frozen pydantic model whose fields are its parameters and whose methods do its
work, registered by name in a :class:`~alphaforge.core.registry.Registry`. Configuration names
a piece and its parameters (:class:`PieceConfig`); :func:`build_piece` turns that into the
object, and a wrong name or parameter is one line with the closest names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alphaforge.core.errors import ConfigError, RegistryError
from alphaforge.core.registry import Registry


class Piece(BaseModel):
    """Base of every registered piece: its fields are its parameters (frozen, no extras)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: One line for ``alphaforge risk list``.
    summary: ClassVar[str] = ""
    #: The name it is registered under (set by :func:`register_piece`).
    piece_name: ClassVar[str] = ""

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Return each parameter's default (required parameters are left out)."""
        return {
            name: field.get_default(call_default_factory=True)
            for name, field in cls.model_fields.items()
            if not field.is_required()
        }


class PieceConfig(BaseModel):
    """One piece named in configuration: ``{name: position, params: {max_weight: 0.1}}``.

    ``enabled: false`` switches off a piece that a preset turns on.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Registered name of the piece.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Parameters; those not given keep their defaults."
    )
    enabled: bool = Field(True, description="False switches off a piece a preset turns on.")


P = TypeVar("P", bound=Piece)


def register_piece(registry: Registry[type[P]], name: str) -> Callable[[type[P]], type[P]]:
    """Return a class decorator registering a piece under ``name`` (recorded on the class)."""

    def decorate(cls: type[P]) -> type[P]:
        cls.piece_name = name
        return registry.add(name, cls)

    return decorate


def build_piece(registry: Registry[type[P]], name: str, params: Mapping[str, Any]) -> P:
    """Return the piece ``name`` of ``registry`` with ``params``.

    Raises
    ------
    ConfigError
        For an unknown name (naming the closest ones) or a parameter the piece refuses.
    """
    try:
        cls = registry.get(name)
    except RegistryError as exc:
        raise ConfigError(str(exc.args[0]), hint=exc.hint) from None
    try:
        return cls.model_validate(dict(params))
    except ValidationError as exc:
        problems = "; ".join(problem(e["loc"], e["msg"]) for e in exc.errors())
        raise ConfigError(
            f"{registry.kind.capitalize()} {name!r}: {problems}.",
            hint=f"Its parameters: {', '.join(cls.model_fields) or 'none'}.",
        ) from None


def problem(loc: tuple[int | str, ...], message: str) -> str:
    """One parameter problem: ``field: message``, or just the message of a cross-field check."""
    # Pydantic prefixes what a validator raised with "Value error, ".
    message = message.removeprefix("Value error, ")
    where = ".".join(str(p) for p in loc)
    return f"{where}: {message}" if where else message


__all__ = ["Piece", "PieceConfig", "build_piece", "problem", "register_piece"]
