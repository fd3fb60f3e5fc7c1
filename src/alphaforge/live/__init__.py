"""The live trading node: bars in, the backtest's strategy, portfolio and risk code, orders out."""
