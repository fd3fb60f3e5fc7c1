"""Plugins shared by the whole test suite."""

pytest_plugins = ["tests.pg"]
