"""OpenTelemetry: a span per tool call (continuing the client's `traceparent`) and per LOX24 request.

The spans go to the SDK's in-memory exporter. What they must never hold is checked against every
name, attribute and event: phone numbers, SMS texts, filter values and the API key.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.lox24.errors import Lox24Error, Lox24OutcomeUnknownError
from lox24_mcp.lox24.models import SmsFilters
from lox24_mcp.mcp.app import create_server
from lox24_mcp.sandbox import DEMO_TOKEN, Faults, SandboxServer
from tests.helpers import FAST_RETRY

pytestmark = pytest.mark.anyio

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
PHONE = "+4915199887766"
TEXT = "Secret spring offer"
API_KEY = DEMO_TOKEN.partition(":")[2]


def _text_of_span(span: ReadableSpan) -> str:
    parts: list[Any] = [span.name, dict(span.attributes or {}), span.status.description]
    parts += [(e.name, dict(e.attributes or {})) for e in span.events]
    return repr(parts)


def _assert_clean(finished: tuple[ReadableSpan, ...]) -> None:
    for span in finished:
        text = _text_of_span(span)
        for secret in (PHONE, PHONE[1:], "99887766", TEXT, "spring offer", API_KEY, DEMO_TOKEN):
            assert secret not in text, f"{secret!r} leaked into span {span.name}: {text}"


def _settings(sandbox: SandboxServer) -> Settings:
    return Settings(api_token=SecretStr(DEMO_TOKEN), base_url=sandbox.url)


async def test_a_tool_call_continues_the_clients_trace_and_parents_its_lox24_requests(
    sandbox: SandboxServer, spans: InMemorySpanExporter
) -> None:
    sandbox.state.add_sms(phone=PHONE, text=TEXT, delivery_at=int(time.time()) + 3600, callback_data="otel")
    meta: Any = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
    async with Client(create_server(_settings(sandbox))) as client:
        result = await client.call_tool("search_sms", {"phone": PHONE, "text": TEXT}, meta=meta)
    assert not result.is_error
    finished = spans.get_finished_spans()
    tool = next(s for s in finished if s.kind is SpanKind.SERVER and s.name == "tools/call search_sms")
    assert f"{tool.context.trace_id:032x}" == TRACE_ID
    assert tool.parent is not None and f"{tool.parent.span_id:016x}" == PARENT_ID
    assert (tool.attributes or {})["lox24.tool.outcome"] == "ok"
    lox24 = [s for s in finished if s.kind is SpanKind.CLIENT and s.name.startswith("LOX24 ")]
    assert len(lox24) == 1
    (request,) = lox24
    assert request.parent is not None and request.parent.span_id == tool.context.span_id
    attributes = dict(request.attributes or {})
    assert attributes["http.request.method"] == "GET" and attributes["url.path"] == "/sms"
    assert attributes["http.response.status_code"] == 200 and attributes["lox24.outcome"] == "ok"
    assert len(str(attributes["lox24.request_id"])) == 32
    assert {"phone", "text", "page"} <= set(attributes["lox24.query.names"])  # type: ignore[arg-type]
    assert attributes["lox24.account_id"] == DEMO_TOKEN.partition(":")[0]
    _assert_clean(finished)


async def test_a_preview_and_a_tool_error_say_so_on_the_tool_span(
    sandbox: SandboxServer, spans: InMemorySpanExporter
) -> None:
    async with Client(create_server(_settings(sandbox))) as client:
        await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"})
        failed = await client.call_tool("add_phones_to_group", {"group_id": 999_999, "phones": [{"phone": PHONE}]})
    assert failed.is_error
    outcomes = {
        s.name: (s.attributes or {}).get("lox24.tool.outcome")
        for s in spans.get_finished_spans()
        if s.kind is SpanKind.SERVER
    }
    assert outcomes["tools/call cancel_pending_sms"] == "confirmation_required"
    assert outcomes["tools/call add_phones_to_group"] == "tool_error"
    rejected = [s for s in spans.get_finished_spans() if (s.attributes or {}).get("http.response.status_code") == 404]
    assert rejected and (rejected[0].attributes or {})["lox24.outcome"] == "rejected"
    _assert_clean(spans.get_finished_spans())


async def test_the_rounds_of_a_2026_dialog_are_two_tool_spans(
    sandbox: SandboxServer, spans: InMemorySpanExporter
) -> None:
    async def accept(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        del context, params
        return ElicitResult(action="accept", content={"confirm": True})

    async with Client(create_server(_settings(sandbox)), elicitation_callback=accept) as client:
        done = await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"})
    assert not done.is_error
    outcomes = [
        (s.attributes or {}).get("lox24.tool.outcome")
        for s in spans.get_finished_spans()
        if s.name == "tools/call cancel_pending_sms"
    ]
    assert outcomes == ["input_required", "cancelled"]


async def test_retries_and_an_unknown_outcome_are_on_the_request_span(
    sandbox: SandboxServer, spans: InMemorySpanExporter
) -> None:
    async with httpx2.AsyncClient(timeout=5) as http:
        client = Lox24Client(SecretStr(DEMO_TOKEN), base_url=sandbox.url, http_client=http, retry=FAST_RETRY)
        sandbox.state.faults = Faults(error_rate=1.0, error_status=503, only_paths=("/groups",))
        with pytest.raises(Lox24Error):
            await client.list_groups()
        sandbox.state.faults = Faults(drop_rate=1.0, only_paths=("/sms/ops/batch_cancel",))
        with pytest.raises(Lox24OutcomeUnknownError):
            await client.cancel_sms(SmsFilters(phone=PHONE))
    by_path = {(s.attributes or {})["url.path"]: s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT}
    groups = dict(by_path["/groups"].attributes or {})
    assert groups["lox24.retries"] == FAST_RETRY.attempts - 1
    assert groups["http.response.status_code"] == 503 and groups["lox24.outcome"] == "rejected"
    assert [e.name for e in by_path["/groups"].events] == ["lox24.retry"] * (FAST_RETRY.attempts - 1)
    cancel = dict(by_path["/sms/ops/batch_cancel"].attributes or {})
    assert cancel["http.request.method"] == "POST" and cancel["lox24.outcome"] == "unknown"
    assert "lox24.retries" not in cancel  # a POST whose answer was lost is never resent
    _assert_clean(spans.get_finished_spans())


def test_without_the_sdk_configuration_is_a_no_op_and_the_console_exporter_keeps_off_stdout() -> None:
    code = (
        "import sys\n"
        "sys.modules['opentelemetry.sdk'] = None\n"  # as if lox24-mcp[otel] were not installed
        "from lox24_mcp.telemetry import configure_tracing\n"
        "sys.stderr.write(configure_tracing({'OTEL_EXPORTER_OTLP_ENDPOINT': 'http://127.0.0.1:9'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)  # noqa: S603
    assert done.stdout == "" and "install lox24-mcp[otel]" in done.stderr
    code = "import sys\nfrom lox24_mcp.telemetry import configure_tracing\nsys.stderr.write(configure_tracing({}))\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)  # noqa: S603
    assert "set OTEL_EXPORTER_OTLP_ENDPOINT" in done.stderr  # installed, but no collector named: nothing sent
    code = (
        "import sys\n"
        "from opentelemetry import trace\n"
        "from lox24_mcp.telemetry import configure_tracing\n"
        "sys.stderr.write(configure_tracing({'OTEL_TRACES_EXPORTER': 'console'}) + '\\n')\n"
        "with trace.get_tracer('t').start_as_current_span('probe'): pass\n"
        "trace.get_tracer_provider().shutdown()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)  # noqa: S603
    assert done.stdout == ""  # stdout belongs to the MCP protocol
    assert "tracing to console" in done.stderr and '"name": "probe"' in done.stderr


def test_with_the_extra_installed_spans_go_to_the_collector_named_by_otel_variables() -> None:
    received: list[tuple[str, str, int]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            received.append((self.path, self.headers.get("Content-Type", ""), len(body)))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    collector = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    try:
        code = (
            "import sys\n"
            "from opentelemetry import trace\n"
            "from lox24_mcp.telemetry import configure_tracing\n"
            "sys.stderr.write(configure_tracing() + '\\n')\n"
            "with trace.get_tracer('t').start_as_current_span('probe'): pass\n"
            "trace.get_tracer_provider().shutdown()\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{collector.server_address[1]}", OTEL_SERVICE_NAME="t")
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, env=env
        )
    finally:
        collector.shutdown()
        collector.server_close()
        thread.join(10)
    assert "tracing to otlp" in done.stderr and done.stdout == ""
    assert received and received[0][0] == "/v1/traces" and received[0][1] == "application/x-protobuf"
