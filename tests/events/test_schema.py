"""The wire format: ``schema/security-event.schema.json`` against what bulletproof really produces.

The schema is a promise to the people who consume events. These tests hold the producer
(``SecurityEvent.to_ecs()`` and the pipeline's processors), the schema and ``docs/events.md`` to
the same facts: a new enum member, field or mapping change that is not reflected in the schema
makes a test here fail.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from bulletproof.events.model import (
    ECS_VERSION,
    Category,
    Outcome,
    SecurityEvent,
    Severity,
    new_event_id,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "schema" / "security-event.schema.json"
DOCS_PATH = ROOT / "docs" / "events.md"
SCHEMA_ID = "https://bulletproof.dev/schema/security-event/0.1.json"

T0 = 1_741_944_413.589793  # 2025-03-14T09:26:53.589793Z
FIXED_ID = "019593fa-5d95-75c2-9f4a-7d31b86e0c44"

Doc = dict[str, Any]


# --- helpers -------------------------------------------------------------------------------------


def load_schema() -> Doc:
    schema: Doc = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


@pytest.fixture(scope="module")
def schema() -> Doc:
    return load_schema()


@pytest.fixture(scope="module")
def validator(schema: Doc) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    # The format checker makes ``source.ip`` (ipv4/ipv6) an assertion, as a strict consumer would.
    return Draft202012Validator(schema, format_checker=FormatChecker())


def wire(doc: Doc) -> Doc:
    """What a consumer parses: the document after a trip through JSON."""
    out: Doc = json.loads(json.dumps(doc, allow_nan=False))
    return out


def all_errors(validator: Draft202012Validator, doc: Doc) -> list[ValidationError]:
    """Every error, including those nested in anyOf/oneOf contexts."""

    def walk(errors: list[ValidationError]) -> Iterator[ValidationError]:
        for err in errors:
            yield err
            yield from walk(list(err.context))

    return list(walk(list(validator.iter_errors(doc))))


def assert_valid(validator: Draft202012Validator, doc: Doc) -> None:
    errors = all_errors(validator, doc)
    if errors:
        lines = [f"{e.json_path}: {e.message}" for e in errors]
        pytest.fail("schema rejected the document:\n" + "\n".join(lines))


def event(**kw: Any) -> SecurityEvent:
    """An event with a fixed timestamp (the id stays a freshly generated UUIDv7)."""
    kw.setdefault("action", "login_failed")
    kw.setdefault("category", Category.AUTH)
    kw.setdefault("timestamp", T0)
    return SecurityEvent(**kw)


def full_event() -> SecurityEvent:
    """An event with every optional field of the model set."""
    return event(
        action="login_brute_force",
        category=Category.AUTH,
        severity=Severity.HIGH,
        message="12 failed logins for alice from 203.0.113.7 in 60 s",
        outcome=Outcome.FAILURE,
        kind="alert",
        types=("start",),
        source_ip="2001:db8::7",
        user_name="alice",
        url_path="/login",
        url_query="next=%2Faccount",
        http_method="POST",
        status_code=401,
        user_agent="curl/8.5.0",
        rule_id="auth.brute_force",
        rule_name="Brute-force login",
        details={"failures": 12, "window_s": 60, "nested": {"list": [1, "two", None, True]}},
        id=FIXED_ID,
    )


def with_processor_fields(doc: Doc) -> Doc:
    """``doc`` plus what the pipeline's processors may add."""
    out = copy.deepcopy(doc)
    out["service"] = {"name": "shop-api"}
    out["host"] = {"hostname": "web-1"}
    out["bulletproof"]["truncated"] = ["user_agent.original", "bulletproof.details.body"]
    out["bulletproof"]["truncated_bytes"] = 70_000
    return out


def schema_paths(node: Doc, prefix: str = "") -> set[str]:
    """Dotted paths of every property the schema declares (not inside free-form objects)."""
    paths: set[str] = set()
    for name, sub in node.get("properties", {}).items():
        path = f"{prefix}{name}"
        paths.add(path)
        paths |= schema_paths(sub, f"{path}.")
    return paths


def doc_paths(doc: Doc, prefix: str = "") -> set[str]:
    """Dotted paths of every key in ``doc``, not descending into ``bulletproof.details``."""
    paths: set[str] = set()
    for name, value in doc.items():
        path = f"{prefix}{name}"
        paths.add(path)
        if isinstance(value, dict) and path != "bulletproof.details":
            paths |= doc_paths(value, f"{path}.")
    return paths


def object_schemas(node: Doc, path: str = "$") -> Iterator[tuple[str, Doc]]:
    """Every property schema reachable through ``properties`` and ``items``, with its path."""
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from object_schemas(sub, f"{path}.{name}")
    items = node.get("items")
    if isinstance(items, dict):
        yield from object_schemas(items, f"{path}[]")


def prop(schema: Doc, dotted: str) -> Doc:
    node = schema
    for part in dotted.split("."):
        node = node["properties"][part]
    return node


def fenced_blocks(markdown: str, language: str) -> list[str]:
    pattern = rf"^```{language}[ \t]*\n(.*?)^```[ \t]*$"
    return re.findall(pattern, markdown, flags=re.MULTILINE | re.DOTALL)


def json_blocks(markdown: str) -> list[str]:
    return fenced_blocks(markdown, "json")


# --- the schema itself ---------------------------------------------------------------------------


def test_schema_is_draft_2020_12_with_the_published_id(schema: Doc) -> None:
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID


def test_every_property_has_a_description(schema: Doc) -> None:
    missing = [
        path
        for path, node in object_schemas(schema)
        if path != "$" and not path.endswith("[]") and not node.get("description")
    ]
    assert missing == [], f"properties without a description: {missing}"


def test_objects_are_closed_except_details(schema: Doc) -> None:
    """A typo in the producer must be caught: every object with declared fields is closed."""
    open_objects = [
        path
        for path, node in object_schemas(schema)
        if "properties" in node and node.get("additionalProperties") is not False
    ]
    assert open_objects == []
    details = prop(schema, "bulletproof.details")
    assert details["type"] == "object"
    assert "properties" not in details
    assert "additionalProperties" not in details


# --- enums: schema and Python agree, both directions ---------------------------------------------


def test_bulletproof_category_enum_matches_python(schema: Doc) -> None:
    in_schema = set(prop(schema, "bulletproof.category")["enum"])
    in_python = {c.value for c in Category}
    assert in_python - in_schema == set(), "Category members missing from the schema"
    assert in_schema - in_python == set(), "schema lists categories Python does not have"


def test_bulletproof_severity_enum_matches_python(schema: Doc) -> None:
    in_schema = set(prop(schema, "bulletproof.severity")["enum"])
    in_python = {s.value for s in Severity}
    assert in_python - in_schema == set(), "Severity members missing from the schema"
    assert in_schema - in_python == set(), "schema lists severities Python does not have"


def test_event_severity_numbers_match_python(schema: Doc) -> None:
    in_schema = set(prop(schema, "event.severity")["enum"])
    in_python = {s.ecs for s in Severity}
    assert in_python - in_schema == set(), "Severity.ecs numbers missing from the schema"
    assert in_schema - in_python == set(), "schema lists severity numbers Python does not produce"
    assert in_schema == {21, 47, 73, 99}


def test_event_outcome_enum_matches_python(schema: Doc) -> None:
    in_schema = set(prop(schema, "event.outcome")["enum"])
    in_python = {o.value for o in Outcome}
    assert in_python - in_schema == set(), "Outcome members missing from the schema"
    assert in_schema - in_python == set(), "schema lists outcomes Python does not have"


def test_event_category_enum_matches_the_ecs_categories_used(schema: Doc) -> None:
    in_schema = set(prop(schema, "event.category")["items"]["enum"])
    in_python = {value for c in Category for value in c.ecs_categories}
    assert in_python - in_schema == set(), "ECS categories used by Category missing from the schema"
    assert in_schema - in_python == set(), "schema lists ECS categories no Category maps to"


def test_event_kind_enum_holds_the_model_default(schema: Doc) -> None:
    kinds = prop(schema, "event.kind")["enum"]
    assert kinds == ["event", "alert"]
    assert event().kind in kinds


def test_new_event_ids_match_the_event_id_pattern(schema: Doc) -> None:
    pattern = re.compile(prop(schema, "event.id")["pattern"])
    ids = [new_event_id() for _ in range(500)]
    assert [i for i in ids if not pattern.fullmatch(i)] == []
    assert len(set(ids)) == len(ids)


def test_ecs_version_matches_its_pattern(schema: Doc) -> None:
    assert re.fullmatch(prop(schema, "ecs.version")["pattern"], ECS_VERSION)


# --- what the producer emits validates -----------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "severity", "outcome"),
    list(itertools.product(Category, Severity, Outcome)),
    ids=lambda v: v.value,
)
def test_every_category_severity_and_outcome_validates(
    validator: Draft202012Validator, category: Category, severity: Severity, outcome: Outcome
) -> None:
    doc = event(category=category, severity=severity, outcome=outcome).to_ecs()
    assert_valid(validator, wire(doc))


@pytest.mark.parametrize("kind", ["event", "alert"])
def test_both_kinds_validate(validator: Draft202012Validator, kind: str) -> None:
    assert_valid(validator, wire(event(kind=kind).to_ecs()))


def test_event_with_every_optional_field_validates(validator: Draft202012Validator) -> None:
    assert_valid(validator, wire(full_event().to_ecs()))


def test_schema_declares_exactly_the_fields_the_producer_can_emit(schema: Doc) -> None:
    """Both directions: no emitted field is missing from the schema, no schema field is unused."""
    emitted = doc_paths(with_processor_fields(full_event().to_ecs()))
    declared = schema_paths(schema)
    assert emitted - declared == set(), "emitted but not in the schema"
    assert declared - emitted == set(), "in the schema but never emitted"


def test_event_with_processor_added_fields_validates(validator: Draft202012Validator) -> None:
    assert_valid(validator, wire(with_processor_fields(full_event().to_ecs())))


def test_output_of_the_default_processor_chain_validates(validator: Draft202012Validator) -> None:
    from bulletproof.events.processors import EventEncoder, default_processors

    ev = event(
        action="request_blocked",
        category=Category.MALICIOUS_TRAFFIC,
        severity=Severity.CRITICAL,
        message="SQL injection in q\r\nInjected: yes\x00",
        outcome=Outcome.FAILURE,
        kind="alert",
        types=("denied",),
        source_ip="198.51.100.23",
        user_name="bob\nadmin",
        url_path="/search",
        url_query="q=1%27%20OR%201=1&api_key=sk_live_123&token=abc",
        http_method="GET",
        status_code=403,
        user_agent="x" * 20_000,
        rule_id="sqli.union",
        rule_name="SQL injection",
        details={
            "headers": {"Authorization": "Bearer abc", "Cookie": "sid=1", "X-Ok": "a\u2028b"},
            "password": "hunter2",
            "body": "y" * 20_000,
            "matches": ["z" * 10_000, "short"],
        },
    )
    doc: Doc | None = ev.to_ecs()
    for processor in default_processors(service="shop-api", hostname="web-1"):
        assert doc is not None
        doc = processor(doc)
    assert doc is not None
    out = json.loads(EventEncoder().encode(doc))
    assert_valid(validator, out)
    # The same event, over the bound on one event: cut down, and still valid.
    small = EventEncoder(max_event_bytes=4096).encode(copy.deepcopy(doc))
    assert len(small) <= 4096
    cut = json.loads(small)
    assert_valid(validator, cut)
    assert cut["bulletproof"]["truncated_bytes"] > 4096
    # The chain did run (otherwise this test would prove nothing about processor output).
    assert out["service"] == {"name": "shop-api"}
    assert out["host"] == {"hostname": "web-1"}
    assert "user_agent.original" in out["bulletproof"]["truncated"]
    assert "sk_live_123" not in json.dumps(out)


# --- what the schema must reject -----------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value

    return mutate


def _delete(path: str) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


NEGATIVE_CASES: list[tuple[str, Callable[[Doc], None], str]] = [
    ("wrong severity number", _set("event.severity", 50), "$.event.severity"),
    ("unknown top-level key", _set("evnt", {"id": FIXED_ID}), "$"),
    ("missing event.id", _delete("event.id"), "$.event"),
    ("unknown key in an ECS object", _set("source.address", "203.0.113.7"), "$.source"),
    ("unknown key under bulletproof", _set("bulletproof.detials", {}), "$.bulletproof"),
    ("missing @timestamp", _delete("@timestamp"), "$"),
    ("timestamp without Z", _set("@timestamp", "2025-03-14T09:26:53+00:00"), "$['@timestamp']"),
    ("event.id not a UUID", _set("event.id", "e1"), "$.event.id"),
    ("event.id upper case", _set("event.id", FIXED_ID.upper()), "$.event.id"),
    ("unknown kind", _set("event.kind", "signal"), "$.event.kind"),
    ("unknown outcome", _set("event.outcome", "ok"), "$.event.outcome"),
    ("severity as a string", _set("event.severity", "73"), "$.event.severity"),
    ("unknown ECS category", _set("event.category", ["network"]), "$.event.category[0]"),
    ("empty event.type", _set("event.type", []), "$.event.type"),
    ("dataset outside bulletproof.", _set("event.dataset", "nginx.access"), "$.event.dataset"),
    (
        "unknown bulletproof.category",
        _set("bulletproof.category", "spam"),
        "$.bulletproof.category",
    ),
    (
        "unknown bulletproof.severity",
        _set("bulletproof.severity", "severe"),
        "$.bulletproof.severity",
    ),
    ("severity word and number disagree", _set("bulletproof.severity", "low"), "$.event.severity"),
    ("dataset of another category", _set("event.dataset", "bulletproof.update"), "$.event.dataset"),
    ("ECS categories of another category", _set("event.category", ["web"]), "$.event.category"),
    ("status code too high", _set("http.response.status_code", 600), "$.http.response.status_code"),
    (
        "status code as a string",
        _set("http.response.status_code", "401"),
        "$.http.response.status_code",
    ),
    (
        "status code as a bool",
        _set("http.response.status_code", True),
        "$.http.response.status_code",
    ),
    ("source.ip not an address", _set("source.ip", "attacker.example"), "$.source.ip"),
    ("details not an object", _set("bulletproof.details", ["a"]), "$.bulletproof.details"),
    ("truncated not a list", _set("bulletproof.truncated", "message"), "$.bulletproof.truncated"),
    ("empty message", _set("message", ""), "$.message"),
    ("ecs.version not x.y.z", _set("ecs.version", "8.11"), "$.ecs.version"),
    ("empty url object", _set("url", {}), "$.url"),
    ("unknown key in http.request", _set("http.request.body", "x"), "$.http.request"),
]


@pytest.mark.parametrize(
    ("mutate", "where"),
    [pytest.param(m, w, id=name) for name, m, w in NEGATIVE_CASES],
)
def test_schema_rejects(
    validator: Draft202012Validator, mutate: Callable[[Doc], None], where: str
) -> None:
    doc = wire(full_event().to_ecs())
    assert_valid(validator, doc)  # the starting point is valid, so the mutation is what fails
    mutate(doc)
    errors = all_errors(validator, doc)
    assert errors, "the schema accepted an invalid document"
    assert where in {e.json_path for e in errors}, [f"{e.json_path}: {e.message}" for e in errors]


@pytest.mark.parametrize("severity", list(Severity), ids=lambda s: s.value)
def test_each_severity_rejects_every_other_number(
    validator: Draft202012Validator, severity: Severity
) -> None:
    for other in Severity:
        doc = wire(event(severity=severity).to_ecs())
        doc["event"]["severity"] = other.ecs
        failed = bool(all_errors(validator, doc))
        assert failed == (other is not severity), (severity, other)


@pytest.mark.parametrize("category", list(Category), ids=lambda c: c.value)
def test_each_category_pins_its_dataset_and_ecs_categories(
    validator: Draft202012Validator, category: Category
) -> None:
    for other in Category:
        if other is category:
            continue
        doc = wire(event(category=category).to_ecs())
        doc["event"]["dataset"] = f"bulletproof.{other.value}"
        assert all_errors(validator, doc), f"{category.value} accepted dataset of {other.value}"
        if other.ecs_categories != category.ecs_categories:
            doc = wire(event(category=category).to_ecs())
            doc["event"]["category"] = list(other.ecs_categories)
            assert all_errors(validator, doc), (
                f"{category.value} accepted event.category {other.ecs_categories}"
            )


def test_details_stay_free_form(validator: Draft202012Validator) -> None:
    doc = wire(full_event().to_ecs())
    doc["bulletproof"]["details"] = {"anything": {"at": ["any", {"depth": 1.5}]}, "Weird-Key": None}
    assert_valid(validator, doc)


# --- docs/events.md ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def docs() -> str:
    return DOCS_PATH.read_text(encoding="utf-8")


def test_docs_example_validates(validator: Draft202012Validator, docs: str) -> None:
    blocks = json_blocks(docs)
    assert blocks, "docs/events.md has no ```json block"
    example = json.loads(blocks[0])
    assert_valid(validator, example)


def test_docs_example_is_a_brute_force_login_the_model_can_produce(docs: str) -> None:
    example = json.loads(json_blocks(docs)[0])
    assert example["bulletproof"]["category"] == "auth"
    assert example["bulletproof"]["severity"] == "high"
    for field in ("source", "user", "url", "rule"):
        assert field in example
    # Rebuilding it through the model gives it back, minus what processors add: so the example
    # shows exactly what to_ecs() emits (mapping, dataset, number, timestamp format).
    expected = copy.deepcopy(example)
    expected.pop("service", None)
    expected.pop("host", None)
    expected["bulletproof"].pop("truncated", None)
    assert SecurityEvent.from_ecs(example).to_ecs() == expected


def test_docs_json_blocks_all_parse(docs: str) -> None:
    for block in json_blocks(docs):
        json.loads(block)


def test_docs_console_blocks_are_a_request_line_and_a_json_body(docs: str) -> None:
    """The Elasticsearch requests (ingest pipeline, index template, search) are well formed."""
    blocks = fenced_blocks(docs, "console")
    assert len(blocks) >= 3
    for block in blocks:
        request, _, body = block.partition("\n")
        assert re.fullmatch(r"(GET|PUT|POST) [a-z_*/-]+", request), request
        assert isinstance(json.loads(body), dict), request


def test_docs_list_every_category(docs: str) -> None:
    for category in Category:
        row = re.search(rf"^\|\s*`{category.value}`\s*\|(.*)$", docs, flags=re.MULTILINE)
        assert row, f"docs/events.md has no table row for category {category.value!r}"
        for ecs_category in category.ecs_categories:
            assert ecs_category in row.group(1), (category, ecs_category)


def test_docs_severity_table_matches_the_model(docs: str) -> None:
    for severity in Severity:
        pattern = rf"^\|\s*`{severity.value}`\s*\|\s*{severity.ecs}\s*\|\s*{severity.syslog}\b"
        assert re.search(pattern, docs, flags=re.MULTILINE), (
            f"docs/events.md severity table is missing or wrong for {severity.value!r}"
        )
