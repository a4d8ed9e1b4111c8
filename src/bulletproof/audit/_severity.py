"""Severity computed from a CVSS vector (the base score, as the specification defines it).

>>> score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
9.8
>>> rating(9.8), rating(5.3), rating(0.0)
('critical', 'medium', 'none')

CVSS v3.0 and v3.1 base scores are computed from their formula; a CVSS v4.0 score from its
MacroVector and severity distances (:mod:`bulletproof.audit._cvss4`). A vector that cannot be
read gives None (the finding's severity is then unknown, never guessed).

>>> score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H")
10.0

Added in 0.1.
"""

from __future__ import annotations

import math
from typing import Final

__all__ = ["RATINGS", "rating", "score"]

RATINGS: Final = ("none", "low", "medium", "high", "critical")
"""Qualitative ratings, lowest first. Added in 0.1."""

_V3: Final[dict[str, dict[str, float]]] = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "PR": {"N": 0.85, "L": 0.62, "H": 0.27},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_PR_CHANGED: Final = {"N": 0.85, "L": 0.68, "H": 0.5}


def _roundup_31(value: float) -> float:
    """CVSS 3.1's Roundup: the smallest one-decimal number at or above ``value``, robust to
    floating-point error."""
    whole = round(value * 100000)
    if whole % 10000 == 0:
        return whole / 100000
    return (math.floor(whole / 10000) + 1) / 10


def _roundup_30(value: float) -> float:
    return math.ceil(value * 10) / 10


def _v3(vector: str) -> float | None:
    head, _, body = vector.partition("/")
    if head not in ("CVSS:3.0", "CVSS:3.1"):
        return None
    metrics: dict[str, str] = {}
    for part in body.split("/"):
        name, _, value = part.partition(":")
        if name in metrics:
            return None
        metrics[name] = value
    try:
        scope = metrics["S"]
        av = _V3["AV"][metrics["AV"]]
        ac = _V3["AC"][metrics["AC"]]
        pr = (_PR_CHANGED if scope == "C" else _V3["PR"])[metrics["PR"]]
        ui = _V3["UI"][metrics["UI"]]
        c, i, a = (_V3[m][metrics[m]] for m in ("C", "I", "A"))
    except KeyError:
        return None
    if scope not in ("U", "C"):
        return None
    iss = 1 - (1 - c) * (1 - i) * (1 - a)
    impact = 6.42 * iss if scope == "U" else 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15
    exploitability = 8.22 * av * ac * pr * ui
    if impact <= 0:
        return 0.0
    roundup = _roundup_31 if head == "CVSS:3.1" else _roundup_30
    if scope == "U":
        return roundup(min(impact + exploitability, 10))
    return roundup(min(1.08 * (impact + exploitability), 10))


def score(vector: str) -> float | None:
    """The score of a CVSS v3.x or v4.0 vector, or None when it cannot be read.

    Added in 0.1.
    """
    vector = vector.strip()
    if vector.startswith("CVSS:4.0/"):
        from bulletproof.audit._cvss4 import score_v4

        return score_v4(vector)
    return _v3(vector)


def rating(value: float | None) -> str | None:
    """The qualitative rating of a score (``none``, ``low``, ``medium``, ``high``,
    ``critical``), None for None. Added in 0.1."""
    if value is None:
        return None
    if value == 0:
        return "none"
    if value < 4:
        return "low"
    if value < 7:
        return "medium"
    if value < 9:
        return "high"
    return "critical"
