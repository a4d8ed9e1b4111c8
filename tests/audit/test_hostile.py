"""Bad input of every kind gets a clear error or a skipped entry, never a traceback: hostile
records, unreadable files, several processes indexing one export at once."""

from __future__ import annotations

import multiprocessing
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulletproof.audit import open_database, read_requirements
from bulletproof.audit._match import match
from bulletproof.errors import ConfigError

SNAPSHOT = Path(__file__).parent.parent / "cases" / "audit" / "PyPI-all.zip"

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=12),
    st.sampled_from(["0", "1.0", "*", "2!1", "x"]),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_events = st.lists(
    st.one_of(
        st.dictionaries(
            st.sampled_from(["introduced", "fixed", "last_affected", "limit", "other"]),
            st.one_of(st.sampled_from(["0", "1.0", "2.0rc1", "*", "garbage!", ""]), _scalars),
            max_size=2,
        ),
        _json,
    ),
    max_size=6,
)
_records = st.fixed_dictionaries(
    {
        "id": st.one_of(st.text(max_size=10), st.integers()),
        "affected": st.one_of(
            _json,
            st.lists(
                st.fixed_dictionaries(
                    {
                        "package": st.one_of(
                            _json,
                            st.fixed_dictionaries(
                                {
                                    "ecosystem": st.sampled_from(["PyPI", "npm", 3]),
                                    "name": st.just("demo"),
                                }
                            ),
                        ),
                        "ranges": st.one_of(
                            _json,
                            st.lists(
                                st.fixed_dictionaries(
                                    {
                                        "type": st.sampled_from(["ECOSYSTEM", "SEMVER", "GIT", 1]),
                                        "events": _events,
                                    }
                                ),
                                max_size=3,
                            ),
                        ),
                        "versions": st.one_of(
                            _json, st.lists(st.one_of(st.text(max_size=6), _scalars))
                        ),
                    }
                ),
                max_size=3,
            ),
        ),
        "aliases": _json,
        "withdrawn": st.one_of(st.none(), st.just("2024-01-01T00:00:00Z")),
    }
)


@settings(max_examples=400, deadline=None)
@given(record=_records, version=st.sampled_from(["0", "1.0", "1.5", "2.0rc1", "0.1-legacy", "3"]))
def test_any_record_gives_a_match_or_none_never_an_exception(
    record: dict[str, Any], version: str
) -> None:
    problems: list[str] = []
    found = match(record, "demo", version, problems)
    assert found is None or isinstance(found.why, str)
    assert all(isinstance(p, str) for p in problems)


def test_a_requirements_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(b"flask==0.12\n\xff\xfe not utf-8\n")
    with pytest.raises(ConfigError, match="cannot read") as info:
        read_requirements(path)
    assert str(path) in str(info.value)


def test_a_nul_in_a_line_is_a_skipped_entry(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(b"flask==0.12\x00\njinja2==2.10\n")
    found = read_requirements(path)
    assert [d.name for d in found.dependencies] == ["jinja2"]
    assert [s.line for s in found.skipped] == [1]
    assert found.skipped[0].reason.startswith("not a requirement")


def test_deep_includes_stop_with_a_skipped_entry(tmp_path: Path) -> None:
    for depth in range(40):
        (tmp_path / f"r{depth}.txt").write_text(f"-r r{depth + 1}.txt\n")
    (tmp_path / "r40.txt").write_text("flask==0.12\n")
    found = read_requirements(tmp_path / "r0.txt")
    assert found.dependencies == []
    assert any("nested over 32 deep" in s.reason for s in found.skipped)


def _open(args: tuple[str, str]) -> int:
    export, cache = args
    db = open_database(Path(export), cache_dir=Path(cache))
    return len(db.lookup(["django"])["django"])


def test_processes_indexing_one_export_at_once_all_get_a_whole_index(tmp_path: Path) -> None:
    export = tmp_path / "all.zip"
    shutil.copy(SNAPSHOT, export)
    context = multiprocessing.get_context("fork")
    with context.Pool(4) as pool:
        counts = pool.map(_open, [(str(export), str(tmp_path / "cache"))] * 4)
    assert counts == [116] * 4
    assert not list((tmp_path / "cache").rglob("*.tmp"))


def test_the_audit_and_its_data_load_without_click_or_a_framework() -> None:
    code = (
        "import sys\n"
        "import bulletproof.audit._osv, bulletproof.audit._report, bulletproof.audit._sources\n"
        "import bulletproof.audit._download, bulletproof.audit._online\n"
        "import bulletproof.audit._formats, bulletproof.audit._settings\n"
        "bad = [m for m in ('click', 'starlette', 'django', 'flask') if m in sys.modules]\n"
        "print(bad)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
