"""The live trading node: the stages wired to a real clock, feed and broker."""
