"""One parser for each kind of value people write: sizes, durations, flags, whole numbers.

The config file, the environment (``BULLETPROOF_*``), keyword arguments and sink URL options
(``?timeout=1500ms``, ``?max_bytes=100MiB``, ``?fsync=yes``) all accept the same forms, because
they all call these. Each raises :class:`~bulletproof.errors.ConfigError` naming what was given
(``what``), the value and the accepted forms or range; all run in linear time on any input.

>>> parse_size("256MiB", "spool_max_bytes"), parse_duration("1500ms", "timeout")
(268435456, 1.5)
>>> parse_bool("yes", "fsync"), parse_whole("12", "keep", low=0, high=100)
(True, 12)

Added in 0.1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Final

from bulletproof.errors import ConfigError

__all__ = [
    "BOOL_WORDS",
    "MAX_DURATION",
    "MAX_SIZE",
    "parse_bool",
    "parse_duration",
    "parse_size",
    "parse_whole",
    "shown",
]

MAX_SIZE: Final = 1 << 50
"""The largest size :func:`parse_size` accepts: 1024TiB (1PiB). Added in 0.1."""

MAX_DURATION: Final = 365 * 86400.0
"""The longest duration :func:`parse_duration` accepts: a year. Added in 0.1."""

BOOL_WORDS: Final[Mapping[str, bool]] = {
    "true": True,
    "false": False,
    "1": True,
    "0": False,
    "yes": True,
    "no": False,
    "on": True,
    "off": False,
}
"""The words :func:`parse_bool` takes (any case). Added in 0.1."""

_SIZE: Final = re.compile(r"^\s*(\d+)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_SIZE_UNITS: Final = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "ki": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "mi": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "gi": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1024**4,
    "ti": 1024**4,
}
_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?\s*$", re.IGNORECASE)
_DURATION_UNITS: Final[Mapping[str, float]] = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_DIGITS: Final = re.compile(r"\s*[+-]?[0-9]+\s*")
_LONG: Final = 30
"""More digits than this are beyond any range: such numbers are never handed to int()."""


def shown(value: object) -> str:
    """A short form of ``value`` for a message: long text cut, huge numbers not printed.

    Added in 0.1.
    """
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(value) if abs(value) < 10**_LONG else f"(a number of more than {_LONG} digits)"
    if isinstance(value, str):
        return repr(value) if len(value) <= 80 else repr(value[:77] + "...")
    return repr(value)


def parse_size(text: str | int, what: str) -> int:
    """``"100MiB"`` -> 104857600: a number of bytes from 0 to 1024TiB (1PiB, ``1 << 50``), or a
    string of digits with an optional unit (``k``/``kb``/``kib``, ``m``..., ``g``..., ``t``...).

    Added in 0.1.
    """
    in_range = f"use a size from 0 to 1024TiB ({MAX_SIZE} bytes)"
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise ConfigError(f"{what} = {shown(text)}: a size cannot be negative; {in_range}")
        if text > MAX_SIZE:
            raise ConfigError(f"{what} = {shown(text)} is out of range: {in_range}")
        return text
    value = str(text)
    label = repr(value) if len(value) <= 40 else repr(value[:37] + "...")
    m = _SIZE.match(value)
    if not m or (m.group(2) or "").lower() not in _SIZE_UNITS:
        raise ConfigError(
            f"{what} = {label} is not a size: use a number of bytes or a value like "
            "'512KiB', '100MiB', '1GB'"
        )
    # Decide on the digit count first: int() of a long digit string costs more than linear
    # time (and refuses more than 4300 digits); 1024TiB has 16 digits.
    digits = m.group(1).lstrip("0") or "0"
    size = int(digits) * _SIZE_UNITS[(m.group(2) or "").lower()] if len(digits) <= 17 else None
    if size is None or size > MAX_SIZE:
        raise ConfigError(f"{what} = {label} is out of range: {in_range}")
    return size


def parse_duration(value: str | float, what: str) -> float:
    """Seconds from a number of seconds or a string like ``"250ms"``, ``"5s"``, ``"2m"``,
    ``"1h"``, ``"1d"`` (a bare number string is seconds), from 0 to 365 days.

    >>> parse_duration("250ms", "durability_lag"), parse_duration("2m", "cooldown")
    (0.25, 120.0)

    Added in 0.1.
    """
    number: float | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        # Clamped first: float() of a huge int raises OverflowError.
        number = float(max(-1, min(value, int(MAX_DURATION) + 1)))
    elif isinstance(value, float):
        number = value if math.isfinite(value) else None
    elif isinstance(value, str):
        m = _DURATION.match(value)
        if m:  # float() takes linear time; a long digit string becomes inf: out of range
            number = float(m.group(1)) * _DURATION_UNITS[(m.group(2) or "s").lower()]
    if number is None or number < 0:
        raise ConfigError(
            f"{what} = {shown(value)} is not a duration: use a number of seconds >= 0 or a "
            "value like '250ms', '5s', '2m', '1h' or '1d'."
        )
    if number > MAX_DURATION:
        raise ConfigError(
            f"{what} = {shown(value)} is out of range: use a duration from 0 to 365d "
            f"({int(MAX_DURATION)} seconds)."
        )
    return number


def parse_bool(value: str | bool, what: str) -> bool:
    """``True``/``False``, or one of the words in :data:`BOOL_WORDS` (any case).

    Added in 0.1.
    """
    if isinstance(value, bool):
        return value
    flag = BOOL_WORDS.get(str(value).strip().lower())
    if flag is None:
        raise ConfigError(
            f"{what} = {shown(value)} is not true or false "
            "(accepted: true, false, 1, 0, yes, no, on, off)."
        )
    return flag


def parse_whole(
    value: str | int, what: str, *, low: int | None = None, high: int | None = None
) -> int:
    """A whole number (an int, or a string of digits), within ``[low, high]`` when given.

    A string of more than 30 digits is never converted (int() takes more than linear time on
    long digit strings): it is reported as out of range, or, without bounds, as 10**30.

    Added in 0.1.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f"{what} = {shown(value)} is not a whole number.")
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise ConfigError(f"{what} = {shown(value)} is not a whole number.")
        text = value.strip()
        sign = -1 if text.startswith("-") else 1
        core = text.lstrip("+-").lstrip("0") or "0"
        number = sign * (10**_LONG if len(core) > _LONG else int(core))
    else:
        number = value
    if (low is not None and number < low) or (high is not None and number > high):
        span = (
            f"from {low} to {high}"
            if low is not None and high is not None
            else (f"at least {low}" if low is not None else f"at most {high}")
        )
        raise ConfigError(f"{what} = {shown(value)} is out of range: use a whole number {span}.")
    return number
