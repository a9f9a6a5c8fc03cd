"""Shared fixtures: a real sandbox API on loopback, a LOX24 client for it, and an MCP server over it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import pytest
from mcp.types import CallToolResult, TextContent
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from lox24_mcp.lox24.client import Lox24Client, RetryPolicy
from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer, SandboxState

#: Retries without real waiting, so fault tests stay fast.
FAST_RETRY = RetryPolicy(attempts=4, total_time=5.0, backoff=0.001, max_backoff=0.005, auth_cooldown=60.0)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A real sandbox API on a free loopback port, with fresh seeded demo data and no faults."""
    with SandboxServer(SandboxState()) as server:
        yield server


@pytest.fixture
def empty_sandbox() -> Iterator[SandboxServer]:
    """A real sandbox API with no data at all."""
    with SandboxServer(SandboxState(seed_demo_data=False)) as server:
        yield server


@pytest.fixture
async def client(sandbox: SandboxServer) -> AsyncIterator[Lox24Client]:
    async with httpx2.AsyncClient(timeout=5.0) as http:
        yield Lox24Client(SecretStr(DEMO_TOKEN), base_url=sandbox.url, http_client=http, retry=FAST_RETRY)


_SPANS = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Finished OpenTelemetry spans of this test (the process-wide provider is set once: OTel allows no second)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_SPANS))
        trace.set_tracer_provider(provider)
    _SPANS.clear()
    yield _SPANS
    _SPANS.clear()


def text_of(result: CallToolResult) -> str:
    """The first text block of a tool result (the error message, for an error)."""
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def data_of(result: CallToolResult) -> dict[str, Any]:
    """The structured result of a successful call; fails the test with the error text otherwise."""
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert isinstance(data, dict)
    return data


@pytest.fixture(autouse=True)
def _machine_zone_between_tests() -> Iterator[None]:
    """A server built in one test sets the process's zone; the next test starts from the machine's again."""
    yield
    from lox24_mcp.lox24 import times

    times.configure_zone(None)
