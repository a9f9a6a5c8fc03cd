"""The API token never shows up where people look: logs (every logger, DEBUG), reprs, exception texts.

A fake secret is planted as the token, the client is driven through success and every failure path, and
everything observable is searched for the secret and for its key part after the colon.
"""

from __future__ import annotations

import ast
import logging
import socket
import traceback
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from pydantic import SecretStr

import lox24_mcp.lox24.client
from lox24_mcp.config import ConfigError, Settings
from lox24_mcp.lox24.client import Lox24Client, RetryPolicy
from lox24_mcp.lox24.errors import (
    AuthCooldownError,
    AuthenticationError,
    Lox24ConnectionError,
    Lox24Error,
    Lox24OutcomeUnknownError,
    NotFoundError,
    ServerError,
)
from lox24_mcp.lox24.models import SmsFilters
from lox24_mcp.sandbox import DEMO_TOKEN, Faults, SandboxServer, SandboxState

SECRET = "7654321:FAKE-SECRET-abc123xyz"
KEY_PART = SECRET.partition(":")[2]
NEEDLES = (SECRET, KEY_PART, "FAKE-SECRET")
FAST = RetryPolicy(attempts=3, total_time=5.0, backoff=0.001, max_backoff=0.002, auth_cooldown=60.0)
CLIENT_SOURCE = Path(lox24_mcp.lox24.client.__file__).read_text(encoding="utf-8")


def assert_clean(text: str, where: str) -> None:
    for needle in NEEDLES:
        assert needle not in text, f"the secret leaked into {where}: {text[:300]!r}"


def assert_exception_clean(exc: BaseException) -> None:
    """Message, args, attributes, and the whole printed traceback with its causes."""
    assert_clean(str(exc), "str(exc)")
    assert_clean(repr(exc), "repr(exc)")
    assert_clean(repr(exc.args), "exc.args")
    assert_clean(repr(vars(exc)), "exception attributes")
    assert_clean("".join(traceback.format_exception(exc)), "the formatted traceback")
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None:
            assert_clean(repr(linked), "a chained exception")
            assert_clean(repr(linked.args), "a chained exception's args")


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture
def secret_sandbox() -> Iterator[SandboxServer]:
    """A sandbox that accepts the planted secret; started before logs are captured (uvicorn configures logging)."""
    with SandboxServer(SandboxState(token=SECRET, seed_demo_data=False)) as server:
        yield server


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture, secret_sandbox: SandboxServer) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG, including those that do not propagate to the root logger."""
    for name in ("lox24_mcp", "httpx2", "httpcore2", "uvicorn", "uvicorn.error", "uvicorn.access", "starlette"):
        logging.getLogger(name)
    caplog.set_level(logging.DEBUG)
    isolated: list[logging.Logger] = []
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
        logger = logging.getLogger(name)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
            isolated.append(logger)
    try:
        yield caplog
    finally:
        for logger in isolated:
            logger.removeHandler(caplog.handler)


def assert_logs_clean(caplog: pytest.LogCaptureFixture) -> None:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        assert_clean(formatter.format(record), f"log record {record.name}")  # message, args, exc_info, stack
        assert_clean(repr(record.msg), f"log record {record.name} msg")
        assert_clean(repr(record.args), f"log record {record.name} args")
        assert_clean(repr(vars(record)), f"log record {record.name} attributes")


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# ----------------------------------------------------------------------------- the client, end to end


@pytest.mark.anyio
async def test_secret_appears_in_no_log_repr_or_exception_on_any_path(
    secret_sandbox: SandboxServer, all_logs: pytest.LogCaptureFixture
) -> None:
    state = secret_sandbox.state
    group = state.add_group("Customers")
    raised: list[BaseException] = []

    async def expect(exc_type: type[Lox24Error], call: Callable[[], Awaitable[object]]) -> None:
        with pytest.raises(exc_type) as info:
            await call()
        raised.append(info.value)

    async with Lox24Client(SecretStr(SECRET), base_url=secret_sandbox.url, retry=FAST, timeout=5.0) as client:
        assert_clean(repr(client), "repr(client)")
        assert_clean(str(client), "str(client)")
        assert client.account_id == "7654321"

        # Success: the secret really is what the server received.
        assert (await client.search_sms(SmsFilters(iso2="DE"))).total == 0
        assert await client.cancel_sms(SmsFilters(iso2="DE")) == 0
        assert [g.id for g in await client.list_groups()] == [group]
        assert (await client.add_phones(group, [{"phone": "+4915112345678"}]))[0].ok
        assert {r.headers["x-lox24-auth-token"] for r in state.requests} == {SECRET}

        # 404.
        await expect(NotFoundError, lambda: client.add_phones(group + 1, [{"phone": "+4915112345678"}]))
        # 503 until the attempts run out.
        state.faults = Faults(error_rate=1.0)
        await expect(ServerError, client.list_groups)
        # Dropped connection on a POST: outcome unknown.
        state.faults = Faults(drop_rate=1.0)
        await expect(Lox24OutcomeUnknownError, lambda: client.cancel_sms(SmsFilters(iso2="DE")))
        state.faults = Faults()
        # 401, then the cool-down.
        state.token = DEMO_TOKEN
        await expect(AuthenticationError, client.list_groups)
        await expect(AuthCooldownError, lambda: client.search_sms(SmsFilters()))
        assert_clean(repr(client), "repr(client) after failures")

    # Connection refused.
    async with Lox24Client(SecretStr(SECRET), base_url=closed_port_url(), retry=FAST) as refused:
        await expect(Lox24ConnectionError, refused.list_groups)

    assert [type(e) for e in raised] == [
        NotFoundError,
        ServerError,
        Lox24OutcomeUnknownError,
        AuthenticationError,
        AuthCooldownError,
        Lox24ConnectionError,
    ]
    for exc in raised:
        assert_exception_clean(exc)

    # The net was wide enough to catch something from each layer.
    names = {r.name for r in all_logs.records}
    assert "lox24_mcp.lox24.client" in names
    assert "httpx2" in names
    assert any(n.startswith("httpcore2") for n in names)
    assert any(r.levelno == logging.DEBUG for r in all_logs.records)
    assert_logs_clean(all_logs)


@pytest.mark.anyio
async def test_secret_stays_out_of_mocked_error_answers_and_retries(all_logs: pytest.LogCaptureFixture) -> None:
    answers = iter(
        [
            httpx2.Response(429, headers={"Retry-After": "0"}),
            httpx2.Response(422, json={"detail": "bad", "violations": [{"propertyPath": "phone", "message": "x"}]}),
        ]
    )
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return next(answers)

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        client = Lox24Client(SecretStr(SECRET), base_url="http://lox24.test", http_client=http, retry=FAST)
        with pytest.raises(Lox24Error) as info:
            await client.add_phones(1, [{"phone": "+4915112345678"}])
    assert [r.headers["X-LOX24-AUTH-TOKEN"] for r in seen] == [SECRET, SECRET]
    assert_exception_clean(info.value)
    assert any("retrying" in r.getMessage() for r in all_logs.records)
    assert_logs_clean(all_logs)


@pytest.mark.anyio
@pytest.mark.parametrize("suffix", ["\n", "\r"], ids=["LF", "CR"])
async def test_a_token_with_a_line_break_fails_as_lox24_error_without_echoing_the_token(
    secret_sandbox: SandboxServer, suffix: str
) -> None:
    async with Lox24Client(SecretStr(SECRET + suffix), base_url=secret_sandbox.url, retry=FAST) as client:
        with pytest.raises(Lox24Error) as info:
            await client.list_groups()
    assert_exception_clean(info.value)


# ----------------------------------------------------------------------------- settings


def test_settings_never_show_the_token() -> None:
    settings = Settings(api_token=SecretStr(SECRET), secret=SecretStr(SECRET), http_token=SecretStr(SECRET))
    for text, where in [
        (repr(settings), "repr(settings)"),
        (str(settings), "str(settings)"),
        (settings.model_dump_json(), "settings JSON"),
        (repr(settings.model_dump()), "settings dump"),
    ]:
        assert_clean(text, where)
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == SECRET


def test_settings_from_env_keep_the_token_secret() -> None:
    settings = Settings.from_env({"LOX24_API_TOKEN": SECRET, "LOX24_MCP_CONFIRM": "token"})
    assert isinstance(settings.api_token, SecretStr)
    assert settings.api_token.get_secret_value() == SECRET
    assert_clean(repr(settings), "repr(settings from env)")


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"LOX24_API_TOKEN": SECRET, "LOX24_MCP_CONFIRM": "bogus"}, "LOX24_MCP_CONFIRM"),
        ({"LOX24_API_TOKEN": SECRET, "LOX24_TIMEOUT": "soon"}, "LOX24_TIMEOUT"),
        ({"LOX24_API_TOKEN": SECRET, "LOX24_BASE_URL": "ftp://x"}, "LOX24_BASE_URL"),
        ({"LOX24_API_TOKEN": SECRET, "LOX24_MCP_SECRET": SECRET, "LOX24_MCP_TOKEN_TTL": "5"}, "LOX24_MCP_TOKEN_TTL"),
    ],
)
def test_invalid_configuration_names_the_variable_without_the_secret(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(environ)
    assert variable in str(info.value)
    assert "LOX24_API_TOKEN" not in str(info.value)
    assert_exception_clean(info.value)


# ----------------------------------------------------------------------------- where the token is unwrapped


def test_client_unwraps_the_token_in_exactly_one_place() -> None:
    assert CLIENT_SOURCE.count("get_secret_value") == 1


def test_only_the_token_auth_class_unwraps_or_touches_the_token() -> None:
    tree = ast.parse(CLIENT_SOURCE)
    inside_auth: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "_TokenAuth":
            inside_auth.update(id(n) for n in ast.walk(node))
    assert inside_auth, "no _TokenAuth class in lox24_mcp/client.py"
    unwraps = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "get_secret_value"]
    assert len(unwraps) == 1
    assert all(id(n) in inside_auth for n in unwraps)
    # Nothing outside the class reaches for the wrapped token or the unwrapping helper either.
    private = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr in ("_token", "_value")]
    assert private
    assert all(id(n) in inside_auth for n in private), [ast.unparse(n) for n in private if id(n) not in inside_auth]
