"""The generic section loader: a dataclass's field types decide how each key is read."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pytest

from bulletproof._settings import (
    Duration,
    FileOnly,
    Given,
    Loc,
    NotifierConfig,
    Parse,
    SinkConfig,
    Size,
    check_ranges,
    display,
    env_names,
    field_kinds,
    known_keys,
    load_section,
)
from bulletproof.errors import ConfigError, OutOfRangeError


def _upper(given: Given, ctx: Any, parsed: Mapping[str, Any]) -> str:
    # A Parse function sees the fields parsed before it.
    return f"{parsed.get('name', '?')}:{str(given.value).upper()}"


@dataclass(frozen=True, slots=True)
class Toy:
    name: str = "toy"
    folder: Path = Path("data")
    limit: Annotated[int, Size()] = 1024
    wait: Annotated[float, Duration()] = 1.0
    loud: bool = False
    count: int = 3
    tags: tuple[str, ...] = ()
    secret_table: Annotated[dict[str, Any], FileOnly()] = field(default_factory=dict)
    shout: Annotated[str, Parse(_upper)] = ""

    def __post_init__(self) -> None:
        check_ranges(
            self,
            [
                ("count", lambda s: s.count >= 1, lambda s: "use at least 1", ()),
                (
                    "wait",
                    lambda s: s.wait <= s.count,
                    lambda s: f"wait at most count ({s.count}) seconds",
                    ("count",),
                ),
            ],
        )


class Ctx:
    def __init__(self, root: Path, env: Mapping[str, str] | None = None) -> None:
        self._root = root
        self._env = dict(env or {})

    @property
    def root(self) -> Path:
        return self._root

    def interp(self, text: str, loc: Loc) -> tuple[str, bool]:
        out = re.sub(r"\$\{(\w+)\}", lambda m: self._env[m.group(1)], text)
        return out, out != text

    def split(self, text: str, loc: Loc, sep: str, example: str) -> list[object]:
        return [p for p in re.split(r"[,\s]+", text) if p]

    def brief(self, name: str, value: object) -> str:
        return repr(value)

    def sinks(self, given: Given) -> tuple[SinkConfig, ...]:
        raise AssertionError("no sinks here")

    def notifiers(self, given: Given) -> tuple[NotifierConfig, ...]:
        raise AssertionError("no notifiers here")


def given(origin: str = "file", /, **values: object) -> dict[str, Given]:
    return {
        k: Given(v, Loc("toy.toml: [toy]", k), origin)  # type: ignore[arg-type]
        for k, v in values.items()
    }


def test_field_types_decide_the_kinds_and_keys() -> None:
    assert field_kinds(Toy) == {
        "name": "str",
        "folder": "path",
        "limit": "size",
        "wait": "duration",
        "loud": "bool",
        "count": "int",
        "tags": "names",
        "secret_table": "raw",
        "shout": "parse",
    }
    assert known_keys(Toy)[0] == "name"
    names = env_names("BULLETPROOF_", {"toy": Toy, "": Toy})
    assert names["BULLETPROOF_TOY__LIMIT"] == "toy.limit"
    assert names["BULLETPROOF_COUNT"] == "count"
    assert "BULLETPROOF_TOY__SECRET_TABLE" not in names  # FileOnly


def test_file_values_are_coerced_and_relative_paths_resolve(tmp_path: Path) -> None:
    toy = load_section(
        Toy,
        given(
            name="n",
            folder="spool",
            limit="2MiB",
            wait="1500ms",
            loud=True,
            count=5,
            tags=["a", " b "],
            shout="hi",
        ),
        Ctx(tmp_path),
    )
    assert toy == Toy(
        name="n",
        folder=tmp_path / "spool",
        limit=2 * 1024 * 1024,
        wait=1.5,
        loud=True,
        count=5,
        tags=("a", "b"),
        shout="n:HI",
    )
    absolute = load_section(Toy, given(folder=str(tmp_path / "x")), Ctx(Path("/elsewhere")))
    assert absolute.folder == tmp_path / "x"
    assert load_section(Toy, {}, Ctx(tmp_path)).folder == tmp_path / "data"


def test_environment_strings_stand_for_other_types(tmp_path: Path) -> None:
    toy = load_section(
        Toy, given("env", loud="yes", count="7", tags="a, b c", limit="1k"), Ctx(tmp_path)
    )
    assert (toy.loud, toy.count, toy.tags, toy.limit) == (True, 7, ("a", "b", "c"), 1000)


def test_a_reference_makes_a_file_string_lenient(tmp_path: Path) -> None:
    toy = load_section(Toy, given(count="${N}"), Ctx(tmp_path, {"N": "4"}))
    assert toy.count == 4


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"count": "5"}, "toy.toml: [toy] count = '5' is a string; expected a whole number. "),
        ({"loud": "yes"}, "[toy] loud = 'yes' is a string; expected true or false."),
        ({"limit": "lots"}, "[toy] limit = 'lots' is not a size"),
        ({"limit": True}, "[toy] limit = True is a boolean; expected a size"),
        ({"wait": "soon"}, "[toy] wait = 'soon' is not a duration"),
        ({"tags": "a,b"}, "[toy] tags = 'a,b' is a string; expected a list of strings."),
        ({"tags": ["a", 3]}, "[toy] tags[1] = 3 is a whole number; expected a string."),
        ({"tags": ["a\nb"]}, "[toy] tags[0] = 'a\\nb' is empty or has control characters."),
        ({"folder": ""}, "[toy] folder is empty or has a NUL character"),
        ({"name": 3}, "[toy] name = 3 is a whole number; expected a string."),
    ],
)
def test_wrong_values_name_the_key_and_what_was_expected(
    tmp_path: Path, values: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_section(Toy, given(**values), Ctx(tmp_path))
    assert message in str(info.value)


def test_environment_bad_flag_lists_the_words(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"loud = 'maybe' is not true or false \(accepted"):
        load_section(Toy, given("env", loud="maybe"), Ctx(tmp_path))


def test_out_of_range_is_reported_at_the_key_that_was_written(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_section(Toy, given(count=0), Ctx(tmp_path))
    assert str(info.value) == "toy.toml: [toy] count = 0 is out of range: use at least 1."
    # A rule between two keys is blamed on its own key when that was written...
    with pytest.raises(ConfigError, match=r"\[toy\] wait = 9.0 is out of range: wait at most"):
        load_section(Toy, given(wait=9, count=2), Ctx(tmp_path))
    # ...else on the other key it names, the one that was written.
    assert load_section(Toy, given(count=1, wait=0.5), Ctx(tmp_path)).wait == 0.5
    with pytest.raises(ConfigError) as info:
        load_section(_Pair, given(low=5), Ctx(tmp_path))
    assert str(info.value) == "toy.toml: [toy] low = 5 is out of range: at most high (2)."
    # Nothing written breaks it: the message names section.key.
    with pytest.raises(ConfigError) as info:
        load_section(_Tight, {}, Ctx(tmp_path), default_key="toy")
    assert str(info.value) == "toy.wait = 1.0 is out of range: at most 0.5."


@dataclass(frozen=True, slots=True)
class _Pair:
    """``high`` is checked, but the rule blames ``low`` when only ``low`` was written."""

    low: int = 1
    high: int = 2

    def __post_init__(self) -> None:
        check_ranges(
            self,
            [("high", lambda s: s.low <= s.high, lambda s: f"at most high ({s.high})", ("low",))],
        )


@dataclass(frozen=True, slots=True)
class _Tight:
    """Defaults that break their own rule: the message names the section's key."""

    wait: Annotated[float, Duration()] = 1.0

    def __post_init__(self) -> None:
        if self.wait > 0.5:
            raise OutOfRangeError("wait", self.wait, "at most 0.5", ())


def test_display_is_json_data_with_paths_as_text(tmp_path: Path) -> None:
    toy = Toy(folder=tmp_path, tags=("a",))
    shown = display(toy)
    assert shown["folder"] == str(tmp_path)
    assert shown["tags"] == ["a"]
    sink = SinkConfig("https://h/${T}", {"token": "s3cret"}, "https://h/${T}", {"token": "${T}"})
    assert display(sink) == {"url": "https://h/${T}", "options": {"token": "${T}"}}
    assert "s3cret" not in repr(sink)
