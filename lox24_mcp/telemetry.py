"""Export traces when the operator installed `lox24-mcp[otel]`; a no-op otherwise.

The standard variables configure it: `OTEL_EXPORTER_OTLP_ENDPOINT` (and the other `OTEL_EXPORTER_OTLP_*`),
`OTEL_SERVICE_NAME` (default `lox24-mcp`), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_EXPORTER`
(`otlp`; `console`, which writes to stderr because stdout belongs to MCP; or `none`) and
`OTEL_SDK_DISABLED=true`. Spans are exported only when an exporter is named: an OTLP endpoint
(`OTEL_EXPORTER_OTLP_ENDPOINT` / `..._TRACES_ENDPOINT`) or `OTEL_TRACES_EXPORTER`. Otherwise, and
without the SDK, opentelemetry-api's spans are no-ops that cost next to nothing.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

logger = logging.getLogger(__name__)


def configure_tracing(environ: Mapping[str, str] | None = None) -> str:
    """Install a tracer provider with an exporter if the SDK is there; returns what was done, in words."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return "tracing disabled (OTEL_SDK_DISABLED)"
    exporter_name = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter_name == "none":
        return "tracing off (OTEL_TRACES_EXPORTER=none)"
    if not exporter_name:
        # Installing the extra is not consent to send spans to localhost:4318: an endpoint must be named.
        if not (env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
            return "tracing off (set OTEL_EXPORTER_OTLP_ENDPOINT to export spans)"
        exporter_name = "otlp"
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
    except ImportError:
        return "tracing off (install lox24-mcp[otel] to export spans)"
    exporter: SpanExporter
    if exporter_name == "console":
        exporter = ConsoleSpanExporter(out=sys.stderr)
    elif exporter_name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            return "tracing off (the OTLP exporter is missing; install lox24-mcp[otel])"
        exporter = OTLPSpanExporter()
    else:
        logger.warning(
            "OTEL_TRACES_EXPORTER=%s is not supported here (otlp, console, none); tracing off", exporter_name
        )
        return "tracing off (unsupported exporter)"
    resource = Resource.create({} if env.get("OTEL_SERVICE_NAME") else {"service.name": "lox24-mcp"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return f"tracing to {exporter_name}"
