"""The public API: what ``__all__`` promises exists, is documented, and nothing else is public."""

from __future__ import annotations
import __future__

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
from importlib.metadata import version as dist_version
from types import ModuleType

import pytest

import bulletproof

# The whole public surface, module by module: what a user may import and rely on. Changing it is
# an API change: this dict changes with it, in the same commit, and the changelog says so.
PUBLIC_API: dict[str, frozenset[str]] = {
    "bulletproof": frozenset(
        {
            "BulletproofError",
            "Category",
            "Config",
            "ConfigError",
            "EventPipeline",
            "Outcome",
            "PipelineOptions",
            "SecurityEvent",
            "Severity",
            "SinkError",
            "SpoolError",
            "__version__",
            "build_pipeline",
            "load_config",
            "protect",
        }
    ),
    "bulletproof.adapters": frozenset({"BulletproofMiddleware", "BulletproofWSGIMiddleware"}),
    "bulletproof.adapters.asgi": frozenset(
        {
            "ASGIApp",
            "BulletproofMiddleware",
            "Message",
            "Receive",
            "Scope",
            "Send",
        }
    ),
    "bulletproof.adapters.django": frozenset({"BulletproofMiddleware", "csp_nonce"}),
    "bulletproof.adapters.flask": frozenset({"BulletproofFlask", "csp_nonce"}),
    "bulletproof.adapters.routes": frozenset({"route_inventory"}),
    "bulletproof.adapters.wsgi": frozenset({"BulletproofWSGIMiddleware", "NONCE_ENVIRON_KEY"}),
    "bulletproof.supervise": frozenset(
        {
            "GAVE_UP",
            "ExitStatus",
            "Machine",
            "RunConfig",
            "default_pid_file",
            "heartbeat",
            "parse_bind",
            "read_pid_file",
            "supervise",
        }
    ),
    "bulletproof.audit": frozenset(
        {
            "AuditFinding",
            "AuditReport",
            "AuditedDependency",
            "DataInfo",
            "Database",
            "Dependency",
            "Ignore",
            "Skipped",
            "Sources",
            "Target",
            "audit",
            "audit_records",
            "default_cache_dir",
            "open_database",
            "read_environment",
            "read_ignores",
            "read_lock",
            "read_pyproject",
            "read_requirements",
            "read_source",
        }
    ),
    "bulletproof.check": frozenset(
        {
            "CheckContext",
            "CheckItem",
            "CheckReport",
            "CheckSection",
            "Probe",
            "SOURCES",
            "SectionSource",
            "Status",
            "run_check",
        }
    ),
    "bulletproof.cli": frozenset({"cli", "main"}),
    "bulletproof.clock": frozenset({"Clock", "SystemClock", "system_clock"}),
    "bulletproof.config": frozenset(
        {
            "AlertsConfig",
            "Config",
            "DEFAULT_SINK",
            "DEFAULT_SPOOL_DIR",
            "EventsConfig",
            "HeadersConfig",
            "NotifierConfig",
            "RoutesConfig",
            "SinkConfig",
            "build_alert_engine",
            "build_header_policy",
            "build_pipeline",
            "build_sinks",
            "config_as_dict",
            "load_config",
            "pipeline_options",
        }
    ),
    "bulletproof.errors": frozenset(
        {
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
        }
    ),
    "bulletproof.events": frozenset(
        {
            "Category",
            "ECS_VERSION",
            "Emitter",
            "Notifier",
            "Outcome",
            "SecurityEvent",
            "Severity",
            "Sink",
            "new_event_id",
        }
    ),
    "bulletproof.events.alerts": frozenset(
        {
            "Alert",
            "AlertCounter",
            "AlertEngine",
            "AlertRule",
            "AlertStats",
            "AlertsConfig",
            "Hit",
            "MemoryAlertCounter",
        }
    ),
    "bulletproof.events.base": frozenset({"Emitter", "Notifier", "Sink"}),
    "bulletproof.events.model": frozenset(
        {
            "Category",
            "ECS_VERSION",
            "Outcome",
            "SecurityEvent",
            "Severity",
            "new_event_id",
        }
    ),
    "bulletproof.events.pipeline": frozenset(
        {
            "EventPipeline",
            "PipelineOptions",
            "PipelineStats",
            "SinkReceipt",
            "SinkStats",
        }
    ),
    "bulletproof.events.processors": frozenset(
        {
            "CapProcessor",
            "DEFAULT_MAX_EVENT_BYTES",
            "EnrichProcessor",
            "EventEncoder",
            "NeutralizeProcessor",
            "Processor",
            "REDACTED",
            "RedactProcessor",
            "SimpleEventEncoder",
            "default_processors",
        }
    ),
    "bulletproof.detect": frozenset(
        {
            "Exclusion",
            "Finding",
            "Inspection",
            "Inspector",
            "Judged",
            "RequestInfo",
            "Shield",
            "ShieldConfig",
            "Verdict",
        }
    ),
    "bulletproof.guard": frozenset(
        {
            "ALLOW",
            "Answer",
            "Decision",
            "Guard",
            "RequestCheck",
            "RequestInfo",
        }
    ),
    "bulletproof.headers": frozenset(
        {
            "ContentSecurityPolicyOptions",
            "CrossOriginEmbedderPolicyOptions",
            "CrossOriginOpenerPolicyOptions",
            "CrossOriginResourcePolicyOptions",
            "DANGEROUSLY_DISABLE_DEFAULT_SRC",
            "HeaderContext",
            "HeaderEntry",
            "HeaderPolicy",
            "HeaderRenderError",
            "HeadersWarning",
            "PermissionsPolicyOptions",
            "Preset",
            "ReferrerPolicyOptions",
            "StrictTransportSecurityOptions",
            "XDnsPrefetchControlOptions",
            "XFrameOptionsOptions",
            "XPermittedCrossDomainPoliciesOptions",
            "content_security_policy",
            "cross_origin_embedder_policy",
            "cross_origin_opener_policy",
            "cross_origin_resource_policy",
            "get_default_directives",
            "new_nonce",
            "origin_agent_cluster",
            "permissions_policy",
            "referrer_policy",
            "secure_headers",
            "strict_transport_security",
            "x_content_type_options",
            "x_dns_prefetch_control",
            "x_download_options",
            "x_frame_options",
            "x_permitted_cross_domain_policies",
            "x_powered_by",
            "x_xss_protection",
        }
    ),
    "bulletproof.observatory": frozenset(
        {
            "ALGORITHM_VERSION",
            "ASSUMPTIONS",
            "CheckResult",
            "CookieJar",
            "DEFAULT_TIMEOUT",
            "FetchedResponse",
            "GRADES",
            "GradeResult",
            "MAX_BODY_BYTES",
            "MAX_REDIRECTS",
            "MINIMUM_SCORE_FOR_EXTRA_CREDIT",
            "OBSERVATORY_ORIGIN",
            "PreloadList",
            "PublicSuffixList",
            "RESULT_DESCRIPTIONS",
            "SCORE_MODIFIERS",
            "SYSTEM_SUFFIX_LIST",
            "Scan",
            "Session",
            "StoredCookie",
            "TEST_NAMES",
            "Target",
            "TestResult",
            "check",
            "grade_for_score",
            "grade_headers",
            "grade_rank",
            "grade_scan",
            "parse_target",
            "read_preload_list",
            "read_suffix_list",
            "scan_app",
            "scan_url",
        }
    ),
    "bulletproof.protect": frozenset({"protect"}),
    "bulletproof.routes": frozenset(
        {
            "AuthState",
            "MethodAuth",
            "Route",
            "RouteEntry",
            "RouteInventory",
            "RouteWalker",
            "WalkResult",
            "build_inventory",
            "register_walker",
            "render_table",
            "route_inventory",
        }
    ),
    "bulletproof.sinks": frozenset(
        {
            "NOTIFIER_SCHEMES",
            "SINK_SCHEMES",
            "SinkSpec",
            "mask_url",
            "notifier_from_url",
            "sink_from_url",
        }
    ),
    "bulletproof.sinks.base": frozenset({"SinkSpec", "mask_url"}),
    "bulletproof.testing": frozenset({"CapturingNotifier", "CapturingSink", "FakeClock"}),
}

PUBLIC_MODULES = sorted(PUBLIC_API)


def walk_public_modules() -> list[str]:
    """Every importable module of the package with no underscored part in its name."""
    found = [
        info.name
        for info in pkgutil.walk_packages(bulletproof.__path__, "bulletproof.")
        if not any(part.startswith("_") for part in info.name.split(".")[1:])
    ]
    return sorted(["bulletproof", *found])


def defined_names(module: ModuleType) -> set[str]:
    """Top-level names ``module``'s own source binds (defs, classes, assignments), outside
    ``if TYPE_CHECKING:`` blocks and without imports."""
    source = inspect.getsource(module)
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            elif isinstance(node, ast.AnnAssign | ast.AugAssign):
                if isinstance(node.target, ast.Name):
                    names.add(node.target.id)
            elif isinstance(node, ast.If):
                test = node.test
                if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
                    visit(node.orelse)
                else:
                    visit(node.body)
                    visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)

    visit(ast.parse(source).body)
    return {n for n in names if not n.startswith("_")}


def public_names(module: ModuleType) -> set[str]:
    """Names bound in ``module`` that a user would take as public.

    Not public: underscored names, submodules, ``from __future__`` features, and things a plain
    module merely imported from elsewhere (``Any``, ``Sequence``, another package's errors,
    ``TYPE_CHECKING``). A package's re-exports from its own submodules count as public.
    """
    names: set[str] = set()
    package = module.__name__
    own = defined_names(module)
    for name, value in vars(module).items():
        if name.startswith("_") or inspect.ismodule(value):
            continue
        if isinstance(value, __future__._Feature):
            continue
        origin = getattr(value, "__module__", None)
        if (inspect.isclass(value) or inspect.isfunction(value)) and origin is not None:
            if origin != package and not origin.startswith(f"{package}."):
                continue
        elif name not in own:
            continue  # a value imported from elsewhere (``TYPE_CHECKING``, a shared instance)
        names.add(name)
    return names


def own_doc(obj: object) -> str:
    """The docstring written for ``obj`` itself (a class must not just inherit one)."""
    if inspect.isclass(obj):
        return str(vars(obj).get("__doc__") or "")
    return inspect.getdoc(obj) or ""


def test_the_public_modules_are_the_pinned_ones() -> None:
    """A new module without an underscore is public: it joins PUBLIC_API on purpose."""
    assert walk_public_modules() == PUBLIC_MODULES


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_is_exactly_the_public_api(module_name: str) -> None:
    module = importlib.import_module(module_name)
    declared = getattr(module, "__all__", None)
    assert declared is not None, f"{module_name} has no __all__"
    assert len(declared) == len(set(declared)), f"{module_name}.__all__ has duplicates"
    assert set(declared) == PUBLIC_API[module_name]
    missing = [name for name in declared if not hasattr(module, name)]
    assert missing == [], f"{module_name}.__all__ names what it does not define: {missing}"
    assert public_names(module) <= set(declared), (
        f"{module_name} has public names missing from __all__: "
        f"{sorted(public_names(module) - set(declared))}"
    )
    assert set(declared) <= set(dir(module))


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_name_a_module_defines_is_public_or_underscored(module_name: str) -> None:
    """A helper without an underscore would look public: every top-level name the module
    binds is in ``__all__`` or starts with ``_``."""
    module = importlib.import_module(module_name)
    stray = defined_names(module) - set(module.__all__)
    assert stray == set(), f"{module_name} defines names neither public nor underscored: {stray}"


DOCUMENTED = sorted(
    (module, name)
    for module, names in PUBLIC_API.items()
    for name in names
    if inspect.isclass(getattr(importlib.import_module(module), name))
    or inspect.isfunction(getattr(importlib.import_module(module), name))
)


@pytest.mark.parametrize(("module_name", "name"), DOCUMENTED)
def test_every_public_name_is_documented(module_name: str, name: str) -> None:
    obj = getattr(importlib.import_module(module_name), name)
    doc = own_doc(obj)
    assert doc.strip(), f"{module_name}.{name} has no docstring"
    assert "Added in 0.1." in doc, f"{module_name}.{name}: docstring does not say 'Added in 0.1.'"


def test_root_reexports_are_the_real_objects() -> None:
    from bulletproof import config, errors
    from bulletproof.events import model, pipeline

    assert bulletproof.SecurityEvent is model.SecurityEvent
    assert bulletproof.EventPipeline is pipeline.EventPipeline
    assert bulletproof.PipelineOptions is pipeline.PipelineOptions
    assert bulletproof.load_config is config.load_config
    assert bulletproof.build_pipeline is config.build_pipeline
    assert bulletproof.Config is config.Config
    assert bulletproof.ConfigError is errors.ConfigError
    assert issubclass(bulletproof.ConfigError, bulletproof.BulletproofError)
    assert issubclass(bulletproof.SinkError, bulletproof.BulletproofError)
    assert issubclass(bulletproof.SpoolError, bulletproof.BulletproofError)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        bulletproof.nope  # noqa: B018
    assert not hasattr(bulletproof, "_LAZY_nothing")


def test_version_is_the_installed_one() -> None:
    assert isinstance(bulletproof.__version__, str)
    assert bulletproof.__version__ == dist_version("bulletproof")


def test_import_is_cheap_and_has_no_cycle() -> None:
    """``import bulletproof`` in a fresh interpreter works and does not load config or click."""
    code = (
        "import sys, bulletproof\n"
        "loaded = sorted(m for m in ('bulletproof.config', 'click', 'bulletproof.events.pipeline')"
        " if m in sys.modules)\n"
        "print(','.join(loaded))\n"
        "from bulletproof import *\n"
        "print(load_config.__module__, SecurityEvent.__module__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first == ""
    assert second == "bulletproof.config bulletproof.events.model"
