"""Settings and command line: one clear line and exit code 2 for anything bad, never a traceback (issue 9, class 6).

The CLI runs as a real process (`python -m lox24_mcp` or the console script) on loopback; every wait is
bounded by a deadline.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import termios
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr

from lox24_mcp.cli import _parser
from lox24_mcp.config import ENV_LIMITS, ENV_VARS, ConfigError, Settings
from lox24_mcp.mcp.app import create_server
from lox24_mcp.mcp.http import BindRefusedError, build_http_app
from tests.helpers import free_port, read_until

PYTHON_M = [sys.executable, "-m", "lox24_mcp"]
SCRIPT = Path(sys.executable).parent / "lox24-mcp"
DEADLINE = 60.0
SECRET_VALUE = "hunter2-must-never-show-0123456789"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOX24_")}
    return {**env, **extra}


def run(
    args: list[str], env: Mapping[str, str] | Mapping[bytes, bytes] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own CLI)
        [*PYTHON_M, *args],
        env=clean_env() if env is None else env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )


def assert_one_clean_line(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("WARNING ")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("lox24-mcp: ")
    for phrase in phrases:
        assert phrase in lines[0], (phrase, lines[0])
    assert SECRET_VALUE not in result.stderr


@contextmanager
def spawn(args: list[str], **kwargs: object) -> Iterator[subprocess.Popen[bytes]]:
    """The CLI as a child process; killed (and reaped) on the way out whatever happened."""
    proc = subprocess.Popen([*PYTHON_M, *args], stderr=subprocess.PIPE, **kwargs)  # type: ignore[call-overload]  # noqa: S603
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=DEADLINE)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


# ----------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("env", "phrase"),
    [
        ({"LOX24_MCP_SECRET": "too-short"}, "LOX24_MCP_SECRET: must be at least 16 bytes"),
        ({"LOX24_MCP_SECRET": SECRET_VALUE[:10] + "\udcff" * 8}, "LOX24_MCP_SECRET: is not valid UTF-8"),
        ({"LOX24_API_TOKEN": "1234:" + SECRET_VALUE + "\udcfe"}, "LOX24_API_TOKEN: is not valid UTF-8"),
        ({"LOX24_BASE_URL": "https://api.lox24.eu:70000"}, "LOX24_BASE_URL: the port must be a number from 1 to 65535"),
        ({"LOX24_BASE_URL": "https://api.lox24.eu:0"}, "LOX24_BASE_URL: the port must be"),
        ({"LOX24_BASE_URL": f"https://admin:{SECRET_VALUE}@api.lox24.eu"}, "must not contain user:password"),
        ({"LOX24_BASE_URL": "ftp://api.lox24.eu"}, "LOX24_BASE_URL: must be an http(s):// URL"),
        ({"LOX24_TIMEOUT": "nan"}, "LOX24_TIMEOUT: must be a number of seconds, more than 0 and at most 300"),
        ({"LOX24_TIMEOUT": "inf"}, "LOX24_TIMEOUT: must be a number of seconds"),
        ({"LOX24_TIMEOUT": "-1"}, "LOX24_TIMEOUT: must be a number of seconds"),
        ({"LOX24_TIMEOUT": "thirty"}, "LOX24_TIMEOUT: must be a number of seconds"),
        ({"LOX24_MCP_TOKEN_TTL": "5"}, "LOX24_MCP_TOKEN_TTL: must be a whole number of seconds from 30 to 3600"),
        ({"LOX24_MCP_CONFIRM": "never"}, "LOX24_MCP_CONFIRM: must be auto, human, elicit, token or off"),
        ({"LOX24_MCP_LOG_LEVEL": "verbose"}, "LOX24_MCP_LOG_LEVEL: must be DEBUG, INFO, WARNING or ERROR"),
        ({"LOX24_MCP_HTTP_TOKEN": "two words"}, "LOX24_MCP_HTTP_TOKEN: must be printable ASCII without spaces"),
    ],
)
def test_a_bad_setting_gives_one_line_naming_it_without_its_value(env: dict[str, str], phrase: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    message = str(info.value)
    assert phrase in message and "\n" not in message
    assert SECRET_VALUE not in message and SECRET_VALUE[:10] not in message


def test_case_and_stray_whitespace_are_forgiven_where_they_cannot_mean_anything_else() -> None:
    settings = Settings.from_env(
        {
            "LOX24_MCP_LOG_LEVEL": "debug",
            "LOX24_MCP_CONFIRM": "OFF",
            "LOX24_MCP_HTTP_TOKEN": "0123456789abcdef-token\r\n",
            "LOX24_MCP_SECRET": "0123456789abcdef",
        }
    )
    assert settings.log_level == "DEBUG" and settings.confirm == "off"
    assert settings.http_token is not None and settings.http_token.get_secret_value() == "0123456789abcdef-token"


def test_every_setting_has_a_limit_phrase_and_the_readme_table_states_it() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert set(ENV_LIMITS) == set(ENV_VARS)
    for var, limit in ENV_LIMITS.items():
        (row,) = [line.replace("`", "") for line in readme.splitlines() if line.startswith(f"| `{var}` |")]
        assert limit.removeprefix("must be ").removeprefix("must ") in row, (var, row)


def test_a_short_http_token_cannot_guard_a_public_bind() -> None:
    server = create_server(Settings(api_token=SecretStr("1:x")))
    with pytest.raises(BindRefusedError, match="at least 16 characters"):
        build_http_app(server, host="0.0.0.0", http_token=SecretStr("x"))  # noqa: S104 (refused before any bind)
    build_http_app(server, host="0.0.0.0", http_token=SecretStr("x" * 16))  # noqa: S104 (builds the app only)
    build_http_app(server, host="127.0.0.1", http_token=SecretStr("x"))  # loopback: any token is a bonus


# ----------------------------------------------------------------------------- command line


def test_host_and_port_have_one_definition_wherever_they_are_written() -> None:
    parser = _parser()
    options = [opt for action in parser._actions for opt in action.option_strings]
    assert options.count("--port") == 1 and options.count("--host") == 1
    assert parser.parse_args(["--port", "9000", "sandbox-api"]).port == 9000
    assert parser.parse_args(["sandbox-api", "--port", "9000"]).port == 9000


def test_the_port_given_before_sandbox_api_is_the_port_it_serves_on() -> None:
    port = free_port()
    with spawn(["--port", str(port), "sandbox-api"], env=clean_env()) as proc:
        read_until(proc, rf"LOX24 sandbox API on http://127\.0\.0\.1:{port}\b")


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["--port", "70000"], "argument --port: must be a port number from 1 to 65535"),
        (["--port", "-1", "--transport", "http"], "argument --port"),
        (["--transport", "smoke-signals"], "argument --transport"),
        (["sandbox-api", "--sandbox"], "sandbox-api takes only --host and --port"),
    ],
)
def test_a_bad_argument_gives_one_line_and_exit_code_2(args: list[str], phrase: str) -> None:
    assert_one_clean_line(run(args), phrase)


def test_non_utf8_bytes_in_the_environment_give_one_line_not_a_traceback() -> None:
    env = {k.encode(): v.encode() for k, v in clean_env().items()}
    env[b"LOX24_API_TOKEN"] = b"1234567:" + SECRET_VALUE.encode() + b"\xff\xfe"
    result = subprocess.run(  # noqa: S603
        PYTHON_M, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=DEADLINE, check=False
    )
    completed = subprocess.CompletedProcess(result.args, result.returncode, "", result.stderr.decode(errors="replace"))
    assert_one_clean_line(completed, "LOX24_API_TOKEN: is not valid UTF-8")


@pytest.mark.parametrize(
    ("env", "phrase"),
    [
        ({"LOX24_MCP_SECRET": "short"}, "LOX24_MCP_SECRET"),
        ({"LOX24_BASE_URL": f"https://u:{SECRET_VALUE}@api.lox24.eu"}, "LOX24_BASE_URL"),
        ({"LOX24_BASE_URL": "https://api.lox24.eu:99999"}, "LOX24_BASE_URL"),
        ({"LOX24_TIMEOUT": "nan"}, "must be a number of seconds"),
    ],
)
def test_bad_settings_stop_the_cli_with_one_line(env: dict[str, str], phrase: str) -> None:
    assert_one_clean_line(run(["--sandbox"], clean_env(**env)), phrase)


@pytest.mark.parametrize("command", [["sandbox-api"], ["--sandbox", "--transport", "http"]])
def test_a_busy_port_gives_one_line_and_no_serving_announcement(command: list[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run([*command, "--port", str(port)])
    assert_one_clean_line(result, f"cannot listen on 127.0.0.1:{port}")
    assert "serving MCP at" not in result.stderr


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
def test_ipv6_hosts_are_announced_in_brackets_once_bound() -> None:
    with spawn(["--sandbox", "--transport", "http", "--host", "::1", "--port", "0"], env=clean_env()) as proc:
        match, _ = read_until(proc, r"serving MCP at (http://\[::1\]:(\d+)/mcp)")
        port = int(match[2])
        with socket.create_connection(("::1", port), timeout=10):
            pass  # announced only once bound: the port accepts connections
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=DEADLINE) == 0


def _blocked_reading_the_terminal(pid: int) -> bool:
    """True once one of the process's threads sleeps in a terminal read (Linux /proc; else assume so)."""
    try:
        states = [Path(task, "wchan").read_text() for task in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return True
    return "wait_woken" in states or "n_tty_read" in states or not any(states)


def _make_controlling_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # stdin, in a new session: Ctrl-C on it reaches this process


def test_ctrl_c_in_a_terminal_stops_the_stdio_server_at_once() -> None:
    controller, terminal = pty.openpty()
    try:
        with spawn(
            ["--sandbox"],
            stdin=terminal,
            stdout=terminal,
            env=clean_env(),
            start_new_session=True,
            preexec_fn=_make_controlling_terminal,
        ) as proc:
            read_until(proc, r"Ctrl-C to quit")
            deadline = time.monotonic() + DEADLINE
            while not _blocked_reading_the_terminal(proc.pid):  # where today's server hangs
                assert time.monotonic() < deadline, "the server never waited for input"
                select.select([], [], [], 0.05)
            os.write(controller, b"\x03")  # Ctrl-C, typed on the terminal
            assert proc.wait(timeout=15) == 0  # today's server waits for one more line (Enter) first
    finally:
        os.close(controller)
        os.close(terminal)


@pytest.mark.skipif(not SCRIPT.exists(), reason="the console script is not installed next to this interpreter")
def test_the_terminal_banner_suggests_the_absolute_path_it_was_started_with() -> None:
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            ["./lox24-mcp", "--sandbox"],
            cwd=SCRIPT.parent,
            stdin=terminal,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=clean_env(),
        )
        try:
            _, banner = read_until(proc, r"inspector .*\n")
        finally:
            proc.kill()
            proc.wait(timeout=DEADLINE)
            assert proc.stderr is not None
            proc.stderr.close()
    finally:
        os.close(controller)
        os.close(terminal)
    assert f"npx @modelcontextprotocol/inspector {SCRIPT} --sandbox\n" in banner


def test_a_client_that_closes_stdout_ends_the_server_without_a_traceback() -> None:
    with spawn(["--sandbox"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=clean_env()) as proc:
        read_until(proc, r"sandbox mode")
        assert proc.stdout is not None and proc.stdin is not None
        proc.stdout.close()
        assert proc.wait(timeout=30) == 0
        assert proc.stderr is not None
        rest = proc.stderr.read().decode(errors="replace")
        assert "Traceback" not in rest and "Exception" not in rest
