"""The dashboard and HTTP API (``alphaforge serve``).

It reads what the other stages wrote (the trading ledger, run directories, the model
registry, the stores and the trial ledger) and never runs the trading loop: a control
(pause, resume, flatten, cancel, run a job) is a command row the node carries out. It imports
neither :mod:`alphaforge.live` nor :mod:`alphaforge.execution` (an import-linter contract).
"""
