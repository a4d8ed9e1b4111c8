"""Claim: 500 pinned dependencies are audited offline in under 1 s of wall time, interpreter
start-up included, against OSV's PyPI data; pip-audit and ``uv audit``, when installed, are
timed in the same run against a local OSV API serving the same snapshot.

Usage::

    uv run python bench/audit.py [--db PyPI-all.zip] [--pins 500] [--runs 5]
                                 [--pip-audit PATH] [--uv PATH]

Prints the median wall time of each tool over ``--runs`` runs (bulletproof: the first run,
which indexes the export, and the later ones, which read the index), the number of findings
each reported, and each tool's time as a ratio of bulletproof's. The baseline for the 1 s
claim is ``python -c pass`` (interpreter start-up), measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _osv_api import osv_api

REPO = Path(__file__).resolve().parent.parent
SNAPSHOT = REPO / "tests" / "cases" / "audit" / "PyPI-all.zip"
BULLETPROOF = REPO / ".venv" / "bin" / "bulletproof"


def _pins(export: Path, count: int) -> list[tuple[str, str]]:
    """``count`` packages of the export, each pinned to a version its records list."""
    chosen: dict[str, str] = {}
    with zipfile.ZipFile(export) as archive:
        for name in sorted(archive.namelist()):
            record = json.loads(archive.read(name))
            for entry in record.get("affected", []):
                versions = entry.get("versions") or []
                package = entry.get("package", {}).get("name")
                if versions and package and package.lower() not in chosen:
                    chosen[package.lower()] = versions[len(versions) // 2]
    pins = sorted(chosen.items())[:count]
    if len(pins) < count:
        raise SystemExit(f"the export names only {len(pins)} packages with versions")
    return pins


def _time(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, done.stdout


def _uv_project(folder: Path, pins: list[tuple[str, str]]) -> None:
    deps = ", ".join(f'"{n}=={v}"' for n, v in pins)
    (folder / "pyproject.toml").write_text(
        f'[project]\nname = "bench"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        f"dependencies = [{deps}]\n"
    )
    lines = [
        "version = 1",
        "revision = 3",
        'requires-python = ">=3.11"',
        "",
        "[[package]]",
        'name = "bench"',
        'version = "0.1.0"',
        'source = { virtual = "." }',
        "dependencies = [",
        *[f'    {{ name = "{n}" }},' for n, _ in pins],
        "]",
        "",
        "[package.metadata]",
        "requires-dist = [",
        *[f'    {{ name = "{n}", specifier = "=={v}" }},' for n, v in pins],
        "]",
    ]
    for name, version in pins:
        lines += [
            "",
            "[[package]]",
            f'name = "{name}"',
            f'version = "{version}"',
            'source = { registry = "https://pypi.org/simple" }',
        ]
    (folder / "uv.lock").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=SNAPSHOT)
    parser.add_argument("--pins", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pip-audit", default=shutil.which("pip-audit"))
    parser.add_argument("--uv", default=shutil.which("uv"))
    args = parser.parse_args()
    pins = _pins(args.db, args.pins)
    work = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    requirements = work / "requirements.txt"
    requirements.write_text("".join(f"{n}=={v}\n" for n, v in pins))
    cache = work / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULLETPROOF_")}
    env["BULLETPROOF_AUDIT__CACHE_DIR"] = str(cache)
    ours = [str(BULLETPROOF), "audit", "-r", str(requirements), "--db", str(args.db)]
    ours += ["--format", "json"]

    startup = statistics.median(
        _time([sys.executable, "-c", "pass"], work)[0] for _ in range(args.runs)
    )
    cold, out = _time(ours, work, env)
    found = sum(len(d["findings"]) for d in json.loads(out)["dependencies"])
    warm_runs = [_time(ours, work, env)[0] for _ in range(args.runs)]
    warm = statistics.median(warm_runs)
    print(f"{args.pins} pins from {args.db.name}; {args.runs} runs each, median wall time")
    print(f"python -c pass           {startup * 1000:8.0f} ms  (interpreter start-up)")
    print(f"bulletproof, first run   {cold * 1000:8.0f} ms  (indexes the export)")
    print(
        f"bulletproof              {warm * 1000:8.0f} ms  {found} findings  "
        f"target < 1000 ms: {'PASS' if warm < 1.0 else 'MISSED'}"
    )
    with osv_api(args.db) as base:
        if args.pip_audit:
            command = [
                args.pip_audit,
                "-r",
                str(requirements),
                "--disable-pip",
                "--no-deps",
                "-s",
                "osv",
                "--osv-url",
                f"{base}/v1/query",
                "-f",
                "json",
                "--progress-spinner",
                "off",
                "--cache-dir",
                str(work / "pip-audit-cache"),
            ]
            runs = [_time(command, work) for _ in range(args.runs)]
            seconds = statistics.median(r[0] for r in runs)
            data = json.loads(runs[-1][1])
            theirs = sum(len(d.get("vulns", [])) for d in data.get("dependencies", []))
            print(
                f"pip-audit (local API)    {seconds * 1000:8.0f} ms  {theirs} findings  "
                f"{seconds / warm:.1f}x bulletproof"
            )
        else:
            print("pip-audit                not installed (--pip-audit PATH)")
        if args.uv:
            project = work / "uv-project"
            project.mkdir()
            _uv_project(project, pins)
            command = [
                args.uv,
                "audit",
                "--frozen",
                "--service-url",
                base,
                "--output-format",
                "json",
            ]
            uv_env = dict(env, UV_CACHE_DIR=str(work / "uv-cache"))
            try:
                runs = [_time(command, project, uv_env) for _ in range(args.runs)]
            except SystemExit as exc:
                print(f"uv audit                 could not run: {str(exc)[:300]}")
            else:
                seconds = statistics.median(r[0] for r in runs)
                print(
                    f"uv audit (local API)     {seconds * 1000:8.0f} ms  "
                    f"{seconds / warm:.1f}x bulletproof"
                )
        else:
            print("uv audit                 uv not found (--uv PATH)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
