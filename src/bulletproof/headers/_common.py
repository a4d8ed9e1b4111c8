"""Validation helpers shared by the header modules (private).

Every message names the option as the user wrote it, shows the bad value with ``repr`` (so a CR
or LF shows as ``\\r``/``\\n`` and can never split a log line) and says how to fix it.
"""

from __future__ import annotations

import math
import os
import re
import sys
import warnings
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Final, NoReturn

from bulletproof._text import did_you_mean
from bulletproof.errors import ConfigError

__all__ = [
    "HeadersWarning",
    "bad_type",
    "check_bool",
    "check_choice",
    "check_header_text",
    "check_keys",
    "describe",
    "js_string",
    "js_truthy",
    "snake_case",
    "suggest",
    "warn_no_options",
]

_MAX_SHOWN: Final = 80
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
# Printable ASCII only: no control characters (CR, LF, NUL, TAB...), no DEL, nothing non-ASCII.
_UNSAFE = re.compile(r"[^\x20-\x7e]")


class HeadersWarning(UserWarning):
    """An option was accepted but has no effect (Helmet warns about the same inputs).

    Added in 0.1.
    """


def describe(value: object) -> str:
    """``"str 'x'"``: the type and a bounded ``repr`` of a user value, safe for one log line."""
    shown = repr(value)
    if len(shown) > _MAX_SHOWN:
        shown = shown[: _MAX_SHOWN - 3] + "..."
    return f"{type(value).__name__} {shown}"


def snake_case(name: str) -> str:
    """``maxAge`` -> ``max_age``; ``includeSubDomains`` -> ``include_sub_domains``."""
    return _CAMEL.sub("_", name).lower()


def suggest(word: str, choices: Iterable[str]) -> str:
    """A did-you-mean that also knows the camelCase spelling of a snake_case option."""
    options = list(choices)
    converted = snake_case(word)
    if converted != word and converted in options:
        return f" Did you mean {converted!r}?"
    return did_you_mean(word, options)


def bad_type(option: str, value: object, expected: str, fix: str = "") -> NoReturn:
    """Raise the standard wrong-type ConfigError."""
    tail = f" {fix}" if fix else ""
    raise ConfigError(f"{option} must be {expected}, got {describe(value)}.{tail}")


def js_truthy(value: object) -> bool:
    """JavaScript truthiness, which Helmet applies to its on/off sub-options.

    ``False``, ``None``, ``0``, ``0.0``, NaN and ``""`` are false; everything else (``[]`` and
    ``{}`` too, unlike Python) is true.
    """
    if value is None or value is False:
        return False
    if isinstance(value, int | float):
        return value == value and value != 0
    if isinstance(value, str):
        return value != ""
    return True


def _js_float(number: float) -> str:
    """``String(number)`` in JavaScript (ECMA-262 Number::toString) for a float."""
    if number != number:
        return "NaN"
    if number in (math.inf, -math.inf):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(number))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = k + int(exponent)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
        text = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + text


def js_string(value: bool | int | float | None) -> str:
    """``String(value)`` in JavaScript for a JSON scalar (what Helmet sends for one).

    ``None`` is ``null``, booleans are lower-case, numbers are doubles printed the JavaScript
    way (``1e+21``, ``1.5``, ``1`` for ``1.0``).
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) < 2**53:
        return str(value)
    try:
        return _js_float(float(value))
    except OverflowError:
        return "Infinity" if value > 0 else "-Infinity"


def check_keys(
    value: object, option: str, allowed: Iterable[str], *, expected: str
) -> Mapping[str, object]:
    """Return ``value`` as a mapping of known string keys, or raise naming the unknown key.

    A value that is not a mapping (a str, a number, a list) holds no options: Helmet reads its
    options off it as absent and uses the defaults; so do we, with a :class:`HeadersWarning`.
    ``None`` is rejected.
    """
    if value is None:
        bad_type(option, value, expected)
    if not isinstance(value, Mapping):
        warnings.warn(
            HeadersWarning(
                f"{option}: {describe(value)} holds no options (expected {expected}); the "
                "defaults are used. Pass True for the defaults or a dict of options."
            ),
            stacklevel=_outside_level(),
        )
        return {}
    names = list(allowed)
    for key in value:
        if not isinstance(key, str):
            raise ConfigError(f"{option}: option names must be strings, got {describe(key)}.")
        if key not in names:
            known = ", ".join(names) if names else "none"
            raise ConfigError(
                f"{option}: unknown option {key!r} (known: {known}).{suggest(key, names)}"
            )
    return value


def check_choice(value: object, where: str, choices: tuple[str, ...], header: str) -> str:
    """Return ``value`` if it is one of ``choices`` (exact, case-sensitive, as Helmet)."""
    listed = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        bad_type(where, value, f"a str, one of {listed}")
    if value in choices:
        return value
    hint = ""
    if value.lower() in choices:
        hint = f" Did you mean {value.lower()!r}? (values are lower-case)"
    else:
        hint = did_you_mean(value, choices)
    raise ConfigError(f"{where}: {value!r} is not a {header} value. Use one of {listed}.{hint}")


def check_bool(value: object, where: str) -> bool:
    """Return ``value`` if it is a bool, else raise naming the expected type."""
    if not isinstance(value, bool):
        bad_type(where, value, "a bool (True or False)")
    return value


def check_header_text(text: str, where: str) -> None:
    """Reject anything but printable ASCII in text that ends up in a header value."""
    bad = _UNSAFE.search(text)
    if bad is not None:
        char = bad.group()
        what = "a control character" if ord(char) < 0x20 or ord(char) == 0x7F else "non-ASCII text"
        raise ConfigError(
            f"{where}: {text[:_MAX_SHOWN]!r} contains {what} ({char!r}); header values may hold "
            "printable ASCII only (CR or LF would split the header). Remove it; write a host "
            "name in its punycode form (xn--...) and percent-encode paths."
        )


def _outside_level() -> int:
    """The ``stacklevel`` of the first caller outside this package (for warnings)."""
    here = os.path.dirname(__file__)
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(here):
        frame = frame.f_back
        level += 1
    return level


def warn_no_options(header: str, option: str) -> None:
    """Helmet's warning for options given to a header that takes none."""
    warnings.warn(
        HeadersWarning(
            f"{option}: {header} does not take options; they are ignored. "
            f"Pass True (or leave {option} out) to silence this warning."
        ),
        stacklevel=_outside_level(),
    )
