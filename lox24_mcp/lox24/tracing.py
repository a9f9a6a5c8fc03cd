"""OpenTelemetry spans for LOX24 requests (opentelemetry-api only; a no-op unless an SDK is installed).

One CLIENT span per logical request, retries included, child of whatever span is current (the
MCP tool call's). It records what an operator needs and nothing a user typed: method, path (no
query values, only the parameter names), status, LOX24's request id, retries and the outcome.
Never phone numbers, texts, filter values or keys; exception messages are not recorded either,
because LOX24's error details can quote the input.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import httpx2
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from lox24_mcp.lox24.errors import Lox24APIStatusError, Lox24Error, Lox24OutcomeUnknownError

REQUEST_ID_HEADER = "X-LOX24-REQUEST-ID"

_tracer = trace.get_tracer("lox24_mcp.lox24")

F = TypeVar("F", bound=Callable[..., Awaitable[httpx2.Response]])


def _outcome(exc: BaseException) -> str:
    if isinstance(exc, Lox24OutcomeUnknownError):
        return "unknown"
    if isinstance(exc, Lox24APIStatusError):
        return "rejected"
    if isinstance(exc, Lox24Error):
        return "failed"
    return "error"


def traced_request(fn: F) -> F:
    """Wrap `Lox24Client._request(self, method, path, *, params=..., ...)` in a span."""

    @functools.wraps(fn)
    async def wrapper(self: object, method: str, path: str, *args: Any, **kwargs: Any) -> httpx2.Response:
        params: Sequence[tuple[str, str]] | None = kwargs.get("params")
        base = urlsplit(str(getattr(self, "base_url", "")))
        attributes: dict[str, Any] = {"http.request.method": method, "url.path": path}
        if base.hostname:
            attributes["server.address"] = base.hostname
            attributes["server.port"] = base.port or (443 if base.scheme == "https" else 80)
        if params:
            attributes["lox24.query.names"] = sorted({name for name, _ in params})
        account = getattr(self, "_auth", None)
        if account is not None:
            attributes["lox24.account_id"] = account.account_id
        with _tracer.start_as_current_span(
            f"LOX24 {method} {path}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                response: httpx2.Response = await fn(self, method, path, *args, **kwargs)
            except BaseException as exc:
                span.set_attribute("lox24.outcome", _outcome(exc))
                span.set_attribute("error.type", type(exc).__name__)
                if isinstance(exc, Lox24APIStatusError):
                    span.set_attribute("http.response.status_code", exc.status_code)
                if isinstance(exc, Lox24Error) and exc.request_id:
                    span.set_attribute("lox24.request_id", exc.request_id)
                span.set_status(StatusCode.ERROR, type(exc).__name__)
                raise
            span.set_attribute("http.response.status_code", response.status_code)
            request_id = response.headers.get(REQUEST_ID_HEADER)
            if request_id:
                span.set_attribute("lox24.request_id", request_id)
            span.set_attribute("lox24.outcome", "ok")
            return response

    return cast(F, wrapper)


def note_retry(attempt: int, wait: float, reason: BaseException) -> None:
    """Record on the current request's span that attempt `attempt` failed and another follows."""
    span = trace.get_current_span()
    span.set_attribute("lox24.retries", attempt)
    status = reason.status_code if isinstance(reason, Lox24APIStatusError) else None
    event: dict[str, Any] = {"attempt": attempt, "wait_s": round(wait, 3), "error.type": type(reason).__name__}
    if status is not None:
        event["http.response.status_code"] = status
    span.add_event("lox24.retry", event)
