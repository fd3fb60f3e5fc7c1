"""Configuration checks across stop rules: a percent stop must lie inside the take-profit."""

from __future__ import annotations

from collections.abc import Sequence

from alphaforge.core.errors import ConfigError
from alphaforge.risk.pieces import StopRule
from alphaforge.risk.stops.fixed_percent import FixedPercentStop
from alphaforge.risk.stops.take_profit import TakeProfit


def _pct(fraction: float) -> str:
    return f"{fraction * 100:g} %"


def check_exits(stops: Sequence[StopRule]) -> None:
    """Refuse stop rules whose percent stop is at or beyond a fixed take-profit percent.

    Compares every class distance of each ``fixed_percent`` rule, and the ``stop_percent``
    a ``take_profit`` assumes, with the ``percent`` of each ``take_profit`` in percent mode.
    Stops in ATRs, quantiles or pips have no fixed percent and are not compared (their
    distance is known only at a price). ``take_profit`` in reward-to-risk mode cannot be at
    or inside its stop, as ``reward_to_risk`` must exceed 1.

    Raises
    ------
    ConfigError
        One line naming the stop and take-profit percents, e.g. ``Stop 7 % is at or beyond
        the take-profit 5 %.``
    """
    takes = [s.percent for s in stops if isinstance(s, TakeProfit) and s.percent is not None]
    if not takes:
        return
    take = min(takes)
    stop_percents: list[tuple[float, str]] = []
    for rule in stops:
        if isinstance(rule, FixedPercentStop):
            stop_percents += [
                (value, f" ({name})") for name, value in rule.by_class().items() if value
            ]
        elif isinstance(rule, TakeProfit) and rule.stop_percent is not None:
            stop_percents.append((rule.stop_percent, ""))
    for value, where in stop_percents:
        if value >= take:
            raise ConfigError(
                f"Stop {_pct(value)}{where} is at or beyond the take-profit {_pct(take)}.",
                hint="Set the take-profit percent above every percent stop, or lower the stop.",
            )


__all__ = ["check_exits"]
