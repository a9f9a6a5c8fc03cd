"""The tool call's span: what came of it, in words an operator can filter on.

The SDK already opens one SERVER span per `tools/call`, continuing the trace context a client sends
in `_meta` (`traceparent`), and the LOX24 requests of the call are its children
(`lox24_mcp.lox24.tracing`). This middleware runs inside that span and adds the outcome:
`ok`, a result status such as `confirmation_required` or `cancelled`, `input_required` (a
2026-07-28 dialog round) or `tool_error`. Never arguments or results: they hold phone numbers
and texts.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.types import CallToolResult
from opentelemetry import trace


def _status_word(structured: object) -> str:
    status = structured.get("status") if isinstance(structured, dict) else None
    return status if isinstance(status, str) and status.isidentifier() and len(status) <= 40 else "ok"


def tool_outcome(result: HandlerResult) -> str:
    """A short, value-free word for what a `tools/call` produced."""
    if isinstance(result, CallToolResult):
        return "tool_error" if result.is_error else _status_word(result.structured_content)
    if isinstance(result, dict):
        if result.get("isError") is True:
            return "tool_error"
        if "inputRequests" in result or result.get("resultType") == "input_required":
            return "input_required"
        return _status_word(result.get("structuredContent"))
    return "input_required" if "InputRequired" in type(result).__name__ else "ok"


class ToolSpanOutcome:
    """Context-tier middleware: set `lox24.tool.outcome` on the SDK's tools/call span."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.method == "tools/call":
            span = trace.get_current_span()
            if span.is_recording():
                span.set_attribute("lox24.tool.outcome", tool_outcome(result))
        return result
