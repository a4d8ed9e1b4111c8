"""The detector against the second labelled corpus (tests/cases/detect/requests.jsonl): recall
per core type and false positives per benign subtype stay where they were measured."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from bulletproof.detect import Inspector
from bulletproof.detect._records import record_request

CORPUS = Path(__file__).resolve().parents[1] / "cases" / "detect" / "requests.jsonl"
CORE = ("sqli", "xss", "path_traversal", "cmdi", "scanner_probe", "scanner_ua")


def _judged() -> tuple[Counter[str], Counter[str], Counter[str], Counter[str]]:
    inspector = Inspector()
    caught: Counter[str] = Counter()
    attacks: Counter[str] = Counter()
    flagged: Counter[str] = Counter()
    benign: Counter[str] = Counter()
    for line in CORPUS.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        record = json.loads(line)
        verdict = inspector.inspect(record_request(record)).verdict
        if record["label"] == "attack":
            attacks[record["attack_type"]] += 1
            caught[record["attack_type"]] += verdict == "malicious"
        else:
            benign[record["subtype"]] += 1
            flagged[record["subtype"]] += verdict != "normal"
    return caught, attacks, flagged, benign


def test_recall_and_false_positives_on_the_second_corpus() -> None:
    caught, attacks, flagged, benign = _judged()
    assert sum(attacks.values()) == 365
    assert sum(benign.values()) == 357
    for kind in CORE:
        assert caught[kind] / attacks[kind] >= 0.9, (kind, caught[kind], attacks[kind])
    assert sum(caught[k] for k in CORE) / sum(attacks[k] for k in CORE) >= 0.95
    # code pasted into a forum post (SQL, JavaScript, shell) is flagged: a known limit, tuned
    # per route with exclusions; every other benign subtype stays under 1 in 25
    for subtype, total in benign.items():
        if subtype != "code_snippet":
            assert flagged[subtype] / total <= 0.04, (subtype, flagged[subtype], total)
    others = sum(v for k, v in flagged.items() if k != "code_snippet")
    assert others / (sum(benign.values()) - benign["code_snippet"]) <= 0.01
