"""``fhir-bonemet serve``: starts the real service; JWT verification can only be switched off by --no-auth."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fhir_bonemet.cli import examples_runner
from fhir_bonemet.cli.main import build_parser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BONEMET_")}
    env["BONEMET_DATA_DIR"] = str(tmp_path / "var")
    env.update(extra)
    return env


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fhir_bonemet", *args],
        env=environment(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_parser_knows_serve_and_its_options() -> None:
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "8123", "--no-auth"])
    assert (args.command, args.host, args.port, args.no_auth) == ("serve", "0.0.0.0", 8123, True)
    assert build_parser().parse_args(["serve"]).no_auth is False


def test_a_subcommand_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([])
    assert info.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fhir_bonemet",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-auth",
        ],
        env=environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.trust_env = False
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                if session.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the service did not start: {process.communicate(timeout=5)[1]}")
            time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


def test_serve_no_auth_starts_answers_and_warns_loudly(
    served: tuple[str, subprocess.Popen[str]], tmp_path: Path
) -> None:
    base, process = served
    session = requests.Session()
    session.trust_env = False
    discovery = session.get(f"{base}/cds-services", timeout=5)
    assert discovery.status_code == 200
    assert len(discovery.json()["services"]) == 3
    assert (tmp_path / "var" / "bonemet.sqlite3").is_file()  # the embedded default store
    process.terminate()
    _, stderr = process.communicate(timeout=10)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    [warning] = [line for line in lines if "JWT VERIFICATION IS DISABLED" in line["event"]]
    assert warning["level"] == "WARNING"
    assert any(line["event"] == "request" and line["path"] == "/cds-services" for line in lines)


def test_serve_without_auth_configuration_refuses_to_start(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "serve", "--port", str(free_port()))
    assert result.returncode == 2
    assert "BONEMET_PUBLIC_BASE_URL" in result.stderr
    assert "--no-auth" in result.stderr


def test_the_environment_cannot_disable_auth(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "serve", "--port", str(free_port()), BONEMET_AUTH_REQUIRED="false")
    assert result.returncode == 2
    assert "JWT verification needs" in result.stderr


def test_invalid_settings_are_reported_without_their_values(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "serve", "--no-auth", BONEMET_MAX_BODY_BYTES="tiny-secret-value")
    assert result.returncode == 2
    assert "max_body_bytes" in result.stderr
    assert "tiny-secret-value" not in result.stderr


def test_a_store_that_cannot_be_opened_is_said_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    for command in ("outbox", "feedback-report"):
        result = subprocess.run(
            [sys.executable, "-m", "fhir_bonemet", command],
            env={**environment(tmp_path), "BONEMET_DATA_DIR": str(tmp_path / "afile")},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 1, command
        assert "cannot open the SQLite store" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_setting_that_is_not_json_is_said_not_a_traceback(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "outbox", BONEMET_WRITEBACK_TOKENS="notjson")
    assert result.returncode == 2
    assert "writeback_tokens" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_port_in_use_is_said_not_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_cli(tmp_path, "serve", "--no-auth", "--workers", "1", "--port", str(port))
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("today", ["notadate", "2026-02-30", "0001-01-01"])
def test_an_example_request_for_an_impossible_day_is_refused(tmp_path: Path, today: str) -> None:
    result = run_cli(tmp_path, "example-request", "thoracic-spine-sins14", "--today", today)
    assert result.returncode == 2
    assert "--today" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["validate", "map-check"])
def test_a_file_nested_past_the_recursion_limit_is_said(tmp_path: Path, command: str) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    result = run_cli(tmp_path, command, str(deep))
    assert result.returncode == 1
    assert "nests too deeply" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command", ["serve", "map-check", "outbox", "feedback-report", "rules", "example-request", "validate"]
)
def test_each_subcommand_help_is_plain_text(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([command, "--help"])
    assert info.value.code == 0
    shown = capsys.readouterr().out
    # reStructuredText from a docstring would be printed raw (and cut off at its first blank line)
    assert not any(markup in shown for markup in (":mod:", ":func:", "``", "::\n"))


def test_validate_help_gives_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["validate", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "Exit status: 0 no resource has an error (warnings pass), 1 errors, 2 the validator" in shown


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--scenario", "rib-only"], "unknown --scenario rib-only; the scenarios are: thoracic-spine"),
        (["--examples", "no-such-directory"], "example patients directory not found"),
    ],
)
def test_the_examples_runner_refuses_a_wrong_scenario_or_directory_before_any_request(
    options: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens on the discard port: a runner that went on would fail there, not refuse the option.
    nowhere = "http://127.0.0.1:9"
    with pytest.raises(SystemExit) as info:
        examples_runner.main(["--fhir", f"{nowhere}/fhir", "--service", nowhere, *options])
    assert info.value.code == 2
    assert said in capsys.readouterr().err


def test_a_reader_that_stops_reading_ends_the_command_without_a_word(tmp_path: Path) -> None:
    """``fhir-bonemet rules --json | head -1``: the closed pipe is not an error to report."""
    process = subprocess.Popen(
        [sys.executable, "-m", "fhir_bonemet", "rules", "--json"],
        env=environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.read(10)
    process.stdout.close()  # as head does after its first line
    _, err = process.communicate(timeout=60)
    assert err == b""
