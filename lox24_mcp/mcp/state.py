"""What every tool call shares for the life of the process, and the one way a tool gets its LOX24 client."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.lox24.credentials import LoginBudget
from lox24_mcp.mcp.tenants import caller_token
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
    #: "client": over HTTP each request uses the caller's X-LOX24-AUTH-TOKEN (see `mcp.tenants`).
    credentials: Literal["server", "client"] = "server"
    #: With credentials="client": which callers' keys may be tried (LOX24's failed-login block).
    budget: LoginBudget | None = None

    def client_for(self, headers: Mapping[str, str] | None) -> Lox24Client:
        """The LOX24 client for a request with these HTTP headers (None on stdio: the server's token)."""
        if self.credentials == "server" or headers is None:
            return self.client
        token = caller_token(headers)
        if token is None:  # the HTTP guard refuses these first; this is the backstop
            raise ToolError("Send your LOX24 API token in the X-LOX24-AUTH-TOKEN header as <clientId>:<apiKey>.")
        return self.client.with_credentials(token, budget=self.budget)


def app_state(ctx: Context[AppState, Any]) -> AppState:
    return ctx.request_context.lifespan_context


def lox24(ctx: Context[AppState, Any]) -> Lox24Client:
    """The LOX24 client for the current request.

    The one place where per-request credentials are supplied: with `LOX24_MCP_CREDENTIALS=client`,
    an HTTP request's own `X-LOX24-AUTH-TOKEN`; otherwise (and on stdio) the server's token.
    """
    return app_state(ctx).client_for(ctx.headers)
