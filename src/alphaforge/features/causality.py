"""The generic causality check every feature must pass.

For a cut position ``i``, a causal feature's values at rows ``0..i`` do not change when the bars
after ``i`` are removed or replaced by anything else. The check computes the feature on the
full bars, on the bars truncated after ``i``, and on bars whose future is scrambled, and
reports every row at or before ``i`` whose value differs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alphaforge.core.types import Instrument
from alphaforge.features.registry import BarArrays, FeatureSpec, FloatArray

_RTOL = 1e-9
_ATOL = 1e-12


def _scramble_future(bars: BarArrays, cut: int, rng: np.random.Generator) -> BarArrays:
    """Return bars whose rows after ``cut`` are replaced by a different, valid random path."""
    n = len(bars)
    tail = n - cut - 1
    if tail <= 0:
        return bars
    shock = np.exp(np.cumsum(rng.normal(0.0, 0.05, tail)))
    scale = rng.uniform(0.3, 3.0)

    def swap(values: FloatArray, factor: FloatArray) -> FloatArray:
        out = values.copy()
        out[cut + 1 :] = values[cut + 1 :] * factor
        return out

    price_factor = shock * scale
    high = swap(bars.high, price_factor * 1.02)
    low = swap(bars.low, price_factor * 0.98)
    open_ = swap(bars.open, price_factor)
    close = swap(bars.close, price_factor)
    volume = swap(bars.volume, rng.uniform(0.1, 10.0, tail))
    return bars.with_prices(
        open_,
        np.maximum(high, np.maximum(open_, close)),
        np.minimum(low, np.minimum(open_, close)),
        close,
        volume,
    )


def _truncate(bars: BarArrays, cut: int) -> BarArrays:
    return bars.head(cut + 1)


def _differs(reference: FloatArray, other: FloatArray) -> FloatArray:
    both_nan = np.isnan(reference) & np.isnan(other)
    close = np.isclose(reference, other, rtol=_RTOL, atol=_ATOL)
    return np.asarray(~(both_nan | close), dtype=np.float64)


def causality_violations(
    spec: FeatureSpec,
    bars: pd.DataFrame,
    cuts: Sequence[int],
    *,
    seed: int,
    instrument: Instrument | None = None,
) -> list[str]:
    """Return a message for every cut where the feature's past depends on its future.

    Parameters
    ----------
    spec
        The feature to check.
    bars
        Canonical bars long enough to pass the feature's warm-up before the cuts.
    cuts
        Row positions ``i`` to cut after.
    seed
        Seed of the scrambled futures.
    instrument
        Passed to the kernels (session features need the asset class).
    """
    rng = np.random.default_rng(seed)
    arrays = BarArrays.from_frame(bars, instrument)
    with np.errstate(all="ignore"):
        full = np.asarray(spec.kernel(arrays), dtype=np.float64)
        problems: list[str] = []
        for cut in cuts:
            variants = {
                "truncated": spec.kernel(_truncate(arrays, cut)),
                "scrambled": spec.kernel(_scramble_future(arrays, cut, rng)),
            }
            for how, values in variants.items():
                head = np.asarray(values, dtype=np.float64)[: cut + 1]
                bad = np.flatnonzero(_differs(full[: cut + 1], head))
                if bad.size:
                    problems.append(
                        f"{spec.name}: {bad.size} value(s) at or before row {cut} change when "
                        f"the future is {how} (first at row {bad[0]})"
                    )
    return problems
