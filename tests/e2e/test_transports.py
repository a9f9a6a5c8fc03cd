"""The installed console script over real stdio, and streamable HTTP on a real loopback port."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import anyio
import httpx2
import pytest
import uvicorn
from mcp import Client, StdioServerParameters
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.mcp.app import create_server
from lox24_mcp.mcp.http import build_http_app
from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer
from tests.helpers import console_script, free_port, serve_in_thread

pytestmark = pytest.mark.anyio

HTTP_TOKEN = "http-bearer-for-tests-0123456789"


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOX24_")}
    env.update(extra)
    return env


@pytest.mark.parametrize("mode", ["2026-07-28", "legacy"])
async def test_the_installed_console_script_serves_stdio_on_the_sandbox(mode: str) -> None:
    params = StdioServerParameters(command=console_script(), args=["--sandbox"], env=child_env())
    with anyio.fail_after(60):
        async with Client(params, mode=mode) as client:
            tools = await client.list_tools()
            groups = await client.call_tool("list_groups", {})
    assert {t.name for t in tools.tools} == {
        "cancel_pending_sms",
        "add_phones_to_group",
        "add_phones_from_file",
        "list_groups",
        "list_group_contacts",
        "search_sms",
        "confirm_cancel_in_card",
    }
    assert groups.structured_content is not None and groups.structured_content["sandbox"] is True


def test_without_a_token_or_sandbox_it_exits_2_naming_both() -> None:
    done = subprocess.run(  # noqa: S603 (our own console script)
        [console_script()], env=child_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "LOX24_API_TOKEN" in lines[0] and "--sandbox" in lines[0]


def test_a_non_loopback_bind_without_http_token_refuses_to_start() -> None:
    done = subprocess.run(  # noqa: S603
        [console_script(), "--sandbox", "--transport", "http", "--host", "0.0.0.0", "--port", "9"],  # noqa: S104
        env=child_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "LOX24_MCP_HTTP_TOKEN" in done.stderr


@pytest.fixture
def http_server(empty_sandbox: SandboxServer) -> Iterator[str]:
    """lox24-mcp over streamable HTTP on 127.0.0.1, bearer token required, on a background thread."""
    settings = Settings(api_token=SecretStr(DEMO_TOKEN), base_url=empty_sandbox.url)
    empty_sandbox.state.add_group("VIP customers")
    app = build_http_app(create_server(settings), host="127.0.0.1", http_token=SecretStr(HTTP_TOKEN))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    with serve_in_thread(server):
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.mark.parametrize("mode", ["2026-07-28", "legacy"])
async def test_http_with_the_bearer_token_serves_both_eras(http_server: str, mode: str) -> None:
    from mcp.client.streamable_http import streamable_http_client

    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {HTTP_TOKEN}"}, timeout=10) as http:
        with anyio.fail_after(30):
            async with Client(streamable_http_client(http_server, http_client=http), mode=mode) as client:
                groups = await client.call_tool("list_groups", {})
    assert groups.structured_content is not None
    assert [g["name"] for g in groups.structured_content["groups"]] == ["VIP customers"]


async def test_http_without_or_with_a_wrong_bearer_gets_401(http_server: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    async with httpx2.AsyncClient(timeout=10) as http:
        missing = await http.post(http_server, json=body)
        wrong = await http.post(http_server, json=body, headers={"Authorization": "Bearer nope"})
    assert missing.status_code == 401 and wrong.status_code == 401
    assert HTTP_TOKEN not in missing.text + wrong.text
    assert missing.headers["www-authenticate"].startswith("Bearer")


async def test_http_with_a_foreign_host_header_gets_421(http_server: str) -> None:
    headers = {
        "Authorization": f"Bearer {HTTP_TOKEN}",
        "Host": "evil.example:80",
        "Accept": "application/json, text/event-stream",
    }
    async with httpx2.AsyncClient(timeout=10) as http:
        response = await http.post(http_server, json={}, headers=headers)
    assert response.status_code == 421


def test_on_a_terminal_stdio_mode_says_on_stderr_that_it_waits_for_a_client() -> None:
    import pty
    import select

    controller, terminal = pty.openpty()
    proc = subprocess.Popen(  # noqa: S603 (our own console script)
        [console_script(), "--sandbox"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
    )
    os.close(terminal)
    seen = b""
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        while b"waiting for an MCP client" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], 1.0)
            if ready:
                chunk = os.read(proc.stderr.fileno(), 4096)
                if not chunk:
                    break
                seen += chunk
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
        os.close(controller)
    text = seen.decode()
    assert "waiting for an MCP client" in text and "inspector" in text
