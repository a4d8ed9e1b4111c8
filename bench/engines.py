"""Which engine matches the signatures: google-re2's Set against hyperscan and Python's re.

    uv run python bench/engines.py [CORPUS.jsonl] [--rounds 3]

The fields of every request of the corpus (default: the development corpus next to this
repository) are normalized as the inspector does, then matched against the value-context
signatures by each engine, in the same run: re2.Set through the extension objects (what the
inspector uses), hyperscan (``pip install hyperscan``; skipped with a note when absent), and
Python's backtracking ``re`` as one alternation of the same patterns (a reference only: it is
not linear-time, which rules it out on attacker input). Printed: compile time, mean time per
field (best of rounds), the ratio against re2, and whether each engine found the same rules.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from bulletproof.detect._engine import compile_set
from bulletproof.detect._inspector import Inspector
from bulletproof.detect._records import record_request
from bulletproof.detect._signatures import RULES

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "detect"


def _fields(corpus: Path) -> list[bytes]:
    inspector = Inspector()
    out: list[bytes] = []
    for line in corpus.read_text().splitlines():
        if line.strip():
            fields, _ = inspector.fields(record_request(json.loads(line)))
            out.extend(f[1].encode() for f in fields if f[3] == "v" and f[1])
    return out


def _best(run: Any, rounds: int, n: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=SHARED / "dev.jsonl")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not args.corpus.is_file():
        sys.exit(f"bench/engines.py: no corpus at {args.corpus}: pass a request .jsonl file")
    texts = _fields(args.corpus)
    patterns = [r.pattern for r in RULES if "v" in r.where]
    print(f"{len(texts)} value fields, {len(patterns)} signatures")

    start = time.perf_counter()
    re2_set = compile_set(patterns)
    re2_compile = time.perf_counter() - start
    expected = [sorted(re2_set.match(t)) for t in texts]
    re2_us = _best(lambda: [re2_set.match(t) for t in texts], args.rounds, len(texts))
    print(f"re2.Set    compile {re2_compile * 1000:7.1f} ms, {re2_us:6.2f} us per field  1.00x")

    try:
        import hyperscan
    except ImportError:
        print("hyperscan  not installed (pip install hyperscan): not measured")
    else:
        flags = hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_MULTILINE
        start = time.perf_counter()
        db = hyperscan.Database()
        db.compile(
            expressions=[p.encode() for p in patterns],
            ids=list(range(len(patterns))),
            elements=len(patterns),
            flags=[flags] * len(patterns),
        )
        scratch = hyperscan.Scratch(db)
        hs_compile = time.perf_counter() - start
        found: list[int] = []

        def on_match(index: int, start: int, end: int, flags: int, context: object) -> None:
            found.append(index)

        def hs_match(text: bytes) -> list[int]:
            found.clear()
            db.scan(text, match_event_handler=on_match, scratch=scratch)
            return sorted(set(found))

        same = all(hs_match(t) == e for t, e in zip(texts, expected, strict=True))
        hs_us = _best(lambda: [hs_match(t) for t in texts], args.rounds, len(texts))
        print(
            f"hyperscan  compile {hs_compile * 1000:7.1f} ms, {hs_us:6.2f} us per field  "
            f"{hs_us / re2_us:.2f}x  same rules: {same}"
        )

    start = time.perf_counter()
    python_syntax = [  # RE2 spells a code point \x{2019}; Python \u2019
        re.sub(r"\\x\{([0-9a-fA-F]+)\}", lambda m: f"\\u{int(m.group(1), 16):04x}", p)
        for p in patterns
    ]
    alternation = re.compile("|".join(f"(?P<r{i}>{p})" for i, p in enumerate(python_syntax)), re.M)
    py_compile = time.perf_counter() - start

    def py_match(text: bytes) -> list[int]:
        # finditer reports one alternative per position: a reference for speed, not a set match
        decoded = text.decode("utf-8", "replace")
        return sorted({int(m.lastgroup[1:]) for m in alternation.finditer(decoded) if m.lastgroup})

    py_us = _best(lambda: [py_match(t) for t in texts], args.rounds, len(texts))
    print(
        f"python re  compile {py_compile * 1000:7.1f} ms, {py_us:6.2f} us per field  "
        f"{py_us / re2_us:.2f}x  (backtracking: not linear-time, a reference only)"
    )


if __name__ == "__main__":
    main()
