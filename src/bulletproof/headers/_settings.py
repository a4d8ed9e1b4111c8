"""``[tool.bulletproof.headers]``: the options of :func:`~bulletproof.headers.secure_headers`.

The whole table is the section: ``preset`` and any header option (``x_frame_options = {action
= "deny"}``, ``content_security_policy = {directives = {...}}``), validated by building the
policy once when the config is loaded.

>>> from bulletproof.headers import HeaderPolicy
>>> isinstance(HeadersConfig().policy(), HeaderPolicy)
True

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from bulletproof._settings import Context, FileOnly, Given, Parse, type_error
from bulletproof.errors import ConfigError

if TYPE_CHECKING:
    from bulletproof.headers import HeaderPolicy

__all__ = ["HeadersConfig"]


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _freeze(value: object) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _options(given: Given, ctx: Context, parsed: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(given.value, Mapping):
        raise type_error(
            given.loc, given.value, "a table of header options ([tool.bulletproof.headers])", ctx
        )
    options = _plain(given.value)
    from bulletproof.headers import secure_headers

    try:
        secure_headers(**options)
    except (ConfigError, TypeError) as exc:  # TypeError: an option name that is no keyword
        raise ConfigError(f"{given.loc}: {exc}") from None
    frozen: Mapping[str, Any] = _freeze(options)
    return frozen


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class HeadersConfig:
    """Options for the security headers, as :func:`~bulletproof.headers.secure_headers` takes
    them; the whole ``[tool.bulletproof.headers]`` table is ``options``.

    Added in 0.1.
    """

    whole_table: ClassVar[str] = "options"
    """The field that takes the section's whole table (its keys are header options)."""

    options: Annotated[Mapping[str, Any], Parse(_options), FileOnly()] = field(
        default_factory=_empty
    )

    def policy(self) -> HeaderPolicy:
        """The :class:`~bulletproof.headers.HeaderPolicy` these options describe."""
        from bulletproof.headers import secure_headers

        policy: HeaderPolicy = secure_headers(**_plain(self.options))
        return policy

    def to_display(self) -> dict[str, Any]:
        """The options as written."""
        shown: dict[str, Any] = _plain(self.options)
        return shown
