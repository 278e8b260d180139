"""Every error perstack_logq raises on purpose, each mapped to one exit code.

The CLI prints ``Error: <message>`` on one line and exits with ``exit_code``; a traceback is
shown only with ``--debug``. Exit codes (documented in README.md):

- 1: an unexpected failure (a bug): please report it
- 2: usage: bad options, bad identifiers, a bad ``perstack.toml``
- 3: storage: the store cannot be reached or read (missing directory, bucket, credentials)
- 4: query: the SQL given by the user failed or was refused by the sandbox
"""

from __future__ import annotations


class LogqError(Exception):
    """Base of the errors that carry a message fit for the user."""

    exit_code = 1


class UsageError(LogqError):
    """The user asked for something malformed (options, identifiers, configuration)."""

    exit_code = 2


class ConfigError(UsageError):
    """``perstack.toml`` or a ``--storage`` location is invalid."""


class StorageError(LogqError):
    """The store cannot be listed or read."""

    exit_code = 3


class QueryError(LogqError):
    """User SQL failed, or touched something the sandbox forbids."""

    exit_code = 4
