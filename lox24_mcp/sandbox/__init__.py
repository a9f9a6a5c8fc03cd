"""A LOX24-compatible sandbox API: a real HTTP server with SQLite state, demo data and fault injection.

Used by the tests, the benchmarks and `lox24-mcp --sandbox`. It implements the parts of api.lox24.eu the
MCP server uses (`/sms` with LOX24's filters, `/sms/ops/batch_cancel`, `/groups`, phones and phone
batches) and is stricter than LOX24 about query parameters, so that client bugs show up as 400s.

    with SandboxServer() as server:
        ...  # talk to server.url with X-LOX24-AUTH-TOKEN: DEMO_TOKEN
"""

from lox24_mcp.sandbox.app import create_app
from lox24_mcp.sandbox.runner import SandboxServer, serve_forever
from lox24_mcp.sandbox.state import DEMO_TOKEN, Faults, RecordedRequest, SandboxState

__all__ = [
    "DEMO_TOKEN",
    "Faults",
    "RecordedRequest",
    "SandboxServer",
    "SandboxState",
    "create_app",
    "serve_forever",
]
