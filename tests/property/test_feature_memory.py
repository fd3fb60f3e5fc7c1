"""Every feature's declared ``memory`` is enough to recompute its recent values exactly.

The feature store's incremental update recomputes a feature on only the last ``memory + k``
bars; this checks, for every registered feature with a finite memory, that doing so gives the
full-history values of the last ``k`` bars to 1e-9.
"""

from __future__ import annotations

import numpy as np
import pytest

from alphaforge.features import FEATURES
from alphaforge.features.registry import BarArrays
from alphaforge.features.testing import instrument_for, random_bars

NEW_BARS = 40
EXTRA_HISTORY = 300


@pytest.mark.parametrize("name", FEATURES.names())
def test_memory_is_enough_for_an_exact_recompute(name: str) -> None:
    spec = FEATURES.get(name)
    if spec.memory is None:
        pytest.skip("unbounded memory: recomputed on the full history")
    assert spec.memory >= spec.warmup
    n = spec.memory + NEW_BARS + EXTRA_HISTORY
    instrument = (
        None
        if spec.asset_classes is None
        else instrument_for(sorted(spec.asset_classes, key=lambda a: a.value)[0])
    )
    full_arrays = BarArrays.from_frame(random_bars(11, n), instrument)
    with np.errstate(all="ignore"):
        full = np.asarray(spec.kernel(full_arrays), dtype=np.float64)[-NEW_BARS:]
        part = np.asarray(spec.kernel(full_arrays.tail(spec.memory + NEW_BARS)), dtype=np.float64)[
            -NEW_BARS:
        ]
    np.testing.assert_allclose(part, full, rtol=1e-9, atol=1e-12, equal_nan=True)
