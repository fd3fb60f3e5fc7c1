"""The process bootstrap: malloc tuning happens once, in the CLI's process, never in a stage."""

from __future__ import annotations

import subprocess
import sys

import pytest

from alphaforge.config import load_config
from alphaforge.core.bootstrap import MALLOC_TUNING_ENV_VAR, bootstrap_process


def test_switched_off_by_the_environment() -> None:
    assert bootstrap_process({MALLOC_TUNING_ENV_VAR: "0"}) == {"malloc_tuning": False}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_applied_on_linux() -> None:
    assert bootstrap_process({}) == {"malloc_tuning": True}


def test_computing_features_leaves_the_allocator_alone() -> None:
    # A fresh process: computing features must not tune malloc behind the caller's back.
    script = (
        "import alphaforge.core.allocator as a\n"
        "from alphaforge.features import compute\n"
        "from alphaforge.features.testing import random_bars\n"
        "compute(random_bars(0, 300), ['rsi_14'])\n"
        "print(a._done)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False"


def test_the_switch_is_not_mistaken_for_a_setting() -> None:
    # ALPHAFORGE_MALLOC_TUNING names no config field; the loader must not refuse it.
    load_config(None, environ={MALLOC_TUNING_ENV_VAR: "0"}, dotenv_path=None)
