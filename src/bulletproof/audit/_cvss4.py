"""CVSS v4.0 scores as FIRST's specification defines them (section 8, "CVSS v4.0 Scoring").

>>> score_v4("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H")
10.0
>>> score_v4("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")
9.3
>>> score_v4("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U")
8.1
>>> score_v4("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N")
0.0
>>> score_v4("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H") is None  # SC, SI, SA missing
True

CVSS v4.0 has no formula. The six equivalence sets EQ1..EQ6 sort a vector into one of 270
MacroVectors, each scored by FIRST's published lookup table; the vector's score is then moved
down from its MacroVector's score by how far (in severity steps) the vector lies from the most
severe vectors of its MacroVector, relative to the MacroVector's depth and to the score of the
next lower MacroVector. Threat (E) and environmental metrics take part: a modified metric
(MAV, MVC, MSI, ...) replaces its base metric, E defaults to Attacked and CR, IR, AR to High
(the highest severity). Supplemental metrics are read and checked but never change the score.

A vector that cannot be read (another prefix than ``CVSS:4.0``, a base metric missing, an
unknown or repeated metric, a value the metric does not have) gives None. Metrics may come in
any order: published advisories do not always keep the specification's.

Added in 0.1.
"""

from __future__ import annotations

import math
from typing import Final

__all__ = ["score_v4"]

_BASE: Final = ("AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA")

# Every metric of a CVSS v4.0 vector and its values (the specification's Vector String section),
# in the specification's order.
_VALUES: Final[dict[str, frozenset[str]]] = {
    name: frozenset(values.split())
    for name, values in {
        # base
        "AV": "N A L P",
        "AC": "L H",
        "AT": "N P",
        "PR": "N L H",
        "UI": "N P A",
        "VC": "H L N",
        "VI": "H L N",
        "VA": "H L N",
        "SC": "H L N",
        "SI": "H L N",
        "SA": "H L N",
        # threat
        "E": "X A P U",
        # environmental
        "CR": "X H M L",
        "IR": "X H M L",
        "AR": "X H M L",
        "MAV": "X N A L P",
        "MAC": "X L H",
        "MAT": "X N P",
        "MPR": "X N L H",
        "MUI": "X N P A",
        "MVC": "X H L N",
        "MVI": "X H L N",
        "MVA": "X H L N",
        "MSC": "X H L N",
        "MSI": "X S H L N",
        "MSA": "X S H L N",
        # supplemental
        "S": "X N P",
        "AU": "X N Y",
        "R": "X A U I",
        "V": "X D C",
        "RE": "X L M H",
        "U": "X Clear Green Amber Red",
    }.items()
}

# Not Defined (X), or absent, means the highest severity for these.
_DEFAULTS: Final[dict[str, str]] = {"E": "A", "CR": "H", "IR": "H", "AR": "H"}

# Severity level of each value in steps of 0.1, 0 the most severe: the unit of the
# specification's severity distances. SC has no Safety value, hence starts at 1 like SI and SA's
# High. E's max-composed vectors are E's own three values, so EQ5's distance is always 0.
_LEVELS: Final[dict[str, dict[str, int]]] = {
    "AV": {"N": 0, "A": 1, "L": 2, "P": 3},
    "PR": {"N": 0, "L": 1, "H": 2},
    "UI": {"N": 0, "P": 1, "A": 2},
    "AC": {"L": 0, "H": 1},
    "AT": {"N": 0, "P": 1},
    "VC": {"H": 0, "L": 1, "N": 2},
    "VI": {"H": 0, "L": 1, "N": 2},
    "VA": {"H": 0, "L": 1, "N": 2},
    "SC": {"H": 1, "L": 2, "N": 3},
    "SI": {"S": 0, "H": 1, "L": 2, "N": 3},
    "SA": {"S": 0, "H": 1, "L": 2, "N": 3},
    "CR": {"H": 0, "M": 1, "L": 2},
    "IR": {"H": 0, "M": 1, "L": 2},
    "AR": {"H": 0, "M": 1, "L": 2},
    "E": {"A": 0, "P": 1, "U": 2},
}

# The data below is FIRST's CVSS v4.0 specification data, transcribed from FIRST's reference
# calculator, github.com/RedHatProductSecurity/cvss-v4-calculator (files cvss_lookup.js,
# max_composed.js and max_severity.js, merged into cvss40.js at commit d1eafe0; unchanged since
# commit 01c7421, October 2023).

# Score of each MacroVector, keyed by its EQ levels in the order EQ1 EQ2 EQ3 EQ4 EQ5 EQ6
# (cvss_lookup.js). EQ3 = 2 with EQ6 = 0 cannot happen, so there are 270 and not 324.
# fmt: off
_MACRO_SCORES: Final[dict[str, float]] = {
    "000000": 10.0, "000001": 9.9, "000010": 9.8, "000011": 9.5, "000020": 9.5, "000021": 9.2,
    "000100": 10.0, "000101": 9.6, "000110": 9.3, "000111": 8.7, "000120": 9.1, "000121": 8.1,
    "000200": 9.3, "000201": 9.0, "000210": 8.9, "000211": 8.0, "000220": 8.1, "000221": 6.8,
    "001000": 9.8, "001001": 9.5, "001010": 9.5, "001011": 9.2, "001020": 9.0, "001021": 8.4,
    "001100": 9.3, "001101": 9.2, "001110": 8.9, "001111": 8.1, "001120": 8.1, "001121": 6.5,
    "001200": 8.8, "001201": 8.0, "001210": 7.8, "001211": 7.0, "001220": 6.9, "001221": 4.8,
    "002001": 9.2, "002011": 8.2, "002021": 7.2,
    "002101": 7.9, "002111": 6.9, "002121": 5.0,
    "002201": 6.9, "002211": 5.5, "002221": 2.7,
    "010000": 9.9, "010001": 9.7, "010010": 9.5, "010011": 9.2, "010020": 9.2, "010021": 8.5,
    "010100": 9.5, "010101": 9.1, "010110": 9.0, "010111": 8.3, "010120": 8.4, "010121": 7.1,
    "010200": 9.2, "010201": 8.1, "010210": 8.2, "010211": 7.1, "010220": 7.2, "010221": 5.3,
    "011000": 9.5, "011001": 9.3, "011010": 9.2, "011011": 8.5, "011020": 8.5, "011021": 7.3,
    "011100": 9.2, "011101": 8.2, "011110": 8.0, "011111": 7.2, "011120": 7.0, "011121": 5.9,
    "011200": 8.4, "011201": 7.0, "011210": 7.1, "011211": 5.2, "011220": 5.0, "011221": 3.0,
    "012001": 8.6, "012011": 7.5, "012021": 5.2,
    "012101": 7.1, "012111": 5.2, "012121": 2.9,
    "012201": 6.3, "012211": 2.9, "012221": 1.7,
    "100000": 9.8, "100001": 9.5, "100010": 9.4, "100011": 8.7, "100020": 9.1, "100021": 8.1,
    "100100": 9.4, "100101": 8.9, "100110": 8.6, "100111": 7.4, "100120": 7.7, "100121": 6.4,
    "100200": 8.7, "100201": 7.5, "100210": 7.4, "100211": 6.3, "100220": 6.3, "100221": 4.9,
    "101000": 9.4, "101001": 8.9, "101010": 8.8, "101011": 7.7, "101020": 7.6, "101021": 6.7,
    "101100": 8.6, "101101": 7.6, "101110": 7.4, "101111": 5.8, "101120": 5.9, "101121": 5.0,
    "101200": 7.2, "101201": 5.7, "101210": 5.7, "101211": 5.2, "101220": 5.2, "101221": 2.5,
    "102001": 8.3, "102011": 7.0, "102021": 5.4,
    "102101": 6.5, "102111": 5.8, "102121": 2.6,
    "102201": 5.3, "102211": 2.1, "102221": 1.3,
    "110000": 9.5, "110001": 9.0, "110010": 8.8, "110011": 7.6, "110020": 7.6, "110021": 7.0,
    "110100": 9.0, "110101": 7.7, "110110": 7.5, "110111": 6.2, "110120": 6.1, "110121": 5.3,
    "110200": 7.7, "110201": 6.6, "110210": 6.8, "110211": 5.9, "110220": 5.2, "110221": 3.0,
    "111000": 8.9, "111001": 7.8, "111010": 7.6, "111011": 6.7, "111020": 6.2, "111021": 5.8,
    "111100": 7.4, "111101": 5.9, "111110": 5.7, "111111": 5.7, "111120": 4.7, "111121": 2.3,
    "111200": 6.1, "111201": 5.2, "111210": 5.7, "111211": 2.9, "111220": 2.4, "111221": 1.6,
    "112001": 7.1, "112011": 5.9, "112021": 3.0,
    "112101": 5.8, "112111": 2.6, "112121": 1.5,
    "112201": 2.3, "112211": 1.3, "112221": 0.6,
    "200000": 9.3, "200001": 8.7, "200010": 8.6, "200011": 7.2, "200020": 7.5, "200021": 5.8,
    "200100": 8.6, "200101": 7.4, "200110": 7.4, "200111": 6.1, "200120": 5.6, "200121": 3.4,
    "200200": 7.0, "200201": 5.4, "200210": 5.2, "200211": 4.0, "200220": 4.0, "200221": 2.2,
    "201000": 8.5, "201001": 7.5, "201010": 7.4, "201011": 5.5, "201020": 6.2, "201021": 5.1,
    "201100": 7.2, "201101": 5.7, "201110": 5.5, "201111": 4.1, "201120": 4.6, "201121": 1.9,
    "201200": 5.3, "201201": 3.6, "201210": 3.4, "201211": 1.9, "201220": 1.9, "201221": 0.8,
    "202001": 6.4, "202011": 5.1, "202021": 2.0,
    "202101": 4.7, "202111": 2.1, "202121": 1.1,
    "202201": 2.4, "202211": 0.9, "202221": 0.4,
    "210000": 8.8, "210001": 7.5, "210010": 7.3, "210011": 5.3, "210020": 6.0, "210021": 5.0,
    "210100": 7.3, "210101": 5.5, "210110": 5.9, "210111": 4.0, "210120": 4.1, "210121": 2.0,
    "210200": 5.4, "210201": 4.3, "210210": 4.5, "210211": 2.2, "210220": 2.0, "210221": 1.1,
    "211000": 7.5, "211001": 5.5, "211010": 5.8, "211011": 4.5, "211020": 4.0, "211021": 2.1,
    "211100": 6.1, "211101": 5.1, "211110": 4.8, "211111": 1.8, "211120": 2.0, "211121": 0.9,
    "211200": 4.6, "211201": 1.8, "211210": 1.7, "211211": 0.7, "211220": 0.8, "211221": 0.2,
    "212001": 5.3, "212011": 2.4, "212021": 1.4,
    "212101": 2.4, "212111": 1.2, "212121": 0.5,
    "212201": 1.0, "212211": 0.3, "212221": 0.1,
}
# fmt: on

# The equivalence sets scored as one dimension each: EQ3 and EQ6 together (the specification
# joins them, both read VC, VI and VA), EQ5 on its own. Each names the metrics it reads.
_GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "eq1": ("AV", "PR", "UI"),
    "eq2": ("AC", "AT"),
    "eq3eq6": ("VC", "VI", "VA", "CR", "IR", "AR"),
    "eq4": ("SC", "SI", "SA"),
    "eq5": ("E",),
}

# The highest-severity vectors of each level of each group ("max composed", max_composed.js);
# a level of eq3eq6 is EQ3's digit then EQ6's.
_MAX_COMPOSED: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "eq1": {
        "0": ("AV:N/PR:N/UI:N",),
        "1": ("AV:A/PR:N/UI:N", "AV:N/PR:L/UI:N", "AV:N/PR:N/UI:P"),
        "2": ("AV:P/PR:N/UI:N", "AV:A/PR:L/UI:P"),
    },
    "eq2": {
        "0": ("AC:L/AT:N",),
        "1": ("AC:H/AT:N", "AC:L/AT:P"),
    },
    "eq3eq6": {
        "00": ("VC:H/VI:H/VA:H/CR:H/IR:H/AR:H",),
        "01": ("VC:H/VI:H/VA:L/CR:M/IR:M/AR:H", "VC:H/VI:H/VA:H/CR:M/IR:M/AR:M"),
        "10": ("VC:L/VI:H/VA:H/CR:H/IR:H/AR:H", "VC:H/VI:L/VA:H/CR:H/IR:H/AR:H"),
        "11": (
            "VC:L/VI:H/VA:L/CR:H/IR:M/AR:H",
            "VC:L/VI:H/VA:H/CR:H/IR:M/AR:M",
            "VC:H/VI:L/VA:H/CR:M/IR:H/AR:M",
            "VC:H/VI:L/VA:L/CR:M/IR:H/AR:H",
            "VC:L/VI:L/VA:H/CR:H/IR:H/AR:M",
        ),
        "21": ("VC:L/VI:L/VA:L/CR:H/IR:H/AR:H",),
    },
    "eq4": {
        "0": ("SC:H/SI:S/SA:S",),
        "1": ("SC:H/SI:H/SA:H",),
        "2": ("SC:L/SI:L/SA:L",),
    },
    "eq5": {
        "0": ("E:A",),
        "1": ("E:P",),
        "2": ("E:U",),
    },
}

# Depth of each level of each group: its largest severity distance plus one, in steps of 0.1
# ("max severity", max_severity.js).
_MAX_SEVERITY: Final[dict[str, dict[str, int]]] = {
    "eq1": {"0": 1, "1": 4, "2": 5},
    "eq2": {"0": 1, "1": 2},
    "eq3eq6": {"00": 7, "01": 6, "10": 8, "11": 8, "21": 10},
    "eq4": {"0": 6, "1": 5, "2": 4},
    "eq5": {"0": 1, "1": 1, "2": 1},
}

# The next lower levels of eq3eq6: from 00 both 01 and 10 are one step down (the higher-scored
# of the two counts), 21 is the bottom.
_LOWER_EQ3EQ6: Final[dict[str, tuple[str, ...]]] = {
    "00": ("01", "10"),
    "01": ("11",),
    "10": ("11",),
    "11": ("21",),
    "21": (),
}

_IMPACT: Final = ("VC", "VI", "VA", "SC", "SI", "SA")
_REQUIREMENTS: Final = (("CR", "VC"), ("IR", "VI"), ("AR", "VA"))


def _levels_of(composed: str) -> dict[str, int]:
    """The severity levels of a max-composed vector such as ``"AC:L/AT:N"``."""
    pairs = (part.split(":") for part in composed.split("/"))
    return {name: _LEVELS[name][value] for name, value in pairs}


_MAX_LEVELS: Final[dict[str, dict[str, tuple[dict[str, int], ...]]]] = {
    group: {level: tuple(map(_levels_of, vectors)) for level, vectors in by_level.items()}
    for group, by_level in _MAX_COMPOSED.items()
}


def _parse(vector: str) -> dict[str, str] | None:
    """The metrics of ``vector`` by name, or None when it is not a well-formed v4.0 vector."""
    prefix, *parts = vector.split("/")
    if prefix != "CVSS:4.0":
        return None
    metrics: dict[str, str] = {}
    for part in parts:
        name, colon, value = part.partition(":")
        if not colon or name in metrics or value not in _VALUES.get(name, ()):
            return None
        metrics[name] = value
    if not all(name in metrics for name in _BASE):
        return None
    return metrics


def _effective(metrics: dict[str, str]) -> dict[str, str]:
    """The value each scored metric takes: a modified metric over its base metric, and the
    highest-severity default for E, CR, IR and AR when they are Not Defined."""
    values = {}
    for name in _BASE:
        modified = metrics.get("M" + name, "X")
        values[name] = metrics[name] if modified == "X" else modified
    for name, default in _DEFAULTS.items():
        value = metrics.get(name, "X")
        values[name] = default if value == "X" else value
    return values


def _macro_vector(m: dict[str, str]) -> dict[str, str]:
    """The level of each group: the specification's equivalence sets EQ1 to EQ6."""
    if m["AV"] == m["PR"] == m["UI"] == "N":
        eq1 = "0"
    elif "N" in (m["AV"], m["PR"], m["UI"]) and m["AV"] != "P":
        eq1 = "1"
    else:
        eq1 = "2"
    eq2 = "0" if m["AC"] == "L" and m["AT"] == "N" else "1"
    if m["VC"] == m["VI"] == "H":
        eq3 = "0"
    elif "H" in (m["VC"], m["VI"], m["VA"]):
        eq3 = "1"
    else:
        eq3 = "2"
    if "S" in (m["SI"], m["SA"]):
        eq4 = "0"
    elif "H" in (m["SC"], m["SI"], m["SA"]):
        eq4 = "1"
    else:
        eq4 = "2"
    eq5 = str(_LEVELS["E"][m["E"]])
    required = any(m[need] == "H" == m[impact] for need, impact in _REQUIREMENTS)
    eq6 = "0" if required else "1"
    return {"eq1": eq1, "eq2": eq2, "eq3eq6": eq3 + eq6, "eq4": eq4, "eq5": eq5}


def _key(levels: dict[str, str]) -> str:
    """The lookup-table key of a MacroVector: its EQ1 to EQ6 digits."""
    eq3eq6 = levels["eq3eq6"]
    return levels["eq1"] + levels["eq2"] + eq3eq6[0] + levels["eq4"] + levels["eq5"] + eq3eq6[1]


def _lower(levels: dict[str, str], group: str) -> float | None:
    """The score of the next lower MacroVector along ``group``, None at the bottom."""
    level = levels[group]
    steps = _LOWER_EQ3EQ6[level] if group == "eq3eq6" else (str(int(level) + 1),)
    scores = [_MACRO_SCORES.get(_key(levels | {group: step})) for step in steps]
    return max((score for score in scores if score is not None), default=None)


def _distance(values: dict[str, str], group: str, level: str) -> int:
    """How many severity steps the vector lies below the most severe vectors of its level.

    The distance is taken from a max-composed vector that the vector does not exceed in any
    metric. Within a level all of them have the same total severity, so any such one gives
    the same distance."""
    own = {name: _LEVELS[name][values[name]] for name in _GROUPS[group]}
    for top in _MAX_LEVELS[group][level]:
        steps = [own[name] - top[name] for name in own]
        if min(steps) >= 0:
            return sum(steps)
    raise AssertionError(  # pragma: no cover - every level's max-composed vectors cover it
        f"no max-composed vector of {group} {level} covers {own}"
    )


def _round1(value: float) -> float:
    """Round half up to one decimal, as FIRST's calculator does: 1e-6 is added first so that
    a float just below a half (8.6 - 7.15 = 1.4499999999999993) still rounds up."""
    tenths = (value + 1e-6) * 10
    whole = math.floor(tenths)
    return (whole + 1 if tenths - whole >= 0.5 else whole) / 10


def score_v4(vector: str) -> float | None:
    """The CVSS v4.0 score (0.0 to 10.0, one decimal) of ``vector``, None when it is malformed.

    Added in 0.1.
    """
    metrics = _parse(vector)
    if metrics is None:
        return None
    values = _effective(metrics)
    if all(values[name] == "N" for name in _IMPACT):
        return 0.0
    levels = _macro_vector(values)
    top = _MACRO_SCORES[_key(levels)]  # every MacroVector a vector can fall in is in the table
    # Each group whose next lower MacroVector exists moves the score down by the share of the
    # score difference to it that the vector's distance is of the level's depth; the score
    # drops by the mean of these moves.
    moves = []
    for group, level in levels.items():
        lower = _lower(levels, group)
        if lower is not None:
            share = _distance(values, group, level) / _MAX_SEVERITY[group][level]
            moves.append((top - lower) * share)
    mean = sum(moves) / len(moves) if moves else 0.0
    return _round1(max(0.0, min(10.0, top - mean)))
