"""What every tool call shares for the life of the process, and the one way a tool gets its LOX24 client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context

from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.ops.confirm import Policy, TokenSigner


@dataclass
class AppState:
    """Created once per process by the server's lifespan."""

    client: Lox24Client
    signer: TokenSigner
    confirm: Policy
    sandbox: bool


def app_state(ctx: Context[AppState, Any]) -> AppState:
    return ctx.request_context.lifespan_context


def lox24(ctx: Context[AppState, Any]) -> Lox24Client:
    """The LOX24 client for the current request.

    The one place where per-request credentials may be supplied; today every request uses the
    server's own token (`LOX24_API_TOKEN`).
    """
    return app_state(ctx).client
