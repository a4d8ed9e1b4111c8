"""SinkSpec reads the parameters every sink shares the way the config file reads values."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from bulletproof.errors import ConfigError
from bulletproof.sinks import notifier_from_url, sink_from_url
from bulletproof.sinks.base import SinkSpec


def spec(url: str, **options: object) -> SinkSpec:
    return SinkSpec.parse(url, options=options)


@pytest.mark.parametrize(
    ("raw", "seconds"), [("10", 10.0), ("1500ms", 1.5), ("2m", 120.0), ("0.25", 0.25), ("1h", 3600)]
)
def test_timeout_takes_the_config_duration_forms(raw: str, seconds: float) -> None:
    assert spec(f"logstash://h:1?timeout={raw}").timeout() == seconds
    assert spec("https://h/in", timeout=raw).timeout(from_options=True) == seconds


@pytest.mark.parametrize("raw", ["0", "0ms", "2h", "soon", "-1", "1e3", "9" * 5000])
def test_timeout_out_of_range_or_malformed_names_url_and_forms(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        spec(f"logstash://h:1?timeout={raw}").timeout(" Accepted: X.")
    message = str(info.value)
    assert message.startswith("sink URL 'logstash://h:1?timeout=")
    assert "is not a number of seconds above 0 and at most 3600, nor a duration" in message
    assert message.endswith(" Accepted: X.")


@pytest.mark.parametrize("value", [0, -1, True, float("nan"), float("inf"), [], "x"])
def test_timeout_option_of_the_wrong_kind(value: object) -> None:
    with pytest.raises(ConfigError, match="is not a number of seconds above 0"):
        spec("https://h/in", timeout=value).timeout(from_options=True)


def test_absent_values_give_the_default() -> None:
    s = spec("logstash://h:1")
    assert s.timeout(default=7.0) == 7.0
    assert s.flag("verify", True) is True
    assert s.whole("replay_bytes", 5, 0, 10) == 5


@pytest.mark.parametrize(
    ("raw", "value"), [("yes", True), ("OFF", False), (" 1 ", True), ("false", False)]
)
def test_flags_take_the_config_words(raw: str, value: bool) -> None:
    assert spec(f"logstash+tls://h:1?verify={raw}").flag("verify", not value) is value


def test_bad_flag_and_whole_number_name_url_key_and_range() -> None:
    with pytest.raises(ConfigError, match=r"verify='maybe' must be true or false"):
        spec("logstash://h:1?verify=maybe").flag("verify", True)
    with pytest.raises(ConfigError, match=r"replay_bytes='-3' must be a whole number from 0 to 9"):
        spec("logstash://h:1?replay_bytes=-3").whole("replay_bytes", 1, 0, 9)
    with pytest.raises(ConfigError, match="must be a whole number from 0 to 9"):
        spec("logstash://h:1?replay_bytes=" + "9" * 10_000).whole("replay_bytes", 1, 0, 9)


def test_file_sink_fsync_takes_the_config_words(tmp_path: Path) -> None:
    sink = sink_from_url(f"file:///{tmp_path}/e.jsonl?fsync=on")
    assert sink.fsync is True  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"fsync='sometimes' must be true or false"):
        sink_from_url(f"file:///{tmp_path}/e.jsonl?fsync=sometimes")


def test_tls_context_verifies_by_default_and_off_only_without_ca(tmp_path: Path) -> None:
    ctx = spec("logstash+tls://h:1").tls_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname
    off = spec("logstash+tls://h:1").tls_context(verify=False)
    assert off.verify_mode == ssl.CERT_NONE
    assert not off.check_hostname
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    with pytest.raises(ConfigError, match="contradict each other"):
        spec(f"logstash+tls://h:1?ca={ca}").tls_context(verify=False)


def test_tls_context_ca_relative_missing_unloadable_or_not_text(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ca='nope.pem': no such file"):
        SinkSpec.parse("logstash+tls://h:1?ca=nope.pem", base_dir=tmp_path).tls_context()
    (tmp_path / "bad.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="could not be loaded as a PEM CA bundle"):
        SinkSpec.parse("logstash+tls://h:1?ca=bad.pem", base_dir=tmp_path).tls_context()
    with pytest.raises(ConfigError, match="must be the path of a PEM file"):
        spec("https://h/in", ca=3).tls_context(from_options=True)


def test_every_sink_kind_reads_timeout_the_same_way() -> None:
    urls = [
        "logstash://127.0.0.1:5000?timeout=1500ms",
        "syslog+tcp://127.0.0.1:514?timeout=1500ms",
    ]
    for url in urls:
        assert sink_from_url(url)._timeout == 1.5  # type: ignore[attr-defined]
    for url in ("smtp://127.0.0.1:25?from=a@b.c&to=d@e.f&tls=none&timeout=2h",):
        with pytest.raises(ConfigError, match="above 0 and at most 3600"):
            notifier_from_url(url)
    with pytest.raises(ConfigError, match="above 0 and at most 3600"):
        notifier_from_url("webhook+https://h.example.com/x", options={"timeout": "2h"})
