"""Volume features we compute ourselves (TA-Lib's OBV/AD/ADOSC/MFI are in talib_indicators)."""

from __future__ import annotations

import numpy as np

from alphaforge.features import kernels as k
from alphaforge.features.library._common import V
from alphaforge.features.registry import BarArrays, FloatArray, register


@register(
    "volume_z_20",
    category="volume",
    warmup=19,
    inputs=V,
    description="Z-score of log(1 + volume) against its 20-bar history.",
    params={"period": 20},
)
def volume_z_20(b: BarArrays) -> FloatArray:
    return k.zscore(np.log1p(b.volume), 20)
