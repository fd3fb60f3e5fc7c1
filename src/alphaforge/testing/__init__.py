"""Public fakes for tests and examples: local servers that real clients talk to.

Nothing in a stage imports this package (import-linter's top layer); tests, the example
notebook and benchmarks start a fake, point the real client at its 127.0.0.1 address and
script its faults.
"""
