"""Realistic projects against the OSV snapshot: exactly the findings OSV's algorithm gives.

The expected ids below were read off the records by hand (each record's ECOSYSTEM events,
and for Django 2.2.24 cross-checked against the records' own ``versions`` lists, where
exactly these eight name 2.2.24); they do not come from running the code under test.
"""

from __future__ import annotations

import json
import shutil
import textwrap
import zipfile
from pathlib import Path

import pytest

from bulletproof.audit import Database, audit, open_database, read_source
from bulletproof.errors import AuditDataError

SNAPSHOT = Path(__file__).parent.parent / "cases" / "audit" / "PyPI-all.zip"
SNAPSHOT_SHA256 = "3b989ad8840da8d60ad6cb4b965c788394b72a34967b1519325feee1623e6989"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Database:
    return open_database(SNAPSHOT, cache_dir=tmp_path_factory.mktemp("cache"))


def _findings(db: Database, tmp_path: Path, requirements: str) -> dict[str, list[str]]:
    path = tmp_path / "requirements.txt"
    path.write_text(textwrap.dedent(requirements).lstrip("\n"))
    report = audit(read_source(path), db)
    assert report.skipped == []
    return {d.name: [f.id for f in d.findings] for d in report.dependencies}


def test_an_old_django_2_2_app(db: Database, tmp_path: Path) -> None:
    got = _findings(
        db,
        tmp_path,
        """
        Django==2.2.24
        sqlparse==0.4.1
        pytz==2021.1
        gunicorn==19.9.0
        celery==4.4.7
        redis==3.5.3
        """,
    )
    assert got == {
        "django": [
            "PYSEC-2021-439",
            "PYSEC-2022-1",
            "PYSEC-2022-19",
            "PYSEC-2022-190",
            "PYSEC-2022-191",
            "PYSEC-2022-2",
            "PYSEC-2022-20",
            "PYSEC-2022-3",
        ],
        "sqlparse": ["PYSEC-2021-333", "PYSEC-2023-87"],
        "pytz": [],
        "gunicorn": [],  # fixed in 19.5.0
        "celery": ["PYSEC-2021-858"],
        "redis": [],  # PYSEC-2023-73 names every version, but it is withdrawn
    }


def test_an_old_flask_0_12_app(db: Database, tmp_path: Path) -> None:
    got = _findings(
        db,
        tmp_path,
        """
        Flask==0.12
        Werkzeug==0.14.1
        Jinja2==2.10
        itsdangerous==0.24
        click==6.7
        MarkupSafe==1.0
        """,
    )
    assert got == {
        "flask": ["PYSEC-2018-66", "PYSEC-2019-179", "PYSEC-2023-62"],
        "werkzeug": [
            "PYSEC-2019-140",
            "PYSEC-2022-203",
            "PYSEC-2023-221",
            "PYSEC-2023-57",
            "PYSEC-2023-58",
        ],
        "jinja2": ["PYSEC-2019-217", "PYSEC-2021-66"],
        "itsdangerous": [],
        "click": [],
        "markupsafe": [],
    }


def test_a_data_science_stack_with_local_versions(db: Database, tmp_path: Path) -> None:
    got = _findings(
        db,
        tmp_path,
        """
        torch==1.12.1+cpu
        numpy==1.16.0
        pandas==1.0.3
        scipy==1.7.0
        scikit-learn==0.23.1
        """,
    )
    assert got == {
        "torch": ["PYSEC-2022-43015"],  # fixed in 1.13.1; 1.12.1+cpu is before it
        "numpy": ["PYSEC-2019-108", "PYSEC-2021-856", "PYSEC-2021-857"],
        "pandas": ["PYSEC-2020-73"],
        "scipy": ["PYSEC-2023-102", "PYSEC-2023-114"],
        "scikit-learn": ["PYSEC-2020-108"],  # fixed in 0.24.dev0; PYSEC-2020-107 in 0.23.1
    }
    fixed = _findings(db, tmp_path, "torch==1.13.1+cpu\n")
    assert fixed == {"torch": []}  # a local version of the fixed release is fixed


def test_a_modern_fastapi_app_is_clean(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(
        "fastapi==0.110.0\nstarlette==0.36.3\npydantic==2.6.0\nuvicorn==0.27.1\nredis==8.1.0\n"
    )
    report = audit(read_source(path), db)
    assert report.vulnerable == []
    assert report.exit_code() == 0
    assert [d.name for d in report.dependencies] == [
        "fastapi",
        "pydantic",
        "redis",
        "starlette",
        "uvicorn",
    ]


def test_the_report_names_its_data_and_says_why(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text("flask==0.12.2\nrequests>=2\n")
    report = audit(read_source(path), db)
    data = report.as_dict()
    assert data["db"] == {
        "source": str(SNAPSHOT),
        "sha256": SNAPSHOT_SHA256,
        "date": "2024-10-10T17:22:00.587279+00:00",
    }
    (flask,) = data["dependencies"]
    first = flask["findings"][0]
    assert first["id"] == "PYSEC-2018-66"
    assert first["aliases"] == ["CVE-2018-1000656", "GHSA-562c-5r94-xh97"]
    assert first["fix_versions"] == ["0.12.3"]
    assert first["why"] == [
        "PYSEC-2018-66: 0.12.2 is at or past introduced 0 and before fixed 0.12.3 "
        "(ECOSYSTEM range: introduced 0, fixed 0.12.3)"
    ]
    assert first["severity"] in (None, "low", "medium", "high", "critical")
    assert data["skipped"] == [
        {
            "file": str(path),
            "line": 2,
            "text": "requests>=2",
            "reason": "not pinned to one version (requests>=2): pin it (==) or audit the "
            "lock file or environment",
        }
    ]
    assert report.exit_code() == 1


def test_records_naming_one_cve_are_one_finding(tmp_path: Path) -> None:
    def record(ident: str, aliases: list[str]) -> dict[str, object]:
        return {
            "id": ident,
            "aliases": aliases,
            "modified": "2024-01-01T00:00:00Z",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "distributed"},
                    "ranges": [
                        {
                            "type": "ECOSYSTEM",
                            "events": [{"introduced": "0"}, {"fixed": "2021.10.0"}],
                        }
                    ],
                }
            ],
        }

    export = tmp_path / "export"
    export.mkdir()
    for ident in ("PYSEC-2021-871", "PYSEC-2021-872"):
        (export / f"{ident}.json").write_text(json.dumps(record(ident, ["CVE-2021-42343"])))
    other = record("PYSEC-2021-999", ["CVE-2021-42343"])
    other["affected"][0]["package"]["name"] = "dask"  # type: ignore[index]
    (export / "PYSEC-2021-999.json").write_text(json.dumps(other))
    db = open_database(export, cache_dir=tmp_path / "cache")
    req = tmp_path / "requirements.txt"
    req.write_text("distributed==2021.9.1\ndask==2021.9.1\n")
    report = audit(read_source(req), db)
    found = {d.name: [(f.id, f.aliases) for f in d.findings] for d in report.dependencies}
    assert found == {
        "dask": [("PYSEC-2021-999", ("CVE-2021-42343",))],  # same CVE, other package: apart
        "distributed": [("PYSEC-2021-871", ("CVE-2021-42343", "PYSEC-2021-872"))],
    }


def test_severity_comes_from_the_cvss_vector(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text("apache-skywalking==0.5.0\n")
    report = audit(read_source(path), db)
    (finding,) = report.dependencies[0].findings
    assert finding.id == "PYSEC-2020-342"
    assert (finding.score, finding.severity) == (
        9.8,
        "critical",
    )  # AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H
    kept = audit(read_source(path), db, min_severity="critical")
    assert kept.dependencies[0].findings == (finding,)


def test_the_index_is_built_once_and_reused(tmp_path: Path) -> None:
    copy = tmp_path / "all.zip"
    shutil.copy(SNAPSHOT, copy)
    cache = tmp_path / "cache"
    first = open_database(copy, cache_dir=cache)
    built = first.index.stat().st_mtime_ns
    again = open_database(copy, cache_dir=cache)
    assert again.index == first.index
    assert again.index.stat().st_mtime_ns == built
    assert (first.records, first.sha256) == (2661, SNAPSHOT_SHA256)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "not-json-member"])
def test_a_damaged_export_is_an_error_naming_it_and_the_fix(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "all.zip"
    if damage == "truncated":
        path.write_bytes(SNAPSHOT.read_bytes()[: 1 << 20])
    elif damage == "garbage":
        path.write_bytes(b"this is not a zip file\n" * 100)
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("PYSEC-1.json", "{not json")
    with pytest.raises(AuditDataError) as info:
        open_database(path, cache_dir=tmp_path / "cache")
    message = str(info.value)
    assert str(path) in message
    assert "--db PATH" in message
    assert not list((tmp_path / "cache").rglob("*.tmp"))  # no half-written index left


def test_a_missing_export_is_named(tmp_path: Path) -> None:
    with pytest.raises(AuditDataError, match="no OSV export at"):
        open_database(tmp_path / "none.zip", cache_dir=tmp_path / "cache")


def test_a_damaged_index_is_rebuilt(tmp_path: Path) -> None:
    copy = tmp_path / "all.zip"
    shutil.copy(SNAPSHOT, copy)
    cache = tmp_path / "cache"
    first = open_database(copy, cache_dir=cache)
    first.index.write_bytes(b"junk")
    again = open_database(copy, cache_dir=cache)
    assert again.records == 2661
    assert again.lookup(["flask"])["flask"]
