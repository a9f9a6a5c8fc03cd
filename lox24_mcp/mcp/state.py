"""What every tool call shares for the life of the process, and the one way a tool gets its LOX24 client."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context

from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.ops.audit import AuditLog
from lox24_mcp.ops.confirm import Policy, TokenSigner


@dataclass
class AppState:
    """Created once per process by the server's lifespan."""

    client: Lox24Client
    signer: TokenSigner
    confirm: Policy
    sandbox: bool
    clock: Callable[[], float] = field(default=time.time)
    """This host's wall clock, unix seconds (injectable for tests)."""
    #: Folders add_phones_from_file may read (LOX24_MCP_IMPORT_DIRS); empty: reading files is off.
    import_dirs: tuple[Path, ...] = ()
    audit: AuditLog = field(default_factory=AuditLog)
    """The audit trail of destructive decisions."""


def app_state(ctx: Context[AppState, Any]) -> AppState:
    return ctx.request_context.lifespan_context


def lox24(ctx: Context[AppState, Any]) -> Lox24Client:
    """The LOX24 client for the current request.

    The one place where per-request credentials may be supplied; today every request uses the
    server's own token (`LOX24_API_TOKEN`).
    """
    return app_state(ctx).client
