"""Shared fixtures: a real sandbox API on loopback, a LOX24 client for it, and an MCP server over it.

Plain helpers (`FAST_RETRY`, `text_of`, `data_of`, `make_settings`, `elicit`) live in `tests/helpers.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest
from mcp.server import MCPServer
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.lox24.client import Lox24Client, RetryPolicy
from lox24_mcp.mcp.app import create_server
from lox24_mcp.mcp.state import AppState
from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer, SandboxState
from tests.helpers import FAST_RETRY, make_settings


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def fast_retry() -> RetryPolicy:
    """The suite's one retry policy (`tests.helpers.FAST_RETRY`)."""
    return FAST_RETRY


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A real sandbox API on a free loopback port, with fresh seeded demo data and no faults."""
    with SandboxState() as state, SandboxServer(state) as server:
        yield server


@pytest.fixture
def empty_sandbox() -> Iterator[SandboxServer]:
    """A real sandbox API with no data at all."""
    with SandboxState(seed_demo_data=False) as state, SandboxServer(state) as server:
        yield server


@pytest.fixture(scope="session")
def shared_sandbox() -> Iterator[SandboxServer]:
    """One seeded sandbox for the whole session (per xdist worker), for tests that only read or refuse.

    A test that uses it must not change its data or its faults; it may read `state.requests` only after
    `state.reset_requests()`, since other tests' requests are recorded there too.
    """
    with SandboxState() as state, SandboxServer(state) as server:
        yield server


@pytest.fixture
def settings(sandbox: SandboxServer) -> Settings:
    """Settings for a server on the `sandbox` fixture."""
    return make_settings(sandbox.url)


@pytest.fixture
def server(settings: Settings) -> MCPServer[AppState]:
    """An MCP server on the `sandbox` fixture, with the fast retry policy."""
    return create_server(settings, retry=FAST_RETRY, sandbox=True)


@pytest.fixture
async def client(sandbox: SandboxServer) -> AsyncIterator[Lox24Client]:
    """A LOX24 client for the `sandbox` fixture, with the fast retry policy."""
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


@pytest.fixture(autouse=True)
def _machine_zone_between_tests() -> Iterator[None]:
    """A server built in one test sets the process's zone; the next test starts from the machine's again."""
    yield
    from lox24_mcp.lox24 import times

    times.configure_zone(None)
