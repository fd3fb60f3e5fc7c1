"""``examples/alpaca_bot.ipynb`` runs top to bottom against the fake Alpaca (nbclient) and shows
what it says: one order per session in the ledger and at the broker, a restart that sends
nothing, and the manual controls carried out by the running node."""

from __future__ import annotations

import base64
import json
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from alphaforge.data.calendars import session_dates

NOTEBOOK = Path(__file__).parents[2] / "examples" / "alpaca_bot.ipynb"
#: The sessions the notebook trades: the last seven before GOOG's final sample bar.
SESSIONS = session_dates("XNYS", "2013-02-20", "2013-02-28")
#: A ledger order row of the orders table: client id, symbol, quantity, type, status, filled,
#: average price.
ORDER_ROW = re.compile(
    r"(af-\d{10}-[0-9a-f]{16})\s+GOOG\s+(-?\d+\.\d+)\s+market\s+(\w+)\s+(-?\d+\.\d+)\s+(\d+\.\d+)"
)


def _kernel(tmp_path: Path) -> KernelManager:
    """Return a kernel manager for this interpreter (not whatever ``python3`` names)."""
    spec = tmp_path / "kernels" / "alphaforge-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "alphaforge test", "language": "python"}),
        encoding="utf-8",
    )
    specs = KernelSpecManager(kernel_dirs=[str(spec.parent)], ensure_native_kernel=False)
    return KernelManager(kernel_name="alphaforge-test", kernel_spec_manager=specs)


def _execute(tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    """Run the notebook once; return each tagged cell's outputs by tag."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    kernel = _kernel(tmp_path)
    client = NotebookClient(
        notebook, km=kernel, timeout=90, resources={"metadata": {"path": str(tmp_path)}}
    )
    try:
        client.execute()
    finally:
        # A kernel manager passed in is the caller's to shut down (nbclient leaves it).
        if client.kc is not None:
            client.kc.stop_channels()
        if kernel.has_kernel:
            kernel.shutdown_kernel(now=True)
    return {
        tag: list(cell.outputs)
        for cell in notebook.cells
        if cell.cell_type == "code"
        for tag in cell.metadata.get("tags", [])
    }


def _values(trace_field: list[float] | dict[str, str]) -> list[float]:
    """Return a plotly array, which plotly may write as base64 with its dtype."""
    if isinstance(trace_field, dict):
        raw = base64.b64decode(trace_field["bdata"])
        return np.frombuffer(raw, dtype=trace_field["dtype"]).tolist()
    return list(trace_field)


def _text(outputs: list[dict[str, Any]]) -> str:
    """Return a cell's printed text and the plain-text form of its displayed value."""
    parts = []
    for output in outputs:
        if output["output_type"] == "stream" and output["name"] == "stdout":
            parts.append(output["text"])
        elif "data" in output and "text/plain" in output["data"]:
            parts.append(output["data"]["text/plain"])
    return "\n".join(parts)


def test_the_stored_notebook_has_no_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_the_notebook_runs_the_bot_against_the_fake_alpaca(tmp_path: Path) -> None:
    # One execution (about 25 s) checked three ways; one test, so xdist runs it once.
    executed = _execute(tmp_path)
    _check_orders(executed)
    _check_plot(executed)
    _check_controls(executed)


def _check_orders(executed: dict[str, list[dict[str, Any]]]) -> None:
    """One order per session in the ledger and at the broker; a restart sends nothing."""
    first = _text(executed["first-run"])
    assert re.search(r"af-1302200000-[0-9a-f]{16}\s+GOOG\s+\+\d+\s+filled", first)
    assert "already executed | orders at the venue: 1" in _text(executed["restart"])

    rows = ORDER_ROW.findall(_text(executed["orders"]))
    assert [cid[:13] for cid, *_ in rows] == [f"af-{s:%y%m%d}0000" for s in SESSIONS]
    assert all(status == "filled" and qty == filled for _, qty, status, filled, _ in rows)
    held = sum(float(qty) for _, qty, *_ in rows)

    fills = _text(executed["fills"])
    assert all(cid in fills for cid, *_ in rows)
    assert f"positions: GOOG {held:+g}" in _text(executed["status"])
    assert "state: active" in _text(executed["status"])
    assert re.search(rf"GOOG\s+{held:.1f}", _text(executed["positions"]))

    # Equity marked at each session's close: cash + shares x close, one row per session.
    replay = _text(executed["replay"])
    assert len(re.findall(r"^2013-02-\d\d: [+-]\d+ filled$", replay, re.MULTILINE)) == 6


def _check_plot(executed: dict[str, list[dict[str, Any]]]) -> None:
    """The plot shows each session's fill and the equity at each close."""
    (figure,) = [o["data"] for o in executed["plot"] if "data" in o]
    traces = figure["application/vnd.plotly.v1+json"]["data"]
    assert [t["name"] for t in traces] == ["close", "fills (green: buy)", "equity"]
    fills, equity = _values(traces[1]["y"]), _values(traces[2]["y"])
    assert len(fills) == len(SESSIONS) and len(equity) == len(SESSIONS)
    # Fills near GOOG's price then; the account's equity near its $100,000 start.
    assert all(700 < price < 900 for price in fills)
    assert all(abs(value - 100_000) < 5_000 for value in equity)


def _check_controls(executed: dict[str, list[dict[str, Any]]]) -> None:
    """The running node carries out pause, resume, reconcile, cancel and flatten."""
    pause = _text(executed["pause"])
    assert "pause #1: done: paused: no new orders" in pause
    assert "state: halted (paused by hand" in pause and "resume #2: done: resumed" in pause

    reconcile = _text(executed["reconcile"])
    assert "reconcile #3: done: 1 repairs, 0 unresolved" in reconcile
    (moved,) = re.findall(r"(\d+)\s+(\d+)\s+position_changed_by_hand$", reconcile, re.MULTILINE)
    assert int(moved[1]) == int(moved[0]) + 5
    assert re.search(r"by-hand-1\s+GOOG\s+1\.0\s+limit\s+accepted", reconcile)

    flatten = _text(executed["flatten"])
    assert "cancel #4: done: cancel sent" in flatten
    assert "flatten #5: done: flattening: 1 closing orders" in flatten
    assert "state: reducing (flatten by hand" in flatten and "positions: flat" in flatten
    assert "resume #6: done: resumed" in flatten

    final = _text(executed["final-orders"])
    assert re.search(r"by-hand-1\s+1\.0\s+limit\s+cancelled", final)
    assert re.search(rf"af-\d{{10}}-[0-9a-f]{{16}}\s+-{moved[1]}\.0\s+market\s+filled", final)

    stop = _text(executed["stop"])
    assert "node stopped: True | errors: none" in stop
    assert "ledger positions: {} | broker positions: {}" in stop
