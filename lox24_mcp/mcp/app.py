"""The MCP server: the tools of `tools.TOOLS`, prompts from package files, and group-name completion."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.types import (
    CompleteRequestParams,
    CompleteResult,
    Completion,
    EmptyResult,
    PromptReference,
    SetLevelRequestParams,
)

from lox24_mcp import __version__
from lox24_mcp.config import Settings
from lox24_mcp.lox24.client import Lox24Client, RetryPolicy
from lox24_mcp.lox24.credentials import LoginBudget
from lox24_mcp.lox24.errors import Lox24Error
from lox24_mcp.lox24.times import configure_zone
from lox24_mcp.mcp.card import build_apps
from lox24_mcp.mcp.prompts import load_prompts
from lox24_mcp.mcp.replicas import request_state_security
from lox24_mcp.mcp.sdk_compat import add_request_handler
from lox24_mcp.mcp.state import AppState
from lox24_mcp.mcp.tenants import request_headers
from lox24_mcp.mcp.tools import build_tools
from lox24_mcp.mcp.tracing import ToolSpanOutcome
from lox24_mcp.ops.audit import AuditLog
from lox24_mcp.ops.confirm import TokenSigner
from lox24_mcp.ops.file_access import parse_dirs

__all__ = ["AppState", "create_server"]

logger = logging.getLogger(__name__)

SERVER_NAME = "lox24"
INSTRUCTIONS = """\
LOX24 SMS gateway. Look before you change anything: search_sms shows what is scheduled, list_groups
shows contact groups by name. cancel_pending_sms stops scheduled SMS: it always needs the user's own
yes — a dialog the user answers, a card whose button the user clicks, or a preview you must show the
user before calling again with the confirmation_token. Never confirm on the user's behalf.
add_phones_to_group only adds contacts."""


def create_server(
    settings: Settings,
    *,
    http_client: httpx2.AsyncClient | None = None,
    retry: RetryPolicy | None = None,
    sandbox: bool = False,
    clock: Callable[[], float] = time.time,
) -> MCPServer[AppState]:
    """Build the MCP server. The LOX24 client is created in the lifespan, once per process.

    Args:
        settings: from `Settings.from_env()`; `api_token` must be set.
        http_client: an `httpx2.AsyncClient` to share (tests inject one); created if omitted.
        retry: the LOX24 client's retry policy (default: `RetryPolicy()`).
        sandbox: say in results that they come from the built-in sandbox.
        clock: this host's wall clock in unix seconds (tests skew it).
    """
    if settings.api_token is None and settings.credentials == "server":
        raise ValueError("settings.api_token is required (or credentials='client', for HTTP)")
    token = settings.api_token
    key = settings.secret.get_secret_value().encode() if settings.secret else secrets.token_bytes(32)
    signer = TokenSigner(key, ttl=settings.token_ttl, clock=clock)
    # Filters are validated inside the SDK's argument parsing, where no context reaches them: the zone is
    # the process's (lox24.times), set here from LOX24_MCP_TIMEZONE.
    configure_zone(settings.zone())
    # The audit trail is logged at INFO whatever LOX24_MCP_LOG_LEVEL says; the file is optional.
    logging.getLogger("lox24_mcp.audit").setLevel(logging.INFO)
    audit = AuditLog(settings.audit_log)
    audit.ensure_writable()  # a bad LOX24_MCP_AUDIT_LOG stops the start, not a cancel

    @asynccontextmanager
    async def lifespan(_server: MCPServer[AppState]) -> AsyncIterator[AppState]:
        client = Lox24Client(
            token,
            base_url=settings.base_url,
            http_client=http_client,
            retry=retry or RetryPolicy(),
            timeout=settings.timeout,
        )
        try:
            yield AppState(
                client=client,
                signer=signer,
                confirm=settings.confirm,
                sandbox=sandbox,
                clock=clock,
                audit=audit,
                import_dirs=parse_dirs(settings.import_dirs),
                credentials=settings.credentials,
                budget=LoginBudget(new_keys_per_minute=settings.new_keys_per_minute)
                if settings.credentials == "client"
                else None,
            )
        finally:
            await client.aclose()

    server: MCPServer[AppState] = MCPServer(
        SERVER_NAME,
        title="LOX24 SMS" + (" (sandbox)" if sandbox else ""),
        description="Cancel scheduled SMS and import contacts on the LOX24 SMS gateway.",
        instructions=INSTRUCTIONS + ("\nThis is the built-in sandbox: no real SMS are affected." if sandbox else ""),
        website_url="https://www.lox24.eu",
        version=__version__,
        tools=build_tools(),
        extensions=[build_apps()],
        lifespan=lifespan,
        log_level=settings.log_level,
        # Replicas sharing LOX24_MCP_SECRET complete each other's 2026-07-28 dialogs.
        request_state_security=request_state_security(settings),
        middleware=[ToolSpanOutcome()],
    )
    for prompt in load_prompts():
        server.add_prompt(prompt)
    add_request_handler(server, "logging/setLevel", SetLevelRequestParams, set_level)
    add_request_handler(server, "completion/complete", CompleteRequestParams, complete)
    return server


async def set_level(ctx: ServerRequestContext[Any], params: SetLevelRequestParams) -> EmptyResult:
    """`logging/setLevel` (2025-11-25 clients still send it) is acknowledged and changes nothing.

    The server sends no log notifications (protocol logging is deprecated), and one HTTP client
    must not be able to raise the process-wide stderr level of every session: that stays the
    operator's, through LOX24_MCP_LOG_LEVEL.
    """
    del ctx
    logger.debug("client asked for log level %s; stderr logging stays at the operator's level", params.level)
    return EmptyResult()


async def complete(ctx: ServerRequestContext[Any], params: CompleteRequestParams) -> CompleteResult:
    """Complete group names for a prompt's `group` argument."""
    ref, argument = params.ref, params.argument
    if not isinstance(ref, PromptReference) or argument.name != "group":
        return CompleteResult(completion=Completion(values=[]))
    state: AppState = ctx.lifespan_context
    try:
        groups = await state.client_for(request_headers(ctx)).list_groups()
    except Lox24Error:
        logger.warning("could not list groups for completion", exc_info=True)
        return CompleteResult(completion=Completion(values=[]))
    prefix = argument.value.casefold()
    names = [g.name for g in groups if g.name.casefold().startswith(prefix)]
    return CompleteResult(completion=Completion(values=names[:100], total=len(names), has_more=len(names) > 100))
