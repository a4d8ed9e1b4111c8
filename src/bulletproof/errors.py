"""One tree of errors for the whole library.

The library raises; the CLI maps each error to an exit code::

    BulletproofError
    ├── ConfigError (also ValueError)        bad configuration or input   -> exit 2
    ├── SinkError                            a sink or notifier failed    -> exit 3
    │   └── SinkUnavailableError             could not connect at all
    └── SpoolError                           the on-disk spool is unusable -> exit 3

Added in 0.1.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "BulletproofError",
    "ConfigError",
    "SinkError",
    "SinkUnavailableError",
    "SpoolError",
    "did_you_mean",
]


class BulletproofError(Exception):
    """Base of every error bulletproof raises on purpose. Added in 0.1."""

    exit_code = 3


class ConfigError(BulletproofError, ValueError):
    """Configuration or input is invalid; the message names it and says how to fix it.

    Added in 0.1.
    """

    exit_code = 2


class SinkError(BulletproofError):
    """A sink or notifier could not deliver. Added in 0.1."""


class SinkUnavailableError(SinkError):
    """A sink or notifier could not be reached at all. Added in 0.1."""


class SpoolError(BulletproofError):
    """The on-disk spool cannot be used (permissions, another process holds it). Added in 0.1."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or ``""``.

    >>> did_you_mean("sinsk", ["sinks", "spool_dir"])
    " Did you mean 'sinks'?"

    Added in 0.1.
    """
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
