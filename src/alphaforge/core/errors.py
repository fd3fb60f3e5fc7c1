"""Errors that reach the user as one line and a non-zero exit code.

Every error a user can cause (bad input, bad configuration, missing credentials, no network)
is an :class:`AlphaForgeError` carrying a ``hint`` that says what to do. The CLI prints
``message`` and ``hint`` and exits; it never shows a traceback for these.
"""

from __future__ import annotations


class AlphaForgeError(Exception):
    """Base of every error that is the user's to fix.

    Parameters
    ----------
    message
        What went wrong, in one sentence.
    hint
        What to do about it, in one sentence.
    """

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """Return the message and hint joined as the CLI prints them."""
        return f"{self.message} {self.hint}".strip()


class ConfigError(AlphaForgeError):
    """The configuration file or an environment variable holds an invalid value."""


class DataError(AlphaForgeError):
    """Input data is malformed, missing columns, or fails validation beyond repair."""


class UnknownSymbolError(DataError):
    """A data source knows nothing about a requested symbol."""


class SourceUnavailableError(AlphaForgeError):
    """An online data source cannot be reached (no network, service down, rate limited)."""

    exit_code = 3


class MissingCredentialsError(AlphaForgeError):
    """A service needs an API key that is not set in the environment or `.env`."""


class DataHealthError(AlphaForgeError):
    """Stored data scores below the configured health threshold for a run."""


class RegistryError(AlphaForgeError):
    """A name is unknown to a registry (feature, model, source, ...)."""


class NotFoundError(AlphaForgeError):
    """A named thing (a run, a symbol, a model) does not exist where it was looked for.

    The service answers it with 404 and the message; the CLI prints it in one line.
    """
