"""The confirmation card: an MCP App (`io.modelcontextprotocol/ui`) with a real "Cancel N SMS" button.

- `ui://lox24/confirm-cancel` is one self-contained HTML file (`ui/confirm_cancel.html`, built from
  `ui/` in the repository by `scripts/build_ui.sh` with the official ext-apps `App` client).
- `cancel_pending_sms` names it in its `_meta.ui.resourceUri`, so hosts that render apps show it with
  every result of that tool. When the card is how the user confirms, the result's `_meta` (which
  reaches the card, not the model) carries a secret; `content` and `structuredContent` never do.
- The click calls `confirm_cancel_in_card`, an app-only tool (`visibility: ["app"]`). It is listed
  for every client, because lists must not vary per connection and because several hosts showed
  app-only tools to the model anyway: the secret, not the listing, is what protects it.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

import pydantic_core
from mcp.server.apps import Apps, ResourceCsp, Visibility, client_supports_apps
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resources import FunctionResource
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from lox24_mcp.lox24.errors import Lox24Error, Lox24OutcomeUnknownError
from lox24_mcp.lox24.trace import collect_request_ids
from lox24_mcp.mcp.results import CardDecisionResult
from lox24_mcp.mcp.state import AppState, app_state, lox24
from lox24_mcp.ops import cancel as cancel_ops
from lox24_mcp.ops.audit import AuditRecord, Confirmation, Outcome, client_label, selection_summary
from lox24_mcp.ops.card import MAX_SECRET_LENGTH, InvalidCardSecretError, open_card_secret

CARD_URI = "ui://lox24/confirm-cancel"
CONFIRM_TOOL = "confirm_cancel_in_card"
#: Where a result's `_meta` carries the card's secret (the card reads the same key).
META_KEY = "lox24/confirm"

CARD_PROMPT = "The user confirms in the card shown with this result; nothing is cancelled until they click."


@cache
def card_html() -> str:
    """The built card, shipped inside the package."""
    return resources.files("lox24_mcp.mcp").joinpath("ui", "confirm_cancel.html").read_text(encoding="utf-8")


def client_renders_apps(ctx: Context[AppState, Any]) -> bool:
    """Whether this request's client declared the UI extension with the MCP App MIME type."""
    return client_supports_apps(ctx)


def tool_ui_meta() -> dict[str, Any]:
    """The `_meta` of `cancel_pending_sms`: its results render in the card (on hosts that render apps)."""
    return {"ui": {"resourceUri": CARD_URI}}


def client_of(ctx: Context[AppState, Any]) -> str | None:
    """The client's `name/version` for the audit trail (both protocol eras carry it when the client sends it)."""
    params = ctx.session.client_params
    info = params.client_info if params is not None else None
    return client_label(info.name, info.version) if info is not None else None


async def audit_cancel(
    ctx: Context[AppState, Any],
    selection: str,
    matched: int | None,
    confirmation: Confirmation,
    outcome: Outcome,
    *,
    cancelled: int | None = None,
    request_ids: list[str] | None = None,
    reason: str | None = None,
) -> None:
    """One line in the audit trail for a decision about cancelling SMS (by the tool or the card's button)."""
    await app_state(ctx).audit.record(
        AuditRecord(
            operation="cancel_sms",
            selection=selection,
            matched=matched,
            confirmation=confirmation,
            outcome=outcome,
            cancelled=cancelled,
            client=client_of(ctx),
            account=lox24(ctx).account_id,
            request_ids=list(request_ids or ()),
            reason=reason,
        )
    )


def plain_result(result: BaseModel) -> CallToolResult:
    """A structured result with its JSON as text, exactly as `MCPServer` builds one from a returned model."""
    return CallToolResult(
        content=[TextContent(type="text", text=pydantic_core.to_json(result, fallback=str, indent=2).decode())],
        structured_content=result.model_dump(mode="json", by_alias=True),
    )


def unknown_outcome(exc: Lox24Error) -> str:
    """The sentence for a cancel whose answer was lost: it may have happened, and it was not resent."""
    return (
        f"{exc} The outcome of this cancel is unknown: LOX24 may have cancelled them. It was not resent; "
        "search_sms with the same filters (pending: not sent, status new) shows the current state."
    )


def card_meta(secret: str) -> dict[str, Any]:
    """The `_meta` that hands the card its secret (and names the tool to call); never put it elsewhere."""
    return {META_KEY: {"tool": CONFIRM_TOOL, "secret": secret}}


def app_only_meta() -> dict[str, Any]:
    """The `_meta` of `confirm_cancel_in_card`: bound to the card, callable by the app, hidden from the model."""
    visibility: list[Visibility] = ["app"]
    return {"ui": {"resourceUri": CARD_URI, "visibility": visibility}}


def build_apps() -> Apps:
    """The MCP Apps extension: it advertises `io.modelcontextprotocol/ui` and serves the card.

    The app-only tool is in the tool registry (`tools.TOOLS`) with `app_only_meta()`, so it gets the same
    strict arguments and published schema as every other tool.
    """
    apps = Apps()
    # What `add_html_resource` registers, but the 400 KB card is read on the first `resources/read`, not at
    # start-up (`add_resource` gives it the MCP App MIME type).
    apps.add_resource(
        FunctionResource(
            uri=CARD_URI,
            fn=card_html,
            name="confirm-cancel",
            title="Confirm cancelling scheduled SMS",
            description="Shows what cancel_pending_sms would stop, with the buttons 'Cancel N SMS' and 'Keep them'.",
            # Nothing external: no network, no fonts, no images from elsewhere (the spec's restrictive default).
            meta={"ui": {"csp": ResourceCsp().model_dump(by_alias=True, exclude_none=True), "prefersBorder": False}},
        )
    )
    return apps


# ----------------------------------------------------------------------------- the tool the click calls


async def confirm_cancel_in_card(
    ctx: Context[AppState, Any],
    confirmation: Annotated[str, Field(max_length=MAX_SECRET_LENGTH)],
    decision: Literal["cancel", "keep"],
) -> CardDecisionResult:
    """The confirmation card's button; needs a secret only the card receives. Models: never call it."""
    state = app_state(ctx)
    client = lox24(ctx)
    try:
        chosen = open_card_secret(state.signer, confirmation, account_id=client.account_id, base_url=client.base_url)
    except InvalidCardSecretError as exc:
        await audit_cancel(
            ctx,
            "unknown (the card's secret was not valid)",
            None,
            "expired" if exc.expired else "refused",
            "not_cancelled",
            reason=str(exc),
        )
        raise ToolError(str(exc)) from None
    selection = selection_summary(chosen.filters, cancel_all_pending=chosen.cancel_all_pending)
    matched = chosen.claims.matched

    def result(status: Literal["cancelled", "declined"], message: str, cancelled: int = 0) -> CardDecisionResult:
        return CardDecisionResult(
            status=status, matched=matched, cancelled=cancelled, sandbox=state.sandbox, message=message
        )

    if decision == "keep":
        await audit_cancel(
            ctx, selection, matched, "declined", "not_cancelled", reason="the user clicked 'Keep them' in the card"
        )
        return result(
            "declined", f"The user clicked 'Keep them' in the card; nothing was cancelled ({matched} SMS kept)."
        )
    with collect_request_ids() as request_ids:
        try:
            cancelled = await cancel_ops.cancel(client, chosen.filters, preview_time=chosen.claims.preview_time)
        except Lox24Error as exc:
            await audit_cancel(
                ctx,
                selection,
                matched,
                "app_click",
                "unknown" if isinstance(exc, Lox24OutcomeUnknownError) else "failed",
                request_ids=list(request_ids),
                reason=str(exc),
            )
            unknown = isinstance(exc, Lox24OutcomeUnknownError)
            raise ToolError(unknown_outcome(exc) if unknown else str(exc)) from exc
    await audit_cancel(
        ctx, selection, matched, "app_click", "cancelled", cancelled=cancelled, request_ids=list(request_ids)
    )
    return result(
        "cancelled",
        f"The user confirmed in the card: LOX24 cancelled {cancelled} SMS ({matched} matched when the card was shown).",
        cancelled,
    )
