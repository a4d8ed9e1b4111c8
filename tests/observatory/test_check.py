"""``bulletproof.observatory.check``: the one call behind ``bulletproof headers check``.

The command's own tests (``tests/cli/test_headers_cmd.py``) cover the grades end to end; these
cover the library function: what it returns, the input it refuses, and how a URL without a
scheme is read.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.observatory.test_fetch import SiteServer, closed_port, page

from bulletproof.errors import ConfigError
from bulletproof.observatory import (
    ASSUMPTIONS,
    SYSTEM_SUFFIX_LIST,
    TEST_NAMES,
    CheckResult,
    PreloadList,
    PublicSuffixList,
    check,
    parse_target,
    read_preload_list,
    read_suffix_list,
)

HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"strict-transport-security", b"max-age=63072000"),
    (b"x-content-type-options", b"nosniff"),
]


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": b"<p>hi</p>"})


def test_an_app_object_is_called_in_process_and_graded() -> None:
    checked = check(app=asgi_app, path="/shop", host="shop.example.org")
    assert isinstance(checked, CheckResult)
    assert checked.url == "https://shop.example.org/shop"
    assert checked.assumed == ASSUMPTIONS
    assert list(checked.result.tests) == list(TEST_NAMES)
    # 100 + 10 (CSP default-src 'none') + 5 (XFO via frame-ancestors)
    assert (checked.result.score, checked.result.grade) == (115, "A+")
    assert checked.meets("A+")
    doc = checked.to_dict()
    assert set(doc) == {"score", "grade", "passed", "failed", "tests", "url", "assumed"}
    assert doc["assumed"] == list(ASSUMPTIONS)
    json.dumps(doc)  # JSON-ready


@pytest.fixture
def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(sys, "path", list(sys.path))
    name = f"bp_check_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [('X-Frame-Options', 'DENY')])\n"
        "    return [b'ok']\n"
    )
    yield name
    sys.modules.pop(name, None)


def test_an_app_path_is_imported_from_cwd_and_names_the_app(
    app_module: str, tmp_path: Path
) -> None:
    checked = check(app=f"{app_module}:application", cwd=tmp_path)
    assert checked.result.tests["x-frame-options"].result == "x-frame-options-sameorigin-or-deny"
    assert not checked.meets("A")
    with pytest.raises(ConfigError, match=f"app path '{app_module}:nope'"):
        check(app=f"{app_module}:nope", cwd=tmp_path)


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        ((), {}, "give either a URL or --app"),
        (("https://example.com/",), {"app": asgi_app}, "give either a URL or --app"),
        (("https://example.com/",), {"path": "/x"}, "--path and --host go with --app"),
        (("https://example.com/",), {"host": "x.example"}, "--path and --host go with --app"),
        ((), {"app": asgi_app, "cafile": "ca.pem"}, "go with a URL, not --app"),
        ((), {"app": asgi_app, "https_port": 8443}, "go with a URL, not --app"),
    ],
)
def test_bad_input_is_a_config_error(
    args: tuple[str, ...], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        check(*args, **options)


def test_an_unknown_minimum_grade_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="grade 'Z' is not one of A\\+, A, "):
        check(app=asgi_app).meets("Z")


# -- a URL without a scheme ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "scheme", "port", "given"),
    [
        ("localhost:8101", "http", 8101, False),
        ("localhost:8101/admin?x=1", "http", 8101, False),
        ("127.0.0.1:80", "http", 80, False),
        ("[::1]:8000", "http", 8000, False),
        ("example.com:443", "https", 443, False),
        ("example.com", "https", None, False),
        ("https://localhost:8101", "https", 8101, True),
        ("http://localhost", "http", None, True),
    ],
)
def test_a_port_without_a_scheme_is_plain_http(
    url: str, scheme: str, port: int | None, given: bool
) -> None:
    target = parse_target(url)
    assert (target.scheme, target.port, target.scheme_given) == (scheme, port, given)


def test_a_url_without_a_scheme_says_how_it_was_read() -> None:
    with SiteServer({"/": page(("X-Content-Type-Options", "nosniff"))}) as site:
        bare = check(f"localhost:{site.port}/", https_port=closed_port())
        full = check(f"http://localhost:{site.port}/", https_port=closed_port())
    assert bare.url == full.url == f"http://localhost:{site.port}/"
    assert bare.result == full.result
    (note,) = bare.assumed
    assert note.startswith(
        f"no scheme given: localhost:{site.port}/ is read as http://localhost:{site.port}/ "
    )
    assert full.assumed == ()
    assert "assumed" not in full.to_dict()


# -- the lists ----------------------------------------------------------------------------------


def test_reading_the_lists(tmp_path: Path) -> None:
    assert read_preload_list(None) is None
    preload = tmp_path / "preload.json"
    preload.write_text('{"entries": [{"name": "example.org", "mode": "force-https"}]}')
    found = read_preload_list(preload)
    assert isinstance(found, PreloadList)
    assert found.is_preloaded("example.org")
    suffixes = tmp_path / "psl.dat"
    suffixes.write_text("// ===BEGIN ICANN DOMAINS===\nuk\nco.uk\n")
    parsed = read_suffix_list(suffixes)
    assert isinstance(parsed, PublicSuffixList)
    assert parsed.registrable_domain("www.example.co.uk") == "example.co.uk"
    system = read_suffix_list()
    assert (system is not None) == SYSTEM_SUFFIX_LIST.is_file()
    for reader in (read_preload_list, read_suffix_list):
        with pytest.raises(ConfigError, match="cannot read it"):
            reader(tmp_path / "missing")
