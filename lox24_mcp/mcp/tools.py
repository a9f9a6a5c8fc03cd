"""The tools: thin functions over the use cases in `lox24_mcp.ops`, and one registry of them.

Tools never build HTTP requests: they call the LOX24 client and the use cases, and turn every
`Lox24Error` into a `ToolError` whose sentence the model can act on. `TOOLS` is the one list of
tools, titles and annotations: the server, the README table, manifest.json and the tests read it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from lox24_mcp.lox24.errors import Lox24Error, Lox24OutcomeUnknownError
from lox24_mcp.lox24.models import MAX_ID, Iso2, PhoneEntry, Sms, SmsFilters
from lox24_mcp.lox24.phones import mask
from lox24_mcp.lox24.trace import collect_request_ids
from lox24_mcp.mcp.card import (
    CARD_PROMPT,
    app_only_meta,
    card_meta,
    client_of,
    client_renders_apps,
    confirm_cancel_in_card,
    plain_result,
    tool_ui_meta,
    unknown_outcome,
)
from lox24_mcp.mcp.results import (
    CancelResult,
    CancelStatus,
    GroupInfo,
    GroupsResult,
    ImportResult,
    SearchResult,
    SmsSample,
)
from lox24_mcp.mcp.sdk_compat import build_tool, flat_arguments
from lox24_mcp.mcp.state import AppState, app_state, lox24
from lox24_mcp.ops import cancel as cancel_ops
from lox24_mcp.ops.audit import AuditRecord, Confirmation, Outcome, selection_summary
from lox24_mcp.ops.card import mint_card_secret
from lox24_mcp.ops.confirm import (
    AskInDialog,
    ClientCaps,
    ExpiredTokenError,
    InvalidTokenError,
    IssueToken,
    NeedCount,
    NothingToDo,
    Plan,
    Proceed,
    Refuse,
    ShowCard,
    TokenCheck,
    plan,
)
from lox24_mcp.ops.importer import import_phones

MAX_IMPORT = 50_000


@contextmanager
def lox24_errors() -> Iterator[None]:
    """Turn LOX24 failures into `ToolError`s: only their text reaches the model in mcp 2.x."""
    try:
        yield
    except (Lox24Error, InvalidTokenError) as exc:
        raise ToolError(str(exc)) from exc


def _filters(values: dict[str, Any]) -> SmsFilters:
    return SmsFilters.model_validate({k: v for k, v in values.items() if v is not None})


def _sample(sms: Sms, *, full_phone: bool = False) -> SmsSample:
    text = sms.text if len(sms.text) <= 60 else sms.text[:57] + "…"
    return SmsSample(
        uuid=sms.uuid,
        phone=sms.phone if full_phone else mask(sms.phone),
        delivery_at=sms.delivery_at,
        text=text,
        status_code=sms.status_code,
        callback_data=sms.callback_data,
    )


def _when(ts: int | None) -> str:
    if not ts:
        return "immediately"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


# ----------------------------------------------------------------------------- cancel_pending_sms


class CancelConfirmation(BaseModel):
    """The form shown to the user (flat primitives only)."""

    confirm: bool = Field(description="Yes, cancel these SMS. They will not be sent.")


@dataclass(frozen=True)
class Preview:
    """What the resolvers decided before the tool body runs."""

    plan: Plan
    filters: SmsFilters
    preview: cancel_ops.Preview


def client_caps(ctx: Context[AppState, Any]) -> ClientCaps:
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps is not None else None
    # A bare `elicitation: {}` (from before modes existed) means form support; url-only does not.
    return ClientCaps(
        elicit=elicitation is not None and (elicitation.form is not None or elicitation.url is None),
        apps=client_renders_apps(ctx),
    )


def _scope(ctx: Context[AppState, Any], filters: SmsFilters, cancel_all_pending: bool) -> str:
    client = lox24(ctx)
    return cancel_ops.cancel_scope(
        account_id=client.account_id,
        base_url=client.base_url,
        filters=filters,
        cancel_all_pending=cancel_all_pending,
    )


@flat_arguments(SmsFilters, exclude=frozenset({"is_sent"}))
async def preview_cancel(
    ctx: Context[AppState, Any],
    cancel_all_pending: bool,
    confirmation_token: str | None,
    **filters: Any,
) -> Preview:
    """Resolver: refuse what must be refused, check a token, or count what would be cancelled."""
    state = app_state(ctx)
    selection = _filters(filters)
    if selection.is_empty() and not cancel_all_pending:
        raise ToolError(
            "No filter given, so this would cancel every pending SMS of the account. Nothing was sent. Narrow it "
            "down (e.g. callback_data, bulk, delivery_at, iso2), or set cancel_all_pending=true if the user really "
            "wants to stop all scheduled SMS (that still needs their confirmation)."
        )
    caps = client_caps(ctx)
    token: TokenCheck = None
    if confirmation_token:
        try:
            token = state.signer.verify(confirmation_token, scope=_scope(ctx, selection, cancel_all_pending))
        except InvalidTokenError as exc:
            token = exc
    decision = plan(state.confirm, caps, token, None, operation="cancellations")
    preview_time = int(state.clock())
    counted = cancel_ops.Preview(0, preview_time)
    if isinstance(decision, NeedCount):
        with lox24_errors():
            counted = await cancel_ops.preview(lox24(ctx), selection, preview_time=preview_time)
        if not counted.exact:
            raise ToolError(
                f"LOX24 gave no total, and at least {counted.matched} pending SMS match: more than this server "
                "counts one by one, so it cannot show the user a real count. Nothing was cancelled. Narrow the "
                "filters (e.g. delivery_at, callback_data, iso2) and try again."
            )
        decision = plan(state.confirm, caps, token, counted.matched, operation="cancellations")
    if isinstance(decision, Refuse):
        await _audit(
            ctx,
            selection,
            cancel_all_pending,
            counted.matched if counted.matched else None,
            "expired" if isinstance(token, ExpiredTokenError) else "refused",
            "not_cancelled",
            reason=decision.reason,
        )
        raise ToolError(decision.reason)
    if isinstance(decision, Proceed) and decision.preview_time is not None:
        counted = cancel_ops.Preview(decision.matched, decision.preview_time)
    return Preview(decision, selection, counted)


async def ask_user(
    preview: Annotated[Preview, Resolve(preview_cancel)],
) -> CancelConfirmation | Elicit[CancelConfirmation]:
    """Resolver: ask the user in a dialog when the plan says so.

    The question depends only on the filters and what LOX24 counted (the count and the newest matching
    SMS), so it stays the same across the rounds of a 2026-07-28 call while the selection does; if an
    SMS joins it (even when another left), the question changes and the user is asked again: a
    resent yes never covers more than was shown.
    """
    if not isinstance(preview.plan, AskInDialog):
        return CancelConfirmation(confirm=isinstance(preview.plan, Proceed))
    counted = preview.preview
    newest = ""
    if counted.newest_created:  # to the second: it is what binds a resent answer to this selection
        newest = f" (the newest created {datetime.fromtimestamp(counted.newest_created, UTC):%Y-%m-%d %H:%M:%S} UTC)"
    lines = [f"Cancel {counted.matched} scheduled SMS matching {preview.filters.summary()}{newest}?"]
    lines += [f"• {mask(s.phone)} at {_when(s.delivery_at)}: {s.text[:40]!r}" for s in counted.sample[:3]]
    if counted.matched > 3:
        lines.append(f"… and {counted.matched - 3} more.")
    lines.append("They will not be sent. This cannot be undone.")
    return Elicit("\n".join(lines), CancelConfirmation)


@flat_arguments(SmsFilters, exclude=frozenset({"is_sent"}))
async def cancel_pending_sms(
    ctx: Context[AppState, Any],
    preview: Annotated[Preview, Resolve(preview_cancel)],
    answer: Annotated[ElicitationResult[CancelConfirmation], Resolve(ask_user)],
    cancel_all_pending: Annotated[
        bool, Field(description="Cancel ALL pending SMS if no filter is given (still confirmed)")
    ] = False,
    confirmation_token: Annotated[
        str | None, Field(description="From the preview; only after the user said yes")
    ] = None,
    **filters: Any,
) -> Annotated[CallToolResult, CancelResult]:
    """Cancels scheduled (not yet sent) SMS matching the filters: destructive, the user must confirm.

    The user confirms in a dialog or in a card shown with the result. Otherwise the first call returns a preview
    and a confirmation_token: show the preview to the user; only if they say yes, call again with the same
    filters and the token. Filters combine with AND.
    """
    del confirmation_token, filters  # read by the resolvers
    state = app_state(ctx)
    selection = preview.filters
    counted = preview.preview
    decision = preview.plan

    def result(status: CancelStatus, message: str, **extra: Any) -> CallToolResult:
        return plain_result(
            CancelResult(
                status=status,
                matched=counted.matched,
                filters=selection.summary(),
                sandbox=state.sandbox,
                message=message,
                **extra,
            )
        )

    if isinstance(decision, NothingToDo):
        return result("nothing_to_cancel", "No pending SMS match these filters; nothing was cancelled.")
    if isinstance(decision, ShowCard):
        client = lox24(ctx)
        secret, expires_at = mint_card_secret(
            state.signer,
            account_id=client.account_id,
            base_url=client.base_url,
            filters=selection,
            cancel_all_pending=cancel_all_pending,
            preview_time=counted.preview_time,
            matched=counted.matched,
        )
        card = result(
            "confirmation_required",
            f"{CARD_PROMPT} {counted.matched} pending SMS match; the card shows them with the buttons "
            f"'Cancel {counted.matched} SMS' and 'Keep them' until {_when(expires_at)}. Afterwards search_sms "
            "shows the outcome.",
            sample=[_sample(s) for s in counted.sample],
            expires_at=expires_at,
        )
        card.meta = card_meta(secret)
        return card
    if isinstance(decision, IssueToken):
        token, expires_at = state.signer.mint(
            scope=_scope(ctx, selection, cancel_all_pending),
            preview_time=counted.preview_time,
            matched=counted.matched,
        )
        return result(
            "confirmation_required",
            f"Nothing cancelled yet. {counted.matched} pending SMS match. Show the user this preview and ask "
            "whether to cancel them. Only if they say yes, call cancel_pending_sms again with the same filters "
            f"and confirmation_token (valid until {_when(expires_at)}).",
            sample=[_sample(s) for s in counted.sample],
            confirmation_token=token,
            expires_at=expires_at,
        )
    if isinstance(decision, AskInDialog) and not (isinstance(answer, AcceptedElicitation) and answer.data.confirm):
        await _audit(
            ctx,
            selection,
            cancel_all_pending,
            counted.matched,
            "declined",
            "not_cancelled",
            reason="the user declined or dismissed the dialog (or the client answered for them)",
        )
        return result(
            "declined",
            "The user did not confirm; nothing was cancelled.",
            sample=[_sample(s) for s in counted.sample],
        )
    if isinstance(decision, AskInDialog):
        how: Confirmation = "dialog"
    elif isinstance(decision, Proceed):
        how = "token" if decision.via == "token" else "policy_off"
    else:  # NeedCount and Refuse never reach the tool body
        raise ToolError("Internal error: no confirmation decision was reached. Nothing was cancelled.")
    with collect_request_ids() as request_ids:
        try:
            cancelled = await cancel_ops.cancel(lox24(ctx), selection, preview_time=counted.preview_time)
        except Lox24Error as exc:
            unknown = isinstance(exc, Lox24OutcomeUnknownError)
            await _audit(
                ctx,
                selection,
                cancel_all_pending,
                counted.matched,
                how,
                "unknown" if unknown else "failed",
                request_ids=request_ids,
                reason=str(exc),
            )
            raise ToolError(unknown_outcome(exc) if unknown else str(exc)) from exc
    await _audit(
        ctx,
        selection,
        cancel_all_pending,
        counted.matched,
        how,
        "cancelled",
        cancelled=cancelled,
        request_ids=request_ids,
    )
    return result(
        "cancelled",
        f"LOX24 cancelled {cancelled} SMS ({counted.matched} matched when the user confirmed).",
        cancelled=cancelled,
    )


async def _audit(
    ctx: Context[AppState, Any],
    selection: SmsFilters,
    cancel_all_pending: bool,
    matched: int | None,
    confirmation: Confirmation,
    outcome: Outcome,
    *,
    cancelled: int | None = None,
    request_ids: list[str] | None = None,
    reason: str | None = None,
) -> None:
    """One line in the audit trail for a decision of cancel_pending_sms."""
    await app_state(ctx).audit.record(
        AuditRecord(
            operation="cancel_sms",
            selection=selection_summary(selection, cancel_all_pending=cancel_all_pending),
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


# ----------------------------------------------------------------------------- read-only tools


@flat_arguments(SmsFilters)
async def search_sms(
    ctx: Context[AppState, Any],
    page: Annotated[int, Field(ge=1, le=10_000)] = 1,
    show_full_phone: Annotated[bool, Field(description="Unmasked numbers")] = False,
    **filters: Any,
) -> SearchResult:
    """Finds and counts SMS by LOX24's filters: read-only, changes nothing.

    E.g. scheduled for tomorrow: is_sent=false, delivery_at={gte: '2026-11-24T00:00:00+01:00',
    lt: '2026-11-25T00:00:00+01:00'}.
    """
    with lox24_errors():
        result = await lox24(ctx).search_sms(_filters(filters), page=page)
    return SearchResult(
        total=result.total,
        page=page,
        items=[_sample(s, full_phone=show_full_phone) for s in result.items],
        sandbox=app_state(ctx).sandbox,
    )


async def list_groups(ctx: Context[AppState, Any]) -> GroupsResult:
    """Lists the contact groups (id, name, contacts): read-only, changes nothing."""
    with lox24_errors():
        groups = await lox24(ctx).list_groups()
    return GroupsResult(
        groups=[GroupInfo(id=g.id, name=g.name, description=g.description, contacts=g.count_items) for g in groups],
        sandbox=app_state(ctx).sandbox,
    )


async def add_phones_to_group(
    ctx: Context[AppState, Any],
    group_id: Annotated[int, Field(ge=1, le=MAX_ID, description="Group id from list_groups")],
    phones: Annotated[
        list[PhoneEntry],
        Field(min_length=1, max_length=MAX_IMPORT, description="Contacts; only phone is required"),
    ],
    default_region: Annotated[
        Iso2 | None, Field(description="Country for numbers written without +country code, e.g. 'DE'")
    ] = None,
) -> ImportResult:
    """Adds contacts to a LOX24 group: additive, never removes anything.

    Numbers are normalised to E.164; invalid ones and repeats are reported, not sent. Every input entry
    is counted once: created + rejected + invalid + duplicates + unknown = requested.
    """

    async def progress(done: int, total: int, note: str) -> None:
        await ctx.report_progress(done, total=total, message=note)

    with lox24_errors():
        report = await import_phones(lox24(ctx), group_id, phones, default_region=default_region, on_progress=progress)
    return ImportResult(**dict(report), sandbox=app_state(ctx).sandbox)


# ----------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its function, title and annotations. The description is the function's docstring."""

    fn: Callable[..., Any]
    title: str
    annotations: ToolAnnotations
    meta: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def description(self) -> str:
        return inspect.cleandoc(self.fn.__doc__ or "")

    def build(self) -> Tool:
        return build_tool(
            self.fn, title=self.title, description=self.description, annotations=self.annotations, meta=self.meta
        )


READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=True)

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        cancel_pending_sms,
        "Cancel scheduled SMS (asks the user first)",
        ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True),
        meta=tool_ui_meta(),
    ),
    ToolSpec(
        add_phones_to_group,
        "Add contacts to a group",
        ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True),
    ),
    ToolSpec(list_groups, "List contact groups", READ_ONLY),
    ToolSpec(search_sms, "Search SMS", READ_ONLY),
    ToolSpec(
        confirm_cancel_in_card,
        "Card button (not for models)",
        ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True),
        meta=app_only_meta(),
    ),
)


def build_tools() -> list[Tool]:
    """Every tool of `TOOLS`, ready for `MCPServer(tools=...)`."""
    return [spec.build() for spec in TOOLS]
