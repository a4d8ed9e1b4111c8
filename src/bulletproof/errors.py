"""One tree of errors for the whole library.

The library raises; the CLI maps each error to an exit code::

    BulletproofError
    ├── ConfigError (also ValueError)        bad configuration or input    -> exit 2
    │   └── OutOfRangeError                  a setting outside what it accepts
    ├── SinkError                            a sink or notifier failed     -> exit 3
    │   └── SinkUnavailableError             could not connect at all
    ├── SpoolError                           the on-disk spool is unusable -> exit 3
    │   └── SpoolWriteError                  a spool write failed (disk full, I/O)
    │       └── SpoolFullError               over its bound, no room made yet
    ├── HeaderRenderError                    a header could not be rendered for a response
    ├── FetchError                           a URL could not be fetched    -> exit 3
    ├── AppError                             an app called in-process failed -> exit 3
    ├── UngradableError                      a scan cannot be graded       -> exit 3
    └── AuditDataError                       vulnerability data unusable   -> exit 3

Catch the base class to handle anything the library raises, and read ``exit_code`` for the
status a command-line tool should end with:

>>> from bulletproof.errors import BulletproofError, ConfigError
>>> try:
...     raise ConfigError("bulletproof.toml: [events] timeout = 0 is not above 0")
... except BulletproofError as err:
...     print(type(err).__name__, err.exit_code, isinstance(err, ValueError))
ConfigError 2 True

Added in 0.1.
"""

from __future__ import annotations

__all__ = [
    "AppError",
    "AuditDataError",
    "BulletproofError",
    "ConfigError",
    "FetchError",
    "HeaderRenderError",
    "OutOfRangeError",
    "SinkError",
    "SinkUnavailableError",
    "SpoolError",
    "SpoolFullError",
    "SpoolWriteError",
    "UngradableError",
]


class BulletproofError(Exception):
    """Base of every error bulletproof raises on purpose. Added in 0.1."""

    exit_code = 3


class ConfigError(BulletproofError, ValueError):
    """Configuration or input is invalid; the message names it and says how to fix it.

    Added in 0.1.
    """

    exit_code = 2


class OutOfRangeError(ConfigError):
    """A setting is outside what it accepts; raised by a config section's ``__post_init__``.

    ``rule`` says what to use (``"use at least 4KiB"``); ``blame`` names other settings to
    report it at when this one was not written (the bound comes from them).

    Added in 0.1.
    """

    def __init__(self, setting: str, value: object, rule: str, blame: tuple[str, ...] = ()) -> None:
        super().__init__(f"{setting} = {value!r} is out of range: {rule}.")
        self.setting = setting
        self.value = value
        self.rule = rule
        self.blame = blame


class SinkError(BulletproofError):
    """A sink or notifier could not deliver. Added in 0.1."""


class SinkUnavailableError(SinkError):
    """A sink or notifier could not be reached at all. Added in 0.1."""


class SpoolError(BulletproofError):
    """The on-disk spool cannot be used (permissions, another process holds it). Added in 0.1."""


class SpoolWriteError(SpoolError):
    """A spool write failed (disk full, I/O error). ``written`` records of the batch are on
    disk, the rest are not; ``errno`` is the operating system's error number. Added in 0.1."""

    def __init__(self, message: str, *, written: int, errno_: int | None) -> None:
        super().__init__(message)
        self.written = written
        self.errno = errno_


class SpoolFullError(SpoolWriteError):
    """The spool directory is over its byte bound and the deliverer has not made room yet.

    Added in 0.1.
    """


class HeaderRenderError(BulletproofError):
    """A header could not be rendered for one response.

    Raised by :meth:`~bulletproof.headers.HeaderPolicy.render` when a callable CSP directive
    value raises or returns something Helmet would reject, or when the nonce given is not a
    valid CSP nonce. Helmet answers such a request with a 500; the middleware does the same.

    Added in 0.1.
    """


class FetchError(BulletproofError):
    """Neither HTTPS nor plain HTTP could be fetched (DNS, refused, timeout, ...). Exit code 3.

    Added in 0.1.
    """

    exit_code = 3


class AppError(BulletproofError):
    """An app called in-process failed to answer: it raised, timed out or broke the protocol.
    Exit code 3.

    Added in 0.1.
    """

    exit_code = 3


class UngradableError(BulletproofError):
    """The scan cannot be graded: the site is down or answered with an unexpected status.

    The Observatory grades only 2xx, 3xx, 401 and 403 responses. Exit code 3.

    Added in 0.1.
    """

    exit_code = 3


class AuditDataError(BulletproofError):
    """The vulnerability data cannot be used: missing, damaged, too old, or not downloadable.
    The message names the file or URL and how to get a good copy. Exit code 3 (the audit
    could not check everything); the CLI exits 2 when the data is a file the user named.

    Added in 0.1.
    """

    exit_code = 3
