"""Time the feature engine on synthetic daily bars and check it against its targets.

Run alone (``.venv/bin/python benchmarks/features.py --symbols 500 --bars 2520``, or
``--symbols 20`` for a quick look) or through ``make bench``. Every figure is measured here,
now:

* the full feature set computed symbol by symbol through ``compute`` after one warm-up call,
  in a subprocess that keeps every result as float32 (its peak resident memory is the memory
  figure);
* the first call in a fresh process: ``import alphaforge.features`` plus one symbol's compute
  (numba compiles, or loads its on-disk cache);
* the TA-Lib subset (every feature whose spec names a TA-Lib call) through the engine against
  the same TA-Lib functions called directly in one loop on the same arrays (process CPU
  time, best of 5);
* with ``--jobs N``, the full set again on N processes sharing the symbols (the 60 s target
  is stated for 2 cores).

The wall times depend on what else runs on the machine: the table shows the CPU time of the
single-process run and the load average beside them.

Targets are stated for 500 symbols x 2,520 bars; for other sizes the time target is scaled by
the number of bars computed (marked ``scaled``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from table import Row, print_table  # benchmarks/table.py, beside this script
from table import status as _status

#: The sizes the targets are stated for.
TARGET_SYMBOLS = 500
TARGET_BARS = 2_520
#: Seconds for the full set on TARGET_SYMBOLS x TARGET_BARS.
TARGET_FULL_SECONDS = 60.0
#: Seconds for a fresh process's import and first compute of one symbol.
TARGET_FIRST_CALL_SECONDS = 30.0
#: Engine time over direct TA-Lib time on the TA-Lib subset.
TARGET_TALIB_RATIO = 1.5
#: Peak resident memory of the full run, bytes.
TARGET_PEAK_BYTES = 4 * 1024**3
#: Symbols used for the TA-Lib comparison, and its repeats.
TALIB_SYMBOLS = 20
TALIB_REPEATS = 5

_FIRST_CALL = """
import json, time
t0 = time.perf_counter()
import os
from alphaforge.core.bootstrap import bootstrap_process
from alphaforge.features import compute
from alphaforge.features.testing import random_bars
bootstrap_process(os.environ)
t1 = time.perf_counter()
bars = random_bars(0, {bars})
t2 = time.perf_counter()
frame = compute(bars)
t3 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "compute_s": t3 - t2, "features": frame.shape[1]}}))
"""


def _bars(seed: int, n: int) -> Any:
    from alphaforge.features.testing import random_bars

    return random_bars(seed, n)


# --------------------------------------------------------------------------- subprocess work


def _engine_worker(symbols: int, bars: int, first: int = 0) -> dict[str, Any]:
    """Compute the full set for every symbol, keep float32 results, report time and memory."""
    from alphaforge.core.bootstrap import bootstrap_process
    from alphaforge.features import compute

    bootstrap_process(os.environ)  # as the CLI and every worker process do

    frames = [_bars(seed, bars) for seed in range(first, first + symbols)]
    warm = compute(frames[0])
    names = list(warm.columns)
    results = np.empty((symbols, bars, len(names)), dtype=np.float32)
    started = time.perf_counter()
    cpu_started = time.process_time()
    for i, frame in enumerate(frames):
        results[i] = compute(frame).to_numpy(dtype=np.float32)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    finite = float(np.isfinite(results[:, -1, :]).mean())
    peak = _peak_rss()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "features": len(names),
        "peak_bytes": peak,
        "result_bytes": results.nbytes,
        "finite_last_row": finite,
    }


def _peak_rss() -> int:
    """Return this process's peak resident memory in bytes.

    ``VmHWM`` where Linux has it: ``ru_maxrss`` of a child can hold its parent's peak from
    before the ``exec`` (the kernel carries it over), which would count the parent's memory.
    """
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)  # macOS bytes, Linux KiB


def _run_json(
    command: Sequence[str], timeout: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    completed = subprocess.run(
        list(command), capture_output=True, text=True, timeout=timeout, check=False, env=env
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:3])} ... failed ({completed.returncode}):\n{completed.stderr}"
        )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _worker_command(symbols: int, bars: int, first: int) -> list[str]:
    script = str(Path(__file__).resolve())
    return [
        sys.executable,
        script,
        "--worker",
        "--symbols",
        str(symbols),
        "--bars",
        str(bars),
        "--first",
        str(first),
    ]


def _engine(symbols: int, bars: int) -> dict[str, Any]:
    return _run_json(_worker_command(symbols, bars, 0), timeout=3600)


def _engine_parallel(symbols: int, bars: int, jobs: int) -> float:
    """Return the wall time of ``jobs`` worker processes sharing the symbols (the slowest)."""
    shares = [symbols // jobs + (1 if i < symbols % jobs else 0) for i in range(jobs)]
    starts = [sum(shares[:i]) for i in range(jobs)]
    processes = [
        subprocess.Popen(
            _worker_command(share, bars, start), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for share, start in zip(shares, starts, strict=True)
        if share > 0
    ]
    slowest = 0.0
    for process in processes:
        out, err = process.communicate(timeout=3600)
        if process.returncode != 0:
            raise RuntimeError(f"worker failed ({process.returncode}):\n{err.decode()}")
        slowest = max(slowest, float(json.loads(out.decode().strip().splitlines()[-1])["seconds"]))
    return slowest


def _first_call(bars: int, *, cold: bool = False) -> dict[str, Any]:
    """Time import + first compute in a new process; ``cold`` empties numba's disk cache."""
    command = [sys.executable, "-c", _FIRST_CALL.format(bars=bars)]
    if not cold:
        return _run_json(command, timeout=600)
    with tempfile.TemporaryDirectory() as cache:
        # An empty cache directory makes numba compile every kernel, as on a fresh install.
        return _run_json(command, timeout=600, env={**os.environ, "NUMBA_CACHE_DIR": cache})


# --------------------------------------------------------------------------- TA-Lib subset


def _talib_subset(n_symbols: int, bars: int) -> dict[str, Any]:
    """Time the TA-Lib-named features through the engine and the same calls made directly."""
    import talib

    from alphaforge.features import FEATURES, compute
    from alphaforge.features.talib_calls import input_columns

    names = [
        n
        for n in FEATURES.names()
        if FEATURES.get(n).talib is not None and FEATURES.get(n).asset_classes is None
    ]
    if not names:
        return {"features": 0, "calls": 0, "engine_s": float("nan"), "direct_s": float("nan")}
    calls: dict[tuple[str, tuple[tuple[str, float | int], ...]], None] = {}
    for name in names:
        ref = FEATURES.get(name).talib
        assert ref is not None
        function, params, _ = ref
        calls[(function, tuple(sorted(params.items())))] = None
    plan = [
        (getattr(talib, function), input_columns(function), dict(params))
        for function, params in calls
    ]
    frames = [_bars(1_000 + seed, bars) for seed in range(n_symbols)]
    arrays = [
        {c: np.ascontiguousarray(f[c].to_numpy(dtype=np.float64)) for c in f.columns}
        for f in frames
    ]

    def engine() -> None:
        for frame in frames:
            compute(frame, names)

    def direct() -> None:
        # The outputs are kept for the symbol, as the engine keeps its values.
        for columns in arrays:
            kept = [fn(*[columns[c] for c in inputs], **params) for fn, inputs, params in plan]
            del kept

    engine()  # warm-up
    direct()
    engine_times: list[float] = []
    direct_times: list[float] = []
    # CPU time of this process: other processes sharing the CPUs do not inflate it.
    for _ in range(TALIB_REPEATS):
        for work, times in ((engine, engine_times), (direct, direct_times)):
            started = time.process_time()
            work()
            times.append(time.process_time() - started)
    return {
        "features": len(names),
        "calls": len(plan),
        "engine_s": min(engine_times),
        "direct_s": min(direct_times),
    }


# --------------------------------------------------------------------------- the table


def run(symbols: int = TARGET_SYMBOLS, bars: int = TARGET_BARS, jobs: int = 1) -> list[Row]:
    """Measure everything and return the rows of the result table."""
    scale = (symbols * bars) / (TARGET_SYMBOLS * TARGET_BARS)
    scaled = "" if symbols == TARGET_SYMBOLS and bars == TARGET_BARS else " (scaled)"
    engine = _engine(symbols, bars)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    parallel = _engine_parallel(symbols, bars, jobs) if jobs > 1 else None
    first = _first_call(bars)
    cold = _first_call(bars, cold=True)
    talib_result = _talib_subset(min(symbols, TALIB_SYMBOLS), bars)

    n_features = int(engine["features"])
    full_s = float(engine["seconds"])
    full_target = TARGET_FULL_SECONDS * scale
    throughput = symbols * bars * n_features / full_s
    throughput_target = TARGET_SYMBOLS * TARGET_BARS * n_features / TARGET_FULL_SECONDS
    first_s = float(first["import_s"]) + float(first["compute_s"])
    ratio = float(talib_result["engine_s"]) / float(talib_result["direct_s"])
    peak = int(engine["peak_bytes"])
    gib = 1024**3
    return [
        Row("features in the default set", f"{n_features}", "", ""),
        Row(
            f"full set, {symbols} symbols x {bars} bars, symbol by symbol (s)",
            f"{full_s:.2f}",
            f"<= {full_target:.1f}{scaled}",
            _status(full_s <= full_target),
        ),
        Row(
            "  CPU time of that run (s; below the wall time when the CPUs are shared)",
            f"{float(engine['cpu_seconds']):.2f}",
            "",
            "",
        ),
        Row(f"  load average (1 min) after it, {os.cpu_count()} CPUs", f"{load:.1f}", "", ""),
        *(
            []
            if parallel is None
            else [
                Row(
                    f"full set on {jobs} processes, each a share of the symbols (wall s)",
                    f"{parallel:.2f}",
                    f"<= {full_target:.1f}{scaled}",
                    _status(parallel <= full_target),
                )
            ]
        ),
        Row(
            "per symbol (ms)",
            f"{1000 * full_s / symbols:.1f}",
            f"<= {1000 * TARGET_FULL_SECONDS / TARGET_SYMBOLS:.0f}",
            _status(full_s / symbols <= TARGET_FULL_SECONDS / TARGET_SYMBOLS),
        ),
        Row(
            "rows x features per second",
            f"{throughput:,.0f}",
            f">= {throughput_target:,.0f}",
            _status(throughput >= throughput_target),
        ),
        Row(
            f"fresh process: import alphaforge.features (s), {first['features']} features",
            f"{float(first['import_s']):.2f}",
            "",
            "",
        ),
        Row(
            "fresh process: first compute of 1 symbol (s)",
            f"{float(first['compute_s']):.2f}",
            "",
            "",
        ),
        Row(
            "fresh process: import + first call (s)",
            f"{first_s:.2f}",
            f"<= {TARGET_FIRST_CALL_SECONDS:.0f}",
            _status(first_s <= TARGET_FIRST_CALL_SECONDS),
        ),
        Row(
            "fresh install: import + first call, numba compiling (s)",
            f"{float(cold['import_s']) + float(cold['compute_s']):.2f}",
            f"<= {TARGET_FIRST_CALL_SECONDS:.0f}",
            _status(
                float(cold["import_s"]) + float(cold["compute_s"]) <= TARGET_FIRST_CALL_SECONDS
            ),
        ),
        Row(
            f"TA-Lib subset ({talib_result['features']} features, {talib_result['calls']} calls) "
            f"x {min(symbols, TALIB_SYMBOLS)} symbols: engine (CPU s)",
            f"{float(talib_result['engine_s']):.4f}",
            "",
            "",
        ),
        Row(
            "TA-Lib subset: the same TA-Lib calls made directly (CPU s)",
            f"{float(talib_result['direct_s']):.4f}",
            "",
            "",
        ),
        Row(
            "TA-Lib subset: engine / direct",
            f"{ratio:.2f}",
            f"<= {TARGET_TALIB_RATIO}",
            _status(ratio <= TARGET_TALIB_RATIO),
        ),
        Row(
            f"peak memory, all results kept as float32 ({engine['result_bytes'] / gib:.2f} GiB)",
            f"{peak / gib:.2f} GiB",
            f"< {TARGET_PEAK_BYTES / gib:.0f} GiB",
            _status(peak < TARGET_PEAK_BYTES),
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run the benchmark and print its table; 1 if a target failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=TARGET_SYMBOLS)
    parser.add_argument("--bars", type=int, default=TARGET_BARS)
    parser.add_argument(
        "--jobs", type=int, default=1, help="Also time the full set on this many processes."
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.symbols < 1 or args.bars < 2:
        parser.error("--symbols must be >= 1 and --bars >= 2")
    if args.worker:
        print(json.dumps(_engine_worker(args.symbols, args.bars, args.first)))
        return 0
    rows = run(args.symbols, args.bars, max(args.jobs, 1))
    print_table(
        rows, f"Feature engine: {args.symbols} symbols x {args.bars} daily bars (seeded, synthetic)"
    )
    return 1 if any(row.status == "FAIL" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
