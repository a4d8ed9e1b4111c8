"""``load_app``: "module:attr" paths, and errors that say exactly what failed, without traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulletproof._apploader import load_app
from bulletproof.errors import ConfigError


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty project directory; sys.path and the modules imported from it are restored."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("bp_ld_"):
            del sys.modules[name]


def write(folder: Path, name: str, body: str) -> None:
    path = folder.joinpath(*name.split(".")).with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    for parent in path.relative_to(folder).parents:
        if str(parent) != ".":
            (folder / parent / "__init__.py").touch()
    path.write_text(body, encoding="utf-8")


def load_error(spec: str, folder: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_app(spec, cwd=folder)
    # No chained traceback: nothing attached, or what was is suppressed (``from None``).
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    message = str(caught.value)
    assert "\n" not in message
    assert "\r" not in message
    return message


# -- what it loads -------------------------------------------------------------------------------


def test_module_colon_attribute(project: Path) -> None:
    write(project, "bp_ld_a", "server = object()\n")
    loaded = load_app("bp_ld_a:server", cwd=project)
    assert loaded is sys.modules["bp_ld_a"].server
    assert sys.path[0] == str(project.resolve())


def test_dotted_module_and_dotted_attribute(project: Path) -> None:
    write(project, "bp_ld_pkg.web", "class Api:\n    inner = 'the app'\napi = Api()\n")
    assert load_app("bp_ld_pkg.web:api.inner", cwd=project) == "the app"


@pytest.mark.parametrize(
    ("body", "expected"), [("app = 1\napplication = 2\n", 1), ("application = 2\n", 2)]
)
def test_a_bare_module_means_app_then_application(project: Path, body: str, expected: int) -> None:
    write(project, f"bp_ld_bare{expected}", body)
    assert load_app(f"bp_ld_bare{expected}", cwd=project) == expected


def test_a_django_settings_module_is_returned_itself(project: Path) -> None:
    write(project, "bp_ld_settings", "ROOT_URLCONF = 'urls'\n")
    assert load_app("bp_ld_settings", cwd=project) is sys.modules["bp_ld_settings"]


def test_the_current_directory_is_the_default(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project, "bp_ld_here", "app = 'here'\n")
    monkeypatch.chdir(project)
    assert load_app(" bp_ld_here:app ") == "here"


# -- what it says when it cannot -----------------------------------------------------------------


@pytest.mark.parametrize(
    "spec", ["", "a b", "mod:", ":app", "mod:1x", "mod:a..b", "1mod", "m-x:app"]
)
def test_a_malformed_path(project: Path, spec: str) -> None:
    message = load_error(spec, project)
    assert message.startswith(f"app path {spec.strip()!r} is not valid: write it as 'module:attr")


def test_a_missing_module_names_it_and_where_it_looked(project: Path) -> None:
    message = load_error("bp_ld_nowhere:app", project)
    assert message == (
        f"app path 'bp_ld_nowhere:app': no module named 'bp_ld_nowhere' in "
        f"{str(project.resolve())!r} or on sys.path: check the spelling, or run from the "
        "directory that holds it"
    )


def test_a_missing_package_of_a_dotted_module(project: Path) -> None:
    message = load_error("bp_ld_nopkg.web:app", project)
    assert message.startswith("app path 'bp_ld_nopkg.web:app': no module named 'bp_ld_nopkg' in")


def test_a_dependency_that_fails_to_import_is_named_apart_from_the_app(project: Path) -> None:
    write(project, "bp_ld_dep", "import bp_ld_not_installed\napp = 1\n")
    assert load_error("bp_ld_dep:app", project) == (
        "app path 'bp_ld_dep:app': importing module 'bp_ld_dep' failed: module "
        "'bp_ld_not_installed' could not be imported (No module named 'bp_ld_not_installed'); "
        "install it or fix the import"
    )


def test_an_import_error_keeps_its_message(project: Path) -> None:
    write(project, "bp_ld_name", "from json import no_such_name\n")
    assert load_error("bp_ld_name", project) == (
        "app path 'bp_ld_name': importing module 'bp_ld_name' failed: ImportError: cannot "
        "import name 'no_such_name' from 'json' "
        f"({Path(sys.modules['json'].__file__ or '')})"
    )


def test_a_syntax_error_names_file_and_line(project: Path) -> None:
    write(project, "bp_ld_syntax", "app = 1\ndef broken(:\n")
    message = load_error("bp_ld_syntax:app", project)
    assert message.startswith("app path 'bp_ld_syntax:app': importing module 'bp_ld_syntax' ")
    assert f"failed: syntax error in {project.resolve() / 'bp_ld_syntax.py'}, line 2: " in message


def test_an_exception_raised_by_the_app_at_import(project: Path) -> None:
    write(project, "bp_ld_raises", "raise RuntimeError('no DATABASE_URL\\r\\nset')\n")
    assert load_error("bp_ld_raises:app", project) == (
        "app path 'bp_ld_raises:app': importing module 'bp_ld_raises' failed: RuntimeError: "
        "no DATABASE_URL\\r\\nset"
    )


def test_sys_exit_at_import_does_not_end_the_caller(project: Path) -> None:
    write(project, "bp_ld_exits", "import sys\nsys.exit('configure me first')\n")
    assert load_error("bp_ld_exits:app", project).endswith("failed: SystemExit: configure me first")


def test_a_missing_attribute_gets_a_did_you_mean(project: Path) -> None:
    write(project, "bp_ld_attr", "import os\napplication_v2 = 1\n_private = 2\napi = 3\n")
    assert load_error("bp_ld_attr:apj", project) == (
        "app path 'bp_ld_attr:apj': module 'bp_ld_attr' has no attribute 'apj'. Did you mean 'api'?"
    )
    assert load_error("bp_ld_attr:zzz", project) == (
        "app path 'bp_ld_attr:zzz': module 'bp_ld_attr' has no attribute 'zzz'."
    )


def test_a_missing_nested_attribute_names_its_owner(project: Path) -> None:
    write(project, "bp_ld_nested", "class Holder:\n    routes = 1\nholder = Holder()\n")
    assert load_error("bp_ld_nested:holder.route", project) == (
        "app path 'bp_ld_nested:holder.route': 'holder' has no attribute 'route'. "
        "Did you mean 'routes'?"
    )


def test_a_property_that_raises(project: Path) -> None:
    write(
        project,
        "bp_ld_prop",
        "class Lazy:\n    @property\n    def app(self):\n        raise KeyError('SECRET')\n"
        "lazy = Lazy()\n",
    )
    assert load_error("bp_ld_prop:lazy.app", project) == (
        "app path 'bp_ld_prop:lazy.app': reading 'app' of 'lazy' failed: KeyError: 'SECRET'"
    )


def test_a_bare_module_without_app_or_application(project: Path) -> None:
    write(project, "bp_ld_noapp", "apps = []\n")
    assert load_error("bp_ld_noapp", project) == (
        "app path 'bp_ld_noapp': module 'bp_ld_noapp' has no attribute 'app' or 'application': "
        "name the app as 'bp_ld_noapp:NAME'. Did you mean 'apps'?"
    )
