"""One call for what ``bulletproof headers check`` does: fetch a URL or call an app, and grade it.

Added in 0.1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bulletproof._apploader import load_app
from bulletproof.clock import Clock, system_clock
from bulletproof.errors import ConfigError
from bulletproof.observatory._domains import PreloadList, PublicSuffixList
from bulletproof.observatory._fetch import DEFAULT_TIMEOUT, parse_target, scan_url
from bulletproof.observatory._grade import grade_scan
from bulletproof.observatory._models import GradeResult, Scan
from bulletproof.observatory._scoring import grade_rank

__all__ = ["SYSTEM_SUFFIX_LIST", "CheckResult", "check", "read_preload_list", "read_suffix_list"]

SYSTEM_SUFFIX_LIST: Final = Path("/usr/share/publicsuffix/public_suffix_list.dat")
"""Where Debian and Ubuntu keep the Public Suffix List (package ``publicsuffix``). Added in 0.1."""


@dataclass(frozen=True)
class CheckResult:
    """What :func:`check` found: the scan (every response of both chains and the preflight), its
    grade, and what the grade takes for granted without having observed it.

    Added in 0.1.
    """

    scan: Scan
    result: GradeResult
    assumed: tuple[str, ...] = ()

    @property
    def url(self) -> str | None:
        """The URL of the response the tests read (the end of the HTTPS chain, else HTTP's)."""
        auto = self.scan.auto
        return auto.final.url if auto is not None else None

    def meets(self, minimum: str) -> bool:
        """Whether the grade is ``minimum`` or better; ConfigError for an unknown grade."""
        return grade_rank(self.result.grade) <= grade_rank(minimum)

    def to_dict(self) -> dict[str, object]:
        """The grade's JSON form plus ``url`` and, when anything was assumed, ``assumed``."""
        doc = self.result.to_dict()
        doc["url"] = self.url
        if self.assumed:
            doc["assumed"] = list(self.assumed)
        return doc


def _read(path: str | os.PathLike[str], what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{what} {str(path)!r}: cannot read it ({exc.__class__.__name__})."
        ) from None


def read_preload_list(path: str | os.PathLike[str] | None) -> PreloadList | None:
    """The HSTS preload list in Chromium's ``transport_security_state_static.json`` at ``path``
    (None: no list, no host counts as preloaded). ConfigError when it cannot be read or parsed.

    Added in 0.1.
    """
    if path is None:
        return None
    return PreloadList.from_chromium_json(_read(path, "--hsts-preload-list"))


def read_suffix_list(path: str | os.PathLike[str] | None = None) -> PublicSuffixList | None:
    """The Public Suffix List at ``path``; without one, :data:`SYSTEM_SUFFIX_LIST` when it is
    present and readable, else None (the grader's built-in approximation). ConfigError when a
    given ``path`` cannot be read.

    Added in 0.1.
    """
    if path is not None:
        return PublicSuffixList.parse(_read(path, "--public-suffix-list"))
    if SYSTEM_SUFFIX_LIST.is_file():
        try:
            return PublicSuffixList.parse(SYSTEM_SUFFIX_LIST.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return None
    return None


def _how_read(url: str) -> tuple[str, ...]:
    """What to say about a URL given without a scheme whose port decided it (nothing otherwise)."""
    target = parse_target(url)
    if target.scheme_given or target.port is None:
        return ()
    return (
        f"no scheme given: {url.strip()} is read as {target.url(target.scheme, target.port)} "
        "(a port without a scheme is plain HTTP's, 443 excepted; write https:// or http:// to "
        "say which)",
    )


def check(
    url: str | None = None,
    *,
    app: object = None,
    path: str = "/",
    host: str = "localhost",
    timeout: float = DEFAULT_TIMEOUT,
    cafile: str | None = None,
    http_port: int | None = None,
    https_port: int | None = None,
    preload: PreloadList | None = None,
    suffixes: PublicSuffixList | None = None,
    label: str | None = None,
    cwd: Path | None = None,
    clock: Clock = system_clock,
) -> CheckResult:
    """Grade ``url`` (fetched over https and http, see :func:`scan_url`) or ``app`` (called
    in-process, see :func:`scan_app`) as the MDN HTTP Observatory grades a site.

    Give exactly one of them. ``app`` is an ASGI or WSGI app, or its import path
    (``"module:attr"``, imported from ``cwd`` as servers import it; then it also names the app
    in messages, unless ``label`` does). ``path`` and ``host`` go with ``app`` (for a URL they are
    in the URL); ``cafile``, ``http_port`` and ``https_port`` go with ``url``. ``timeout`` is the
    deadline in seconds of each fetch, or of each call to the app.

    A URL without a scheme is fetched over both schemes, as any URL is; an explicit port in it
    is taken as plain HTTP's (``localhost:8000`` is ``http://localhost:8000/``, as curl and
    browsers read it), except port 443, and the result says so in ``assumed``.

    Raises ConfigError for bad input (exit 2), :class:`~bulletproof.errors.FetchError` when the
    URL cannot be fetched, :class:`~bulletproof.errors.AppError` when the app fails, and
    :class:`~bulletproof.errors.UngradableError` when the answer cannot be graded (exit 3).

    Added in 0.1.
    """
    if (url is None) == (app is None):
        raise ConfigError("give either a URL or --app MODULE:APP (exactly one of them).")
    if url is not None:
        if path != "/" or host != "localhost":
            raise ConfigError("--path and --host go with --app; put them in the URL instead.")
        scan = scan_url(
            url,
            timeout=timeout,
            cafile=cafile,
            http_port=http_port,
            https_port=https_port,
            preload=preload,
            suffixes=suffixes,
            clock=clock,
        )
        return CheckResult(scan, grade_scan(scan), _how_read(url))
    from bulletproof.observatory._inprocess import ASSUMPTIONS, scan_app

    if any(v is not None for v in (cafile, http_port, https_port)):
        raise ConfigError("--cafile, --http-port and --https-port go with a URL, not --app.")
    if isinstance(app, str):
        label = app if label is None else label
        app = load_app(app, cwd=cwd)
    scan = scan_app(
        app,
        path=path,
        host=host,
        timeout=timeout,
        preload=preload,
        suffixes=suffixes,
        label=label,
    )
    return CheckResult(scan, grade_scan(scan), ASSUMPTIONS)
