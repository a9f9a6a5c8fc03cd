"""The tools: thin functions over the use cases in `lox24_mcp.ops`, and one registry of them.

Tools never build HTTP requests: they call the LOX24 client and the use cases, and turn every
`Lox24Error` into a `ToolError` whose sentence the model can act on. `TOOLS` is the one list of
tools, titles and annotations: the server, the README table, manifest.json and the tests read it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from lox24_mcp.lox24.errors import Lox24Error, Lox24OutcomeUnknownError
from lox24_mcp.lox24.models import MAX_ID, GroupContact, Iso2, PhoneEntry, Sms, SmsFilters
from lox24_mcp.lox24.phones import InvalidPhoneError, mask
from lox24_mcp.lox24.times import format_local, now_local, short_local
from lox24_mcp.lox24.trace import collect_request_ids
from lox24_mcp.mcp.card import (
    CARD_PROMPT,
    app_only_meta,
    audit_cancel,
    card_meta,
    client_renders_apps,
    confirm_cancel_in_card,
    plain_result,
    tool_ui_meta,
    unknown_outcome,
)
from lox24_mcp.mcp.results import (
    CancelResult,
    CancelStatus,
    FileImportResult,
    GroupContactItem,
    GroupContactsResult,
    GroupInfo,
    GroupsResult,
    ImportResult,
    PendingSample,
    PreviewSummary,
    SearchResult,
    SmsSample,
)
from lox24_mcp.mcp.sdk_compat import build_tool, flat_arguments
from lox24_mcp.mcp.state import AppState, app_state, lox24
from lox24_mcp.ops import cancel as cancel_ops
from lox24_mcp.ops.audit import Confirmation, Outcome, selection_summary
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
from lox24_mcp.ops.file_import import FileImportError, import_file
from lox24_mcp.ops.groups import view_group
from lox24_mcp.ops.importer import import_phones
from lox24_mcp.ops.present import only_pending, phone_note, sms_view, with_region
from lox24_mcp.ops.summary import Summary, dialog_lines, sample_note, summarise, summary_lines

MAX_IMPORT = 50_000
#: A bare number in `phones`, for lists without names.
PhoneText = Annotated[str, Field(min_length=1, max_length=40)]


@contextmanager
def lox24_errors() -> Iterator[None]:
    """Turn LOX24 failures into `ToolError`s: only their text reaches the model in mcp 2.x."""
    try:
        yield
    except (Lox24Error, InvalidTokenError) as exc:
        raise ToolError(str(exc)) from exc


def _filters(values: dict[str, Any]) -> SmsFilters:
    return SmsFilters.model_validate({k: v for k, v in values.items() if v is not None})


def _sample(sms: Sms, *, now: int, full_phone: bool = False) -> SmsSample:
    return SmsSample.model_validate(sms_view(sms, now=now, full_phone=full_phone))


def _pending_sample(sms: Sms, *, now: int, full_phone: bool = False) -> PendingSample:
    return PendingSample.model_validate(sms_view(sms, now=now, full_phone=full_phone))


def _summary(summary: Summary) -> PreviewSummary:
    by = {
        "day": summary.by_day,
        "hour": summary.by_hour or {},
        "country": summary.by_country,
        "callback_data": summary.by_callback_data,
        "text": summary.texts,
    }
    return PreviewSummary(
        counted=summary.counted,
        partial=summary.partial,
        span=summary.span(),
        by={key: counts for key, counts in by.items() if counts},
    )


_REGION = Annotated[Iso2 | None, Field(description="Country of national numbers")]
_FULL_PHONE = Annotated[bool, Field(description="Unmasked numbers")]


# ----------------------------------------------------------------------------- cancel_pending_sms

#: `is_sent` is fixed by what "pending" means; the order of a cancel's matches changes nothing.
CANCEL_EXCLUDES = frozenset({"is_sent", "order_by", "order"})


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


@flat_arguments(SmsFilters, exclude=CANCEL_EXCLUDES)
async def preview_cancel(
    ctx: Context[AppState, Any],
    cancel_all_pending: bool,
    confirmation_token: str | None,
    default_region: str | None = None,
    **filters: Any,
) -> Preview:
    """Resolver: refuse what must be refused, check a token, or count and summarise what would be cancelled."""
    state = app_state(ctx)
    selection = with_region(_filters(filters), default_region)
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
        newest = f" (the newest created {format_local(counted.newest_created, seconds=True)})"
    question = f"Cancel {counted.matched} scheduled SMS matching {preview.filters.summary()}{newest}?"
    summary = counted.summary or summarise(counted.sample, counted.matched)
    return Elicit(dialog_lines(question, summary, counted.left_out), CancelConfirmation)


@flat_arguments(SmsFilters, exclude=CANCEL_EXCLUDES)
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
    show_full_phone: _FULL_PHONE = False,
    default_region: _REGION = None,
    **filters: Any,
) -> Annotated[CallToolResult, CancelResult]:
    """Cancels scheduled (not yet sent) SMS matching the filters: destructive, the user must confirm.

    The user confirms in a dialog or a card shown with the result; otherwise the first call returns a preview
    and a confirmation_token: show it to the user, and only on their yes call again with the same filters and
    the token. Filters: a value or list; times and counts also {gte,lt,gt,lte}; AND-ed.
    """
    del confirmation_token, default_region, filters  # read by the resolvers
    state = app_state(ctx)
    selection = preview.filters
    counted = preview.preview
    decision = preview.plan
    now = int(state.clock())
    sample = [_pending_sample(s, now=now, full_phone=show_full_phone) for s in counted.sample]
    shown = f" ({sample_note(len(sample), counted.matched)})" if sample else ""
    summary = _summary(counted.summary) if counted.summary is not None else None
    overview = " ".join(summary_lines(counted.summary)) + " " if counted.summary is not None else ""
    notes = [*counted.left_out, *([counted.phone_note.rstrip(".")] if counted.phone_note else [])]
    left_out = "".join(f"Note: {line}. " for line in notes)

    def result(status: CancelStatus, message: str, **extra: Any) -> CallToolResult:
        return plain_result(
            CancelResult(
                status=status,
                now=now_local(now),
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
            f"'Cancel {counted.matched} SMS' and 'Keep them' until {short_local(expires_at, now=now)}. "
            f"{overview}{left_out}Afterwards search_sms shows the outcome.",
            summary=summary,
            left_out=list(counted.left_out),
            sample=sample,
            expires_at=expires_at,
            expires_local=format_local(expires_at),
        )
        card.meta = card_meta(secret)
        return card
    if isinstance(decision, IssueToken):
        token, expires_at = state.signer.mint(
            scope=_scope(ctx, selection, cancel_all_pending),
            preview_time=counted.preview_time,
            matched=counted.matched,
            valid_from=now,
        )
        return result(
            "confirmation_required",
            f"Nothing cancelled yet. {counted.matched} pending SMS match: {overview}{left_out}Show the user this "
            f"summary{shown} and ask whether to cancel them. Only if they say yes, call cancel_pending_sms again "
            f"with the same filters and confirmation_token (valid until {short_local(expires_at, now=now)}).",
            summary=summary,
            left_out=list(counted.left_out),
            sample=sample,
            confirmation_token=token,
            expires_at=expires_at,
            expires_local=format_local(expires_at),
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
            summary=summary,
            left_out=list(counted.left_out),
            sample=sample,
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
    await audit_cancel(
        ctx,
        selection_summary(selection, cancel_all_pending=cancel_all_pending),
        matched,
        confirmation,
        outcome,
        cancelled=cancelled,
        request_ids=request_ids,
        reason=reason,
    )


# ----------------------------------------------------------------------------- read-only tools


@flat_arguments(SmsFilters)
async def search_sms(
    ctx: Context[AppState, Any],
    page: Annotated[int, Field(ge=1, le=10_000)] = 1,
    pending: Annotated[bool, Field(description="What cancel_pending_sms would cancel")] = False,
    show_full_phone: _FULL_PHONE = False,
    default_region: _REGION = None,
    **filters: Any,
) -> SearchResult:
    """Finds and counts SMS by LOX24's filters: read-only, changes nothing.

    Filters: a value or list; times and counts also {gte,lt,gt,lte}; AND-ed. Times are local (see `now` in
    the result) and a date alone is that whole day: tomorrow's scheduled SMS are pending=true,
    delivery_at=<tomorrow's date>.
    """
    selection = with_region(_filters(filters), default_region)
    asked = ("pending SMS match " if pending else "SMS match ") + selection.summary()
    if pending:
        if selection.is_sent or (selection.status_code is not None and selection.status_code != 0):
            raise ToolError(
                "pending=true means not sent and status_code 0 (what cancel_pending_sms cancels); it cannot be "
                "combined with is_sent=true or another status_code. Drop one of them."
            )
        selection = only_pending(selection)
    with lox24_errors():
        result = await lox24(ctx).search_sms(selection, page=page)
    now = int(app_state(ctx).clock())
    first = (page - 1) * result.page_size + 1
    shown = f"items {first}-{first + len(result.items) - 1}" if result.items else "no items on this page"
    more = f"; more on page {page + 1}" if result.has_more else ""
    note = phone_note(selection, result.items, len(result.items) if result.total is None else result.total)
    count = f"{result.total}" if result.total is not None else "LOX24 gave no total;"
    return SearchResult(
        now=now_local(now),
        total=result.total,
        page=page,
        page_size=result.page_size,
        has_more=result.has_more,
        items=[_sample(s, now=now, full_phone=show_full_phone) for s in result.items],
        message=f"{count} {asked} ({shown}{more})." + (f" {note}" if note else ""),
        sandbox=app_state(ctx).sandbox,
    )


async def list_groups(ctx: Context[AppState, Any]) -> GroupsResult:
    """Lists the contact groups (id, name, contacts, what fields a-e hold): read-only, changes nothing."""
    with lox24_errors():
        groups = await lox24(ctx).list_groups()
    return GroupsResult(
        groups=[
            GroupInfo(id=g.id, name=g.name, description=g.description, contacts=g.count_items, columns=g.columns())
            for g in groups
        ],
        sandbox=app_state(ctx).sandbox,
    )


def _field_names(columns: dict[str, str]) -> dict[str, str]:
    """Each of a-e under the group's own column name (`Anrede`), or its letter where it has none or shares one."""
    names: dict[str, str] = {}
    for letter in "abcde":
        caption = columns.get(letter, "").strip()
        unnamed = not caption or caption.lower() == f"col_{letter}" or caption in names.values()
        names[letter] = letter if unnamed or caption == "callback_data" else caption
    return names


def _contact(contact: GroupContact, names: dict[str, str], *, full_phone: bool) -> GroupContactItem:
    values = {"a": contact.a, "b": contact.b, "c": contact.c, "d": contact.d, "e": contact.e}
    fields = {names[letter]: value for letter, value in values.items() if value is not None}
    if contact.callback_data is not None:
        fields["callback_data"] = contact.callback_data
    return GroupContactItem(phone=contact.phone if full_phone else mask(contact.phone), fields=fields)


async def list_group_contacts(
    ctx: Context[AppState, Any],
    group_id: Annotated[int, Field(ge=1, le=MAX_ID, description="Group id from list_groups")],
    phone: Annotated[
        str | None, Field(min_length=1, max_length=40, description="Is this number in the group? Any notation")
    ] = None,
    default_region: Annotated[Iso2 | None, Field(description="Country if phone lacks +code")] = None,
    page: Annotated[int, Field(ge=1, le=10_000)] = 1,
    show_full_phone: Annotated[bool, Field(description="Unmasked numbers")] = False,
) -> GroupContactsResult:
    """Lists a group's contacts, or checks if phone is in it: read-only, changes nothing."""
    try:
        with lox24_errors():
            view = await view_group(lox24(ctx), group_id, phone=phone, default_region=default_region, page=page)
    except InvalidPhoneError as exc:
        raise ToolError(f"phone {phone!r} is not a valid number: {exc}. Nothing was looked up.") from None
    # The number asked about is shown as stored: the caller wrote it, so it reveals nothing new.
    full = show_full_phone or view.query is not None
    names = _field_names(view.columns)
    return GroupContactsResult(
        group_id=group_id,
        total=view.total,
        page=view.page,
        page_size=view.page_size,
        has_more=view.has_more,
        items=[_contact(c, names, full_phone=full) for c in view.items],
        found=view.found,
        message=view.summary(),
        sandbox=app_state(ctx).sandbox,
    )


async def add_phones_to_group(
    ctx: Context[AppState, Any],
    group_id: Annotated[int, Field(ge=1, le=MAX_ID, description="Group id from list_groups")],
    phones: Annotated[
        list[PhoneEntry | PhoneText],
        Field(min_length=1, max_length=MAX_IMPORT, description="Contacts: numbers, or objects when fields a-e are set"),
    ],
    default_region: _REGION = None,
    dry_run: Annotated[bool, Field(description="Check and count only; send nothing")] = False,
) -> ImportResult:
    """Adds contacts to a LOX24 group: additive, never removes anything.

    Invalid numbers, repeats and numbers already in the group are reported, not sent: re-running is safe.
    Every entry is counted once. Over HTTP a call carries at most 4 MiB (~30,000 contacts with names); for
    more, use add_phones_from_file.
    """

    async def progress(done: int, total: int, note: str) -> None:
        await ctx.report_progress(done, total=total, message=note)

    with lox24_errors():
        report = await import_phones(
            lox24(ctx), group_id, phones, default_region=default_region, on_progress=progress, dry_run=dry_run
        )
    return ImportResult(**dict(report), sandbox=app_state(ctx).sandbox)


async def add_phones_from_file(
    ctx: Context[AppState, Any],
    group_id: Annotated[int, Field(ge=1, le=MAX_ID, description="From list_groups")],
    path: Annotated[str, Field(description="CSV, XLSX or vCard file")],
    default_region: Annotated[Iso2 | None, Field(description="Country of national numbers")] = None,
    # Lengths and field names are checked by the use case, with sentences instead of schema noise.
    columns: Annotated[
        dict[str, str] | None,
        Field(description="field: header, e.g. {'a': 'Vorname'}; fields phone, a-e, callback_data"),
    ] = None,
    sheet: str | None = None,
    dry_run: bool = False,
) -> FileImportResult:
    """Adds the contacts of a file on the server's disk (allowed folders only) to a group: additive.

    First call with dry_run=true (sends nothing) and show the user the counts, problems and columns_used.
    """

    async def progress(done: int, total: int, note: str) -> None:
        await ctx.report_progress(done, total=total, message=f"rows: {note}")

    state = app_state(ctx)
    with lox24_errors():
        try:
            report = await import_file(
                lox24(ctx),
                group_id,
                path,
                state.import_dirs,
                default_region=default_region,
                columns=columns,
                sheet=sheet,
                dry_run=dry_run,
                on_progress=progress,
            )
        except FileImportError as exc:
            raise ToolError(str(exc)) from exc
    return FileImportResult(**dict(report), sandbox=state.sandbox)


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
    ToolSpec(
        add_phones_from_file,
        "Add contacts from a file",
        ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True),
    ),
    ToolSpec(list_groups, "List contact groups", READ_ONLY),
    ToolSpec(list_group_contacts, "List or check a group's contacts", READ_ONLY),
    ToolSpec(search_sms, "Search SMS", READ_ONLY),
    ToolSpec(
        confirm_cancel_in_card,
        "Card button (not for models)",
        ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True),
        meta=app_only_meta(),
    ),
)


def build_tools() -> list[Tool]:
    """Every tool of `TOOLS`, ready for `MCPServer(tools=...)`.

    Built once per process and shared by every server made in it: a `Tool` holds its function, its
    schemas and its argument model, nothing that belongs to one server.
    """
    return list(_built_tools())


@functools.cache
def _built_tools() -> tuple[Tool, ...]:
    return tuple(spec.build() for spec in TOOLS)
