"""From configuration to pieces: presets, merging by name, validation, the risk manager.

A preset (``risk/presets/<name>.yaml``, shipped with the package) lists sizers, limits,
stops, breakers and filters with parameters. ``portfolio.sizers`` and ``risk.limits`` (etc.)
of the configuration are merged into it by piece name: a name given replaces the preset's
parameters for that piece, ``enabled: false`` removes it, a new name is appended.
"""

from __future__ import annotations

import difflib
import importlib.resources
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from alphaforge.config.models import PortfolioConfig, RiskConfig
from alphaforge.config.pieces import Piece, PieceConfig, build_piece
from alphaforge.core.errors import ConfigError
from alphaforge.core.registry import Registry
from alphaforge.core.types import Instrument
from alphaforge.portfolio.pieces import SIZERS, Sizer
from alphaforge.risk.base import BasicRiskManager
from alphaforge.risk.manager import RiskManager, StateSink
from alphaforge.risk.pieces import (
    BREAKERS,
    FILTERS,
    LIMITS,
    STOPS,
    Breaker,
    Limit,
    RegimeFilter,
    State,
    StopRule,
)
from alphaforge.risk.stops import check_exits

P = TypeVar("P", bound=Piece)

#: The sections of a preset, with the registry of each.
SECTIONS: dict[str, Registry[Any]] = {
    "sizers": SIZERS,
    "limits": LIMITS,
    "stops": STOPS,
    "breakers": BREAKERS,
    "filters": FILTERS,
}


def presets_dir() -> Path:
    """Return the folder of the shipped presets."""
    return Path(str(importlib.resources.files("alphaforge") / "risk" / "presets"))


def preset_names() -> list[str]:
    """Return the names of the shipped presets."""
    return sorted(p.stem for p in presets_dir().glob("*.yaml"))


def load_preset(name: str) -> dict[str, list[PieceConfig]]:
    """Return the pieces of preset ``name`` per section (an unknown name is a ConfigError)."""
    path = presets_dir() / f"{name}.yaml"
    if not path.is_file():
        known = preset_names()
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"Did you mean {', '.join(close)}?" if close else f"Known: {', '.join(known)}."
        raise ConfigError(f"Unknown risk preset {name!r}.", hint=hint)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {
        section: [PieceConfig.model_validate(item) for item in raw.get(section) or []]
        for section in SECTIONS
    }


def merge_pieces(
    preset: Sequence[PieceConfig], overrides: Sequence[PieceConfig]
) -> list[PieceConfig]:
    """Return the preset's pieces with ``overrides`` applied by name, in the preset's order."""
    merged: dict[str, PieceConfig] = {p.name: p for p in preset}
    for piece in overrides:
        merged[piece.name] = piece
    return [p for p in merged.values() if p.enabled]


@dataclass(frozen=True, slots=True)
class RiskSetup:
    """The effective pieces of a configuration, built and checked."""

    preset: str
    sizers: tuple[Sizer, ...]
    limits: tuple[Limit, ...]
    stops: tuple[StopRule, ...]
    breakers: tuple[Breaker, ...]
    filters: tuple[RegimeFilter, ...]

    def manager(
        self,
        instruments: Mapping[str, Instrument],
        max_leverage: float,
        *,
        state: State | None = None,
        sink: StateSink | None = None,
    ) -> RiskManager:
        """Return a risk manager running these pieces over ``instruments``."""
        return RiskManager(
            BasicRiskManager(instruments, max_leverage),
            limits=self.limits,
            stops=self.stops,
            breakers=self.breakers,
            filters=self.filters,
            state=state,
            sink=sink,
        )

    def describe(self) -> dict[str, list[dict[str, Any]]]:
        """Return every piece with all its parameters (defaults filled in), per section."""
        return {
            section: [
                {"name": p.piece_name, "params": p.model_dump(mode="json")}
                for p in getattr(self, section)
            ]
            for section in SECTIONS
        }


def effective_pieces(portfolio: PortfolioConfig, risk: RiskConfig) -> dict[str, list[PieceConfig]]:
    """Return the configured pieces per section: the preset merged with the configuration."""
    load_members()
    preset = load_preset(risk.preset)
    own: dict[str, Sequence[PieceConfig]] = {
        "sizers": portfolio.sizers,
        "limits": risk.limits,
        "stops": risk.stops,
        "breakers": risk.breakers,
        "filters": risk.filters,
    }
    for section, pieces in own.items():
        for piece in pieces:  # a misspelt name is an error even when it switches a piece off
            if piece.name not in SECTIONS[section]:
                raise ConfigError(
                    f"Unknown {SECTIONS[section].kind} {piece.name!r} in {section}.",
                    hint=SECTIONS[section].suggest(piece.name),
                )
    return {section: merge_pieces(preset[section], own[section]) for section in SECTIONS}


def resolve(portfolio: PortfolioConfig, risk: RiskConfig) -> RiskSetup:
    """Build and check the configured pieces (bad configuration is a one-line ConfigError)."""
    pieces = effective_pieces(portfolio, risk)
    built = {
        section: tuple(build_piece(SECTIONS[section], p.name, p.params) for p in pieces[section])
        for section in SECTIONS
    }
    setup = RiskSetup(
        preset=risk.preset,
        sizers=built["sizers"],
        limits=built["limits"],
        stops=built["stops"],
        breakers=built["breakers"],
        filters=built["filters"],
    )
    check_setup(setup, portfolio)
    return setup


def check_setup(setup: RiskSetup, portfolio: PortfolioConfig) -> None:
    """Refuse combinations that cannot work: a position limit above the gross limit, a stop
    at or beyond its take-profit."""
    position = _param(setup.limits, "position", "max_weight")
    gross = _param(setup.limits, "gross", "max_gross")
    if position is not None and gross is not None and position > gross:
        raise ConfigError(
            f"The position limit ({position:.0%} of equity) is above the gross limit "
            f"({gross:.0%}).",
            hint="Lower risk.limits position max_weight or raise the gross limit.",
        )
    check_exits(setup.stops)


def _param(pieces: Sequence[Piece], name: str, field: str) -> float | None:
    for piece in pieces:
        if piece.piece_name == name:
            value = getattr(piece, field, None)
            return float(value) if isinstance(value, int | float) else None
    return None


def load_members() -> None:
    """Import the member packages so every piece is registered."""
    import alphaforge.portfolio.constructors
    import alphaforge.portfolio.sizers
    import alphaforge.risk.breakers
    import alphaforge.risk.filters
    import alphaforge.risk.limits
    import alphaforge.risk.stops  # noqa: F401


__all__ = [
    "SECTIONS",
    "RiskSetup",
    "check_setup",
    "effective_pieces",
    "load_members",
    "load_preset",
    "merge_pieces",
    "preset_names",
    "presets_dir",
    "resolve",
]
