"""LOX24_MCP_CREDENTIALS=client: one HTTP server, many LOX24 accounts, each request with its own token.

A real sandbox with two (and more) accounts, the server on a real loopback port, the official
client over streamable HTTP with `X-LOX24-AUTH-TOKEN` per caller.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import anyio
import httpx2
import pytest
import uvicorn
from mcp import Client, MCPError
from mcp.client import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitRequestParams, ElicitResult, PromptReference
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.mcp.app import create_server
from lox24_mcp.mcp.http import build_http_app
from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer, SandboxState
from tests.helpers import data_of, free_port, serve_in_thread, text_of

pytestmark = pytest.mark.anyio

TOKEN_A = DEMO_TOKEN
TOKEN_B = "7654321:key-of-account-b-0123456789abcdef"
SECRET = "tenants-secret-0123456789abcdef"


@pytest.fixture
def two_accounts() -> Iterator[SandboxServer]:
    """Account A (the demo data) and account B (one group, two scheduled SMS of its own)."""
    state = SandboxState()
    b = state.add_account(TOKEN_B)
    b.add_group("B only")
    created = int(time.time()) - 60
    for i in range(2):
        b.add_sms(
            phone=f"+4917100000{i:02d}",
            text="B's reminder",
            delivery_at=int(time.time()) + 3600,
            callback_data="spring-sale",
            created_at=created,
        )
    with SandboxServer(state) as server:
        yield server
    state.close()


@pytest.fixture
def tenant_server(two_accounts: SandboxServer) -> Iterator[str]:
    """lox24-mcp over HTTP in client-credentials mode, with no LOX24_API_TOKEN of its own."""
    settings = Settings(base_url=two_accounts.url, credentials="client", secret=SecretStr(SECRET))
    app = build_http_app(create_server(settings), host="127.0.0.1", http_token=None, caller_credentials=True)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    with serve_in_thread(server):
        yield f"http://127.0.0.1:{port}/mcp"


@asynccontextmanager
async def as_tenant(
    url: str, token: str | None, *, dialog: bool = False, swap_to: str | None = None
) -> AsyncIterator[Client]:
    """An MCP client sending `token` in X-LOX24-AUTH-TOKEN (from the second tools/call on: `swap_to`)."""
    calls = 0

    async def swap(request: httpx2.Request) -> None:
        nonlocal calls
        if swap_to is not None and b'"tools/call"' in request.content:
            calls += 1
            if calls >= 2:
                request.headers["X-LOX24-AUTH-TOKEN"] = swap_to

    async def accept(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        del context, params
        return ElicitResult(action="accept", content={"confirm": True})

    headers = {"X-LOX24-AUTH-TOKEN": token} if token is not None else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30, event_hooks={"request": [swap]}) as http,
        Client(
            streamable_http_client(url, http_client=http), elicitation_callback=accept if dialog else None
        ) as client,
    ):
        yield client


def _cancel_posts(sandbox: SandboxServer) -> int:
    return sum(1 for r in sandbox.state.requests if r.path == "/sms/ops/batch_cancel")


async def test_a_request_without_the_header_gets_a_401_naming_it(tenant_server: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    async with httpx2.AsyncClient(timeout=10) as http:
        missing = await http.post(tenant_server, json=body)
        malformed = await http.post(tenant_server, json=body, headers={"X-LOX24-AUTH-TOKEN": "no-colon-here"})
    for response in (missing, malformed):
        assert response.status_code == 401
        assert "X-LOX24-AUTH-TOKEN" in response.json()["detail"]
    assert "no-colon-here" not in malformed.text


async def test_each_account_sees_only_its_own_groups_sms_and_completions(
    tenant_server: str, two_accounts: SandboxServer
) -> None:
    with anyio.fail_after(30):
        async with as_tenant(tenant_server, TOKEN_A) as a, as_tenant(tenant_server, TOKEN_B) as b:
            groups_a = [g["name"] for g in data_of(await a.call_tool("list_groups", {}))["groups"]]
            groups_b = [g["name"] for g in data_of(await b.call_tool("list_groups", {}))["groups"]]
            sms_b = data_of(await b.call_tool("search_sms", {"callback_data": "spring-sale"}))
            sms_a = data_of(await a.call_tool("search_sms", {"callback_data": "spring-sale"}))
            ref = PromptReference(type="ref/prompt", name="import_contacts")
            done_b = await b.complete(ref, {"name": "group", "value": ""})
            done_a = await a.complete(ref, {"name": "group", "value": ""})
    assert groups_b == ["B only"] and "B only" not in groups_a and groups_a
    assert sms_b["total"] == 2 and sms_a["total"] != 2
    assert done_b.completion.values == ["B only"]
    assert "B only" not in done_a.completion.values and done_a.completion.values


async def test_a_confirmation_token_minted_for_one_account_is_refused_for_another(
    tenant_server: str, two_accounts: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lox24_mcp.audit")
    with anyio.fail_after(30):
        async with as_tenant(tenant_server, TOKEN_A) as a, as_tenant(tenant_server, TOKEN_B) as b:
            preview = data_of(await a.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"}))
            token = preview["confirmation_token"]
            assert token
            refused = await b.call_tool(
                "cancel_pending_sms", {"callback_data": "spring-sale", "confirmation_token": token}
            )
    assert refused.is_error and "token" in text_of(refused).lower()
    assert _cancel_posts(two_accounts) == 0
    # The audit line of the refusal names the account that asked (B's public id), never a key.
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "lox24_mcp.audit"]
    refusals = [line for line in lines if line["outcome"] == "not_cancelled"]
    assert refusals and {line["account"] for line in refusals} == {TOKEN_B.partition(":")[0]}
    assert TOKEN_B.partition(":")[2] not in caplog.text and TOKEN_A.partition(":")[2] not in caplog.text


async def test_a_2026_dialog_started_with_one_token_cannot_be_finished_with_another(
    tenant_server: str, two_accounts: SandboxServer
) -> None:
    with anyio.fail_after(30):
        async with as_tenant(tenant_server, TOKEN_A, dialog=True, swap_to=TOKEN_B) as client:
            with pytest.raises(MCPError, match="requestState"):
                await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"})
    assert _cancel_posts(two_accounts) == 0


async def test_stdio_and_in_memory_clients_keep_the_servers_own_token(two_accounts: SandboxServer) -> None:
    settings = Settings(api_token=SecretStr(TOKEN_B), base_url=two_accounts.url, credentials="client")
    async with Client(create_server(settings)) as client:
        groups = data_of(await client.call_tool("list_groups", {}))
    assert [g["name"] for g in groups["groups"]] == ["B only"]


async def test_ten_wrong_keys_never_get_the_ip_blocked_and_three_right_ones_are_served_throughout(
    tenant_server: str, two_accounts: SandboxServer, caplog: pytest.LogCaptureFixture, spans: InMemorySpanExporter
) -> None:
    caplog.set_level(logging.DEBUG)
    right = [TOKEN_B] + [two_accounts.state.add_account(f"{800 + i}:right-key-{i:02d}-abcdef").token for i in range(2)]
    wrong = [f"{900 + i}:wrong-key-{i:02d}-abcdef" for i in range(10)]
    served: dict[str, int] = dict.fromkeys(right, 0)
    refused: list[str] = []

    async def tenant(token: str, rounds: int) -> None:
        async with as_tenant(tenant_server, token) as client:
            for _ in range(rounds):
                result = await client.call_tool("list_groups", {})
                if token in served:
                    data_of(result)  # a right key is never refused, never delayed into an error
                    served[token] += 1
                else:
                    assert result.is_error
                    refused.append(text_of(result))

    with anyio.fail_after(60):
        for token in right:  # they worked before: known keys
            await tenant(token, 1)
        async with anyio.create_task_group() as tg:
            for token in wrong:
                tg.start_soon(tenant, token, 4)
            for token in right:
                tg.start_soon(tenant, token, 8)

    statuses = [r.status for r in two_accounts.state.requests]
    assert 429 not in statuses  # the sandbox, which blocks like LOX24, never blocked the IP
    assert statuses.count(401) <= 3  # at most three failed logins reached LOX24
    assert served == dict.fromkeys(right, 9)
    assert len(refused) == 40 and all("X-LOX24-AUTH-TOKEN" in text or "token" in text for text in refused)
    # No key in any error, log line or span.
    traced = [
        repr([s.name, dict(s.attributes or {}), [dict(e.attributes or {}) for e in s.events]])
        for s in spans.get_finished_spans()
    ]
    assert any("lox24.account_id" in t for t in traced)
    everything = "\n".join(refused + traced + [r.getMessage() for r in caplog.records])
    for token in right + wrong:
        assert token.partition(":")[2] not in everything
