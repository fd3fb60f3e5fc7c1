"""A world for the service's tests, made by real code: a train run with the quantile model
(``alphaforge train``), its predictions (``alphaforge predict``), a demo run with a backtest
tear sheet (``alphaforge demo``), the demo universe's bars in the bar store, and a dry-run
trading ledger filled by replaying the last bars through the live node on the simulated
broker (plus a heartbeat, an alert, a job run and the node's risk decisions).

Building it takes a couple of minutes on two cores, so the modules that use it share one
(module-scoped fixtures in the same module).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import yaml

from alphaforge.config import AppConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.core.types import Instrument, Interval
from alphaforge.data.synthetic import generate_market
from alphaforge.features.store import FeatureStore
from alphaforge.live.replay import replay_dry_run
from alphaforge.pipeline.demo import synthetic_spec
from alphaforge.pipeline.train import load_training_universe
from alphaforge.service.pages.market import MARKET_FEATURES
from alphaforge.storage.bar_store import BarStore
from alphaforge.storage.ledger import Ledger

if TYPE_CHECKING:
    from conftest import RunCli

FAST = Path(__file__).parent / "fixtures" / "fast.yaml"
#: The trading mode of the world's ledger.
MODE = "dry-run"
#: Bars replayed through the node at the end of the demo universe's history.
REPLAYED_BARS = 60


@dataclass(frozen=True)
class World:
    """Where everything is, and the configuration the service runs with."""

    root: Path
    config: AppConfig
    config_path: Path
    ledger_url: str
    last_bar: pd.Timestamp


def _settings(root: Path) -> dict[str, object]:
    settings: dict[str, object] = yaml.safe_load(FAST.read_text(encoding="utf-8"))
    settings["data"] = {"store_dir": str(root / "store")}
    settings["run"] = {"runs_dir": str(root / "runs")}
    settings["train"] = {"quantiles": True}
    settings["execution"] = {"ledger_url": f"sqlite:///{root / 'ledger' / 'dry-run.sqlite'}"}
    # The dashboard shows the dry-run ledger, so `trade run --mode dry-run --once` (a real
    # node on the simulated broker) can carry out the commands the dashboard queues.
    settings["service"] = {"mode": MODE}
    settings["live"] = {"symbols": ["SYN00", "SYN01"]}
    settings["strategy"] = {"name": "ma_crossover", "params": {"fast": 5, "slow": 15}}
    settings["portfolio"] = {"constructor": "target_weights", "units": "whole", "top_k": 2}
    settings["risk"] = {"preset": "none"}
    return settings


def build_world(root: Path, run_cli: RunCli) -> World:
    """Build the world under ``root`` and return it."""
    settings = _settings(root)
    config_path = root / "alphaforge.yaml"
    config_path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    config = AppConfig.model_validate(settings)
    for args in (
        ["train", "--out", str(root / "runs" / "train")],
        ["predict"],
        ["demo"],
    ):
        result = run_cli([*args, "--config", str(config_path)], root, timeout=900)
        assert result.returncode == 0, result.stderr
    bars, instruments, interval, _ = load_training_universe(config, config.run.seed)
    store = BarStore(config.data.store_dir)
    for symbol, frame in bars.items():
        store.write(instruments[symbol], interval, frame, source="synthetic")
    _store_market_panel(config, bars, instruments, interval)
    index = next(iter(bars.values())).index
    start = index[-REPLAYED_BARS]
    url = config.execution.ledger_url_for(MODE)
    replay_dry_run(bars, instruments, config, start=start, ledger_url=url)
    _node_rows(url, index[-1])
    return World(root, config, config_path, url, pd.Timestamp(index[-1]))


def _store_market_panel(
    config: AppConfig,
    bars: dict[str, pd.DataFrame],
    instruments: dict[str, Instrument],
    interval: Interval,
) -> None:
    """The market page's panel features (regime, breadth, rotation, VIX) for the universe,
    with a synthetic ^VIX, stored as `alphaforge features build` stores them."""
    vix = generate_market(replace(synthetic_spec(config), n_symbols=1, symbol_prefix="VX"), 4)
    ((name, vix_bars),) = vix.bars.items()
    FeatureStore(config.data.store_dir).update_panel(
        config.train.universe,
        interval,
        bars | {"^VIX": vix_bars},
        list(MARKET_FEATURES),
        instruments | {"^VIX": replace(vix.instruments[name], symbol="^VIX", sector=None)},
    )


def _node_rows(url: str, last: pd.Timestamp) -> None:
    """What a running node also writes: its heartbeat, an alert, a job run, risk decisions."""
    clock = SimulatedClock(last + pd.Timedelta(hours=20))
    ledger = Ledger.open(url, clock=clock)
    try:
        ledger.set_checkpoint("mode", MODE)
        ledger.beat(f"node-{MODE}", {"mode": MODE, "broker": "simulated", "state": "active"})
        ledger.add_alert("warning", "feed", "SYN00: no bar for 2 sessions")
        run = ledger.start_job("end_of_day", last)
        ledger.finish_job(run, "done", "flat at the close: no")
        ledger.add_risk_decisions(
            [
                {
                    "time": last,
                    "symbol": "SYN00",
                    "intent_id": "i-1",
                    "action": "resize",
                    "piece": "max_position",
                    "rule": "position <= 20% of equity",
                    "limit": 0.2,
                    "observed": 0.25,
                    "before": 100.0,
                    "after": 80.0,
                    "reason": "trimmed to the limit",
                    "strategy": "ma_crossover",
                }
            ]
        )
    finally:
        ledger.close()
