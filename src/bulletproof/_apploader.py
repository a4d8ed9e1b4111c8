"""Load an application object from a ``module:attribute`` path, the way ASGI/WSGI servers do.

>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "bp_doctest_shop.py").write_text("class App:\\n    pass\\napp = App()\\n")
>>> type(load_app("bp_doctest_shop", cwd=folder)).__name__
'App'
>>> load_app("bp_doctest_shop:ap", cwd=folder)
Traceback (most recent call last):
...
bulletproof.errors.ConfigError: app path 'bp_doctest_shop:ap': module 'bp_doctest_shop' has no \
attribute 'ap'. Did you mean 'app'?

Added in 0.1.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from typing import Final

from bulletproof._text import did_you_mean, one_line
from bulletproof.errors import ConfigError

__all__ = ["load_app"]

_DEFAULT_NAMES: Final = ("app", "application")
_FORMS: Final = (
    "write it as 'module:attribute' (for example 'myproject.main:app'), 'module' for an attribute "
    "named app or application, or a Django settings module"
)


def _public_names(obj: object) -> list[str]:
    names = vars(obj) if isinstance(obj, types.ModuleType) else dict.fromkeys(dir(obj))
    return [name for name in names if not name.startswith("_")]


def _import(module_name: str, spec: str, folder: Path) -> types.ModuleType:
    where = f"app path {spec!r}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == module_name or module_name.startswith(f"{missing}."):
            raise ConfigError(
                f"{where}: no module named {missing!r} in {str(folder)!r} or on sys.path: check "
                "the spelling, or run from the directory that holds it"
            ) from None
        raise ConfigError(
            f"{where}: importing module {module_name!r} failed: module {missing!r} could not be "
            f"imported ({one_line(str(exc))}); install it or fix the import"
        ) from None
    except SyntaxError as exc:
        raise ConfigError(
            f"{where}: importing module {module_name!r} failed: syntax error in "
            f"{exc.filename}, line {exc.lineno}: {one_line(str(exc.msg))}"
        ) from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure of the app's own code
        raise ConfigError(
            f"{where}: importing module {module_name!r} failed: {type(exc).__name__}: "
            f"{one_line(str(exc))}"
        ) from None


def load_app(spec: str, *, cwd: Path | None = None) -> object:
    """Import ``spec`` and return the object it names.

    ``spec`` is ``module:attr`` (``attr`` may be dotted, ``module:attr.sub``) or ``module`` alone,
    meaning its attribute ``app``, else ``application``; a module with neither that has
    ``ROOT_URLCONF`` is a Django settings module and is returned itself. ``cwd`` (default: the
    current directory) is put first on ``sys.path``, where it stays, as servers do, so the app's
    own imports keep working. Raises ConfigError naming the module that failed to import (with
    the ImportError's message) or the missing attribute (with a did-you-mean).

    Added in 0.1.
    """
    module_name, colon, attr_path = spec.strip().partition(":")
    parts = attr_path.split(".") if colon else []
    if not all(p.isidentifier() for p in module_name.split(".")) or not all(
        p.isidentifier() for p in parts
    ):
        raise ConfigError(f"app path {one_line(spec)!r} is not valid: {_FORMS}")
    folder = (cwd if cwd is not None else Path.cwd()).resolve()
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    module = _import(module_name, spec, folder)
    if not parts:
        for name in _DEFAULT_NAMES:
            if name in vars(module):
                return vars(module)[name]
        if hasattr(module, "ROOT_URLCONF"):
            return module
        raise ConfigError(
            f"app path {spec!r}: module {module_name!r} has no attribute 'app' or "
            f"'application': name the app as '{module_name}:NAME'."
            + did_you_mean("app", _public_names(module))
        )
    obj: object = module
    for index, part in enumerate(parts):
        owner = f"module {module_name!r}" if index == 0 else repr(".".join(parts[:index]))
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(
                f"app path {spec!r}: {owner} has no attribute {part!r}."
                + did_you_mean(part, _public_names(obj))
            ) from None
        except Exception as exc:  # noqa: BLE001 - a property of the app's own code failed
            raise ConfigError(
                f"app path {spec!r}: reading {part!r} of {owner} failed: "
                f"{type(exc).__name__}: {one_line(str(exc))}"
            ) from None
    return obj
