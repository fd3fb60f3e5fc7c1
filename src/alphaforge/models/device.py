"""Where a model runs: pick CUDA only when the library in question can really use a GPU.

Every check is best-effort and never raises: a missing library, a CPU-only wheel, a driver
that cannot be loaded or an empty ``CUDA_VISIBLE_DEVICES`` all mean "no GPU", and the caller
falls back to the CPU. Results are cached per process because some probes (CatBoost's) touch
the driver.
"""

from __future__ import annotations

import importlib
import os
import warnings
from functools import cache
from pathlib import Path
from typing import Literal

Library = Literal["any", "torch", "xgboost", "catboost", "lightgbm", "sklearn"]

_REQUESTS = ("auto", "cpu", "cuda")
_LIBRARIES = ("any", "torch", "xgboost", "catboost", "lightgbm", "sklearn")


def _visible_devices_hidden() -> bool:
    # An empty or "-1" CUDA_VISIBLE_DEVICES hides every GPU from every CUDA library.
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    return value is not None and value.strip() in {"", "-1"}


@cache
def gpu_visible() -> bool:
    """Return True when an NVIDIA GPU is visible to this process (driver device node present).

    This says nothing about whether a given library was built with CUDA; the per-library
    helpers combine it with that.
    """
    if _visible_devices_hidden():
        return False
    if torch_cuda_available():
        return True
    return Path("/dev/nvidiactl").exists() and any(Path("/dev").glob("nvidia[0-9]*"))


@cache
def torch_cuda_available() -> bool:
    """Return True when PyTorch is installed with CUDA and sees at least one GPU."""
    if _visible_devices_hidden():
        return False
    try:
        torch = importlib.import_module("torch")
        return bool(torch.cuda.is_available())
    except Exception:  # an import or driver failure means no usable GPU
        return False


@cache
def xgboost_cuda_available() -> bool:
    """Return True when the installed XGBoost was built with CUDA and a GPU is visible."""
    try:
        xgboost = importlib.import_module("xgboost")
        built = bool(xgboost.build_info().get("USE_CUDA", False))
    except Exception:
        return False
    return built and gpu_visible()


@cache
def catboost_gpu_available() -> bool:
    """Return True when CatBoost reports at least one usable GPU."""
    # Only probe when a GPU is visible: the probe prints a driver error on machines without one.
    if not gpu_visible():
        return False
    try:
        utils = importlib.import_module("catboost.utils")
        return int(utils.get_gpu_device_count()) > 0
    except Exception:
        return False


def lightgbm_cuda_available() -> bool:
    """Return False: the LightGBM wheel on PyPI is built without CUDA, so it always runs on CPU."""
    return False


def library_cuda_available(library: Library) -> bool:
    """Return whether ``library`` can use a GPU here (``"any"``: at least one library can)."""
    if library == "torch":
        return torch_cuda_available()
    if library == "xgboost":
        return xgboost_cuda_available()
    if library == "catboost":
        return catboost_gpu_available()
    if library in ("lightgbm", "sklearn"):
        return False
    return torch_cuda_available() or xgboost_cuda_available() or catboost_gpu_available()


def resolve_device(requested: str = "auto", library: Library = "any") -> str:
    """Return ``"cuda"`` or ``"cpu"`` for a request of ``"auto"``, ``"cpu"`` or ``"cuda"``.

    ``"auto"`` picks CUDA when ``library`` can use a GPU here. ``"cuda"`` without a usable GPU
    falls back to the CPU with a warning rather than failing, so a configuration written for a
    GPU machine still runs on a laptop. An unknown request or library is a user error
    (:class:`ValueError`).
    """
    request = requested.strip().lower()
    if request not in _REQUESTS:
        raise ValueError(f"device must be one of {', '.join(_REQUESTS)}; got {requested!r}")
    if library not in _LIBRARIES:
        raise ValueError(f"library must be one of {', '.join(_LIBRARIES)}; got {library!r}")
    if request == "cpu":
        return "cpu"
    available = library_cuda_available(library)
    if request == "cuda" and not available:
        warnings.warn(
            f"device='cuda' requested but {library} cannot use a GPU here; running on the CPU",
            RuntimeWarning,
            stacklevel=2,
        )
    return "cuda" if available else "cpu"
