"""The MCP server: four tools over the LOX24 client, prompts from `prompts/`, and argument completion.

Tools never build HTTP requests: they call `Lox24Client`, `import_phones` and the confirmation
helpers, and turn every `Lox24Error` into a `ToolError` whose sentence the model can act on.
"""

from __future__ import annotations

import inspect
import json
import logging
import secrets
import typing
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import httpx2
from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp.types import (
    Completion,
    CompletionArgument,
    CompletionContext,
    EmptyResult,
    PromptReference,
    ResourceTemplateReference,
    SetLevelRequestParams,
    ToolAnnotations,
)
from pydantic import BaseModel, ConfigDict, Field, model_validator

from lox24_mcp import __version__
from lox24_mcp.config import ConfirmPolicy, Settings
from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.lox24.errors import Lox24Error
from lox24_mcp.lox24.models import MAX_ID, Iso2, PhoneEntry, Sms, SmsFilters, compact_schema
from lox24_mcp.lox24.phones import mask
from lox24_mcp.mcp.prompts import load_prompts
from lox24_mcp.mcp.replicas import request_state_security
from lox24_mcp.mcp.results import (
    CancelResult,
    CancelStatus,
    GroupInfo,
    GroupsResult,
    ImportResult,
    SearchResult,
    SmsSample,
)
from lox24_mcp.mcp.tracing import ToolSpanOutcome
from lox24_mcp.ops.confirm import Claims, InvalidTokenError, TokenSigner, cancel_scope, pending_selection
from lox24_mcp.ops.importer import import_phones

logger = logging.getLogger(__name__)

SERVER_NAME = "lox24"
INSTRUCTIONS = """\
LOX24 SMS gateway. Look before you change anything: search_sms shows what is scheduled, list_groups
shows contact groups by name. cancel_pending_sms stops scheduled SMS: it always needs the user's own
yes — either a dialog the user answers, or a preview you must show the user before calling again with
the confirmation_token. Never confirm on the user's behalf. add_phones_to_group only adds contacts."""

MAX_IMPORT = 50_000

SAMPLE_SIZE = 5

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class AppState:
    """What every tool call shares for the life of the process."""

    client: Lox24Client
    signer: TokenSigner
    confirm: ConfirmPolicy
    sandbox: bool


# ----------------------------------------------------------------------------- helpers


@contextmanager
def lox24_errors() -> Iterator[None]:
    """Turn LOX24 failures into `ToolError`s: only their text reaches the model in mcp 2.x."""
    try:
        yield
    except Lox24Error as exc:
        raise ToolError(str(exc)) from exc
    except InvalidTokenError as exc:
        raise ToolError(str(exc)) from exc


def with_filter_arguments(*, exclude: frozenset[str] = frozenset()) -> Callable[[F], F]:
    """Give `fn(..., **filters)` one keyword argument per `SmsFilters` field.

    The tool's input schema is generated from its signature, so this keeps the MCP arguments flat
    and named exactly as LOX24 names its filters, while `SmsFilters` stays the one definition.
    """

    def decorate(fn: F) -> F:
        sig = inspect.signature(fn)
        hints = typing.get_type_hints(fn, include_extras=True)
        params = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        for name, field in SmsFilters.model_fields.items():
            if name in exclude:
                continue
            annotation = Annotated[field.annotation, field]  # type: ignore[name-defined]
            params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=field.default))
            hints[name] = annotation
        params = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in params]
        resolved = sig.replace(parameters=params, return_annotation=hints.get("return", sig.return_annotation))
        setattr(fn, "__signature__", resolved)  # noqa: B010 (read by inspect.signature)
        fn.__annotations__ = {**hints}
        return fn

    return decorate


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


def _publish_schema(schema: Any) -> None:
    """The schema as `tools/list` shows it: compacted, with single-use `$defs` written in place."""
    _compact_schema(schema)
    _inline_single_use_defs(schema)


def _inline_single_use_defs(schema: Any) -> None:
    """Write a `$defs` entry that is referenced once where it is used.

    Shorter, easier for a model to read, and much cheaper for clients that validate results with
    `jsonschema`, which resolves a `$ref` for every item of a list (search results, previews).
    """
    if not isinstance(schema, dict) or not isinstance(schema.get("$defs"), dict):
        return
    defs: dict[str, Any] = schema["$defs"]
    text = json.dumps(schema)
    for name in list(defs):
        ref = f"#/$defs/{name}"
        quoted = json.dumps(ref)
        if text.count(quoted) != 1 or quoted in json.dumps(defs[name]):
            continue  # used more than once, or recursive
        if _replace_ref(schema, ref, defs[name]):
            del defs[name]
    if not defs:
        del schema["$defs"]


def _replace_ref(node: Any, ref: str, target: dict[str, Any]) -> bool:
    if isinstance(node, dict):
        if node.get("$ref") == ref:
            del node["$ref"]
            for key, value in target.items():
                node.setdefault(key, value)
            return True
        return any(_replace_ref(value, ref, target) for value in node.values())
    if isinstance(node, list):
        return any(_replace_ref(value, ref, target) for value in node)
    return False


def _compact_schema(node: Any) -> None:
    """Compact a generated tool schema in place, meaning unchanged.

    Drops generated titles (they repeat the property names) and `default: null`, and writes
    `anyOf: [{type: T, …}, {type: null}]` as `type: [T, "null"]`: shorter to read for the model and
    cheaper for clients that validate structured results.
    """
    if isinstance(node, dict):
        if isinstance(node.get("title"), str):
            del node["title"]
        if "default" in node and node["default"] is None:
            del node["default"]
        _merge_nullable(node)
        for key, value in node.items():
            if key in ("properties", "$defs") and isinstance(value, dict):
                for sub in value.values():
                    _compact_schema(sub)
            elif key in ("items", "additionalProperties"):
                _compact_schema(value)
            elif key in ("anyOf", "oneOf", "allOf") and isinstance(value, list):
                for sub in value:
                    _compact_schema(sub)


def _merge_nullable(node: dict[str, Any]) -> None:
    branches = node.get("anyOf")
    if not isinstance(branches, list) or len(branches) != 2 or {"type": "null"} not in branches:
        return
    other = branches[0] if branches[1] == {"type": "null"} else branches[1]
    # Only a plain typed branch: its other keywords (maxLength, minimum, items, …) ignore null anyway;
    # enum/const would reject null and $ref/combinators carry no single type.
    if not isinstance(other, dict) or not isinstance(other.get("type"), str):
        return
    if other.keys() & {"enum", "const", "$ref", "anyOf", "oneOf", "allOf", "not"} or other.keys() & node.keys():
        return
    del node["anyOf"]
    node.update(other)
    node["type"] = [other["type"], "null"]


# ----------------------------------------------------------------------------- cancel_pending_sms


class CancelConfirmation(BaseModel):
    """The form shown to the user (flat primitives only)."""

    confirm: bool = Field(description="Yes, cancel these SMS. They will not be sent.")


@dataclass(frozen=True)
class Preview:
    """What the resolvers decided before the tool body runs."""

    action: typing.Literal["nothing", "mint_token", "token_ok", "ask", "proceed"]
    filters: SmsFilters
    matched: int
    preview_time: int
    sample: tuple[Sms, ...] = ()


def _client_can_elicit(ctx: Context[AppState, Any]) -> bool:
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps is not None else None
    # A bare `elicitation: {}` (from before modes existed) means form support; url-only does not.
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _scope(state: AppState, filters: SmsFilters, cancel_all_pending: bool) -> str:
    return cancel_scope(
        account_id=state.client.account_id,
        base_url=state.client.base_url,
        filters=filters,
        cancel_all_pending=cancel_all_pending,
    )


@with_filter_arguments(exclude=frozenset({"is_sent"}))
async def preview_cancel(
    ctx: Context[AppState, Any],
    cancel_all_pending: bool,
    confirmation_token: str | None,
    **filters: Any,
) -> Preview:
    """Resolver: refuse what must be refused, check a token, or count what would be cancelled."""
    state = ctx.request_context.lifespan_context
    selection = _filters(filters)
    if selection.is_empty() and not cancel_all_pending:
        raise ToolError(
            "No filter given, so this would cancel every pending SMS of the account. Nothing was sent. Narrow it "
            "down (e.g. callback_data, bulk, delivery_at, iso2), or set cancel_all_pending=true if the user really "
            "wants to stop all scheduled SMS (that still needs their confirmation)."
        )
    policy = state.confirm
    can_elicit = _client_can_elicit(ctx)
    if policy == "elicit" and not can_elicit:
        raise ToolError(
            "This server confirms cancellations in a dialog (LOX24_MCP_CONFIRM=elicit), and this client cannot show "
            "one. Nothing was cancelled. Use a client that supports MCP elicitation, or ask the operator to allow "
            "the preview-and-token flow."
        )
    use_token = policy == "token" or (policy == "auto" and not can_elicit)
    with lox24_errors():
        if use_token and confirmation_token:
            claims: Claims = state.signer.verify(confirmation_token, scope=_scope(state, selection, cancel_all_pending))
            return Preview("token_ok", selection, claims.matched, claims.preview_time)
        preview_time = int(datetime.now(UTC).timestamp())
        pending = pending_selection(selection, preview_time)
        if pending is None:
            return Preview("nothing", selection, 0, preview_time)
        page = await state.client.search_sms(pending)
    if page.total == 0:
        return Preview("nothing", selection, 0, preview_time)
    action: typing.Literal["mint_token", "ask", "proceed"] = (
        "proceed" if policy == "off" else "mint_token" if use_token else "ask"
    )
    return Preview(action, selection, page.total, preview_time, tuple(page.items[:SAMPLE_SIZE]))


async def ask_user(
    preview: Annotated[Preview, Resolve(preview_cancel)],
) -> CancelConfirmation | Elicit[CancelConfirmation]:
    """Resolver: ask the user in a dialog when the preview says so.

    The question depends only on the filters and what LOX24 counted, so it stays the same across
    the rounds of a 2026-07-28 call.
    """
    if preview.action != "ask":
        return CancelConfirmation(confirm=preview.action in ("token_ok", "proceed"))
    lines = [f"Cancel {preview.matched} scheduled SMS matching {preview.filters.summary()}?"]
    lines += [f"• {mask(s.phone)} at {_when(s.delivery_at)}: {s.text[:40]!r}" for s in preview.sample[:3]]
    if preview.matched > 3:
        lines.append(f"… and {preview.matched - 3} more.")
    lines.append("They will not be sent. This cannot be undone.")
    return Elicit("\n".join(lines), CancelConfirmation)


@with_filter_arguments(exclude=frozenset({"is_sent"}))
async def cancel_pending_sms(
    ctx: Context[AppState, Any],
    preview: Annotated[Preview, Resolve(preview_cancel)],
    answer: Annotated[ElicitationResult[CancelConfirmation], Resolve(ask_user)],
    cancel_all_pending: Annotated[
        bool, Field(description="Cancel ALL pending SMS if no filter is given (still confirmed)")
    ] = False,
    confirmation_token: Annotated[
        str | None,
        Field(description="From the preview; only after the user said yes", json_schema_extra=compact_schema),
    ] = None,
    **filters: Any,
) -> CancelResult:
    """Cancels scheduled (not yet sent) SMS matching the filters: destructive, the user must confirm.

    Without a dialog the first call returns a preview and a confirmation_token: show the preview to the user;
    only if they say yes, call again with the same filters and the token. Filters combine with AND.
    """
    del confirmation_token, filters  # read by the resolvers
    state = ctx.request_context.lifespan_context
    selection = preview.filters

    def result(status: CancelStatus, message: str, **extra: Any) -> CancelResult:
        return CancelResult(
            status=status,
            matched=preview.matched,
            filters=selection.summary(),
            sandbox=state.sandbox,
            message=message,
            **extra,
        )

    if preview.action == "nothing":
        return result("nothing_to_cancel", "No pending SMS match these filters; nothing was cancelled.")
    if preview.action == "mint_token":
        token, expires_at = state.signer.mint(
            scope=_scope(state, selection, cancel_all_pending),
            preview_time=preview.preview_time,
            matched=preview.matched,
        )
        return result(
            "confirmation_required",
            f"Nothing cancelled yet. {preview.matched} pending SMS match. Show the user this preview and ask "
            "whether to cancel them. Only if they say yes, call cancel_pending_sms again with the same filters "
            f"and confirmation_token (valid until {_when(expires_at)}).",
            sample=[_sample(s) for s in preview.sample],
            confirmation_token=token,
            expires_at=expires_at,
        )
    if preview.action == "ask" and not (isinstance(answer, AcceptedElicitation) and answer.data.confirm):
        return result(
            "declined",
            "The user did not confirm; nothing was cancelled.",
            sample=[_sample(s) for s in preview.sample],
        )
    pending = pending_selection(selection, preview.preview_time)
    cancelled = 0
    if pending is not None:
        with lox24_errors():
            cancelled = await state.client.cancel_sms(pending, allow_all=True)
    return result(
        "cancelled",
        f"LOX24 cancelled {cancelled} SMS ({preview.matched} matched when the user confirmed).",
        cancelled=cancelled,
    )


# ----------------------------------------------------------------------------- read-only tools


@with_filter_arguments()
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
    state = ctx.request_context.lifespan_context
    with lox24_errors():
        result = await state.client.search_sms(_filters(filters), page=page)
    return SearchResult(
        total=result.total,
        page=page,
        items=[_sample(s, full_phone=show_full_phone) for s in result.items],
        sandbox=state.sandbox,
    )


async def list_groups(ctx: Context[AppState, Any]) -> GroupsResult:
    """Lists the contact groups (id, name, contacts): read-only, changes nothing."""
    state = ctx.request_context.lifespan_context
    with lox24_errors():
        groups = await state.client.list_groups()
    return GroupsResult(
        groups=[GroupInfo(id=g.id, name=g.name, description=g.description, contacts=g.count_items) for g in groups],
        sandbox=state.sandbox,
    )


async def add_phones_to_group(
    ctx: Context[AppState, Any],
    group_id: Annotated[int, Field(ge=1, le=MAX_ID, description="Group id from list_groups")],
    phones: Annotated[
        list[PhoneEntry],
        Field(min_length=1, max_length=MAX_IMPORT, description="Contacts; only phone is required"),
    ],
    default_region: Annotated[
        Iso2 | None,
        Field(
            description="Country for numbers written without +country code, e.g. 'DE'", json_schema_extra=compact_schema
        ),
    ] = None,
) -> ImportResult:
    """Adds contacts to a LOX24 group: additive, never removes anything.

    Numbers are normalised to E.164; invalid ones and repeats are reported, not sent. Every input entry
    is counted once: created + rejected + invalid + duplicates + unknown = requested.
    """
    state = ctx.request_context.lifespan_context

    async def progress(done: int, total: int, note: str) -> None:
        await ctx.report_progress(done, total=total, message=note)

    with lox24_errors():
        result = await import_phones(
            state.client, group_id, phones, default_region=default_region, on_progress=progress
        )
    return result.model_copy(update={"sandbox": state.sandbox})


# ----------------------------------------------------------------------------- assembly


def _tools() -> list[Tool]:
    specs: list[tuple[Callable[..., Any], str, ToolAnnotations]] = [
        (
            cancel_pending_sms,
            "Cancel scheduled SMS (asks the user first)",
            ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True),
        ),
        (
            add_phones_to_group,
            "Add contacts to a group",
            ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True),
        ),
        (list_groups, "List contact groups", ToolAnnotations(read_only_hint=True, open_world_hint=True)),
        (search_sms, "Search SMS", ToolAnnotations(read_only_hint=True, open_world_hint=True)),
    ]
    tools: list[Tool] = []
    for fn, title, hints in specs:
        description = inspect.cleandoc(fn.__doc__ or "")
        tool = Tool.from_function(fn, title=title, description=description, annotations=hints, structured_output=True)
        _strict_arguments(tool)
        _publish_schema(tool.parameters)
        _publish_schema(tool.output_schema)  # a cached dict: changed in place, once
        tools.append(tool)
    return tools


class _LiteralStrings(FuncMetadata):
    """The SDK's argument pre-parsing, limited to JSON lists and objects sent as strings.

    Some clients send `["DE","AT"]` as a string, which is worth repairing; but the SDK also turns
    the string `"null"` into None, and a filter `callback_data="null"` must not silently vanish
    and widen a cancel.
    """

    def pre_parse_json(self, data: dict[str, Any]) -> dict[str, Any]:
        parsed = super().pre_parse_json(data)
        return {
            key: value if isinstance(value, list | dict) or not isinstance(data[key], str) else data[key]
            for key, value in parsed.items()
        }


class _RefuseUnknown(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown(cls, data: Any) -> Any:
        """Name unknown arguments briefly and list the real ones, so a model can correct itself."""
        if isinstance(data, dict):
            unknown = [str(key) for key in data if key not in cls.model_fields]
            if unknown:
                names = ", ".join(repr(name if len(name) <= 40 else name[:40] + "…") for name in unknown[:5])
                raise ValueError(f"unknown argument {names}; the arguments are: {', '.join(cls.model_fields)}")
        return data


def _strict_arguments(tool: Tool) -> None:
    """Refuse unknown argument names: a misspelt filter (`bulk_id` for `bulk`) would otherwise widen a cancel."""
    meta = tool.fn_metadata
    base = meta.arg_model
    namespace = {
        "__module__": base.__module__,
        # Built on the first call rather than at start-up: a cold start only lists the tools.
        "model_config": ConfigDict(**{**base.model_config, "extra": "forbid", "defer_build": True}),
    }
    strict: type[ArgModelBase] = type(base.__name__, (base, _RefuseUnknown), namespace)
    tool.fn_metadata = _LiteralStrings(
        arg_model=strict, output_schema=meta.output_schema, output_model=meta.output_model, wrap_output=meta.wrap_output
    )
    # The same schema the SDK generated from `base`, plus what `extra="forbid"` adds; generating it
    # again from `strict` would give the same dict at twice the start-up cost (tests compare the two).
    tool.parameters = {**tool.parameters, "additionalProperties": False}


def create_server(
    settings: Settings,
    *,
    http_client: httpx2.AsyncClient | None = None,
    sandbox: bool = False,
) -> MCPServer[AppState]:
    """Build the MCP server. The LOX24 client is created in the lifespan, once per process.

    Args:
        settings: from `Settings.from_env()`; `api_token` must be set.
        http_client: an `httpx2.AsyncClient` to share (tests inject one); created if omitted.
        sandbox: say in results that they come from the built-in sandbox.
    """
    if settings.api_token is None:
        raise ValueError("settings.api_token is required")
    token = settings.api_token
    key = settings.secret.get_secret_value().encode() if settings.secret else secrets.token_bytes(32)
    signer = TokenSigner(key, ttl=settings.token_ttl)

    # The completion handler gets no Context, so it reads the lifespan's state from here.
    live: list[AppState] = []

    @asynccontextmanager
    async def lifespan(_server: MCPServer[AppState]) -> AsyncIterator[AppState]:
        client = Lox24Client(token, base_url=settings.base_url, http_client=http_client, timeout=settings.timeout)
        state = AppState(client=client, signer=signer, confirm=settings.confirm, sandbox=sandbox)
        live.append(state)
        try:
            yield state
        finally:
            live.remove(state)
            await client.aclose()

    server: MCPServer[AppState] = MCPServer(
        SERVER_NAME,
        title="LOX24 SMS" + (" (sandbox)" if sandbox else ""),
        description="Cancel scheduled SMS and import contacts on the LOX24 SMS gateway.",
        instructions=INSTRUCTIONS + ("\nThis is the built-in sandbox: no real SMS are affected." if sandbox else ""),
        website_url="https://www.lox24.eu",
        version=__version__,
        tools=_tools(),
        lifespan=lifespan,
        log_level=settings.log_level,
        # Replicas sharing LOX24_MCP_SECRET complete each other's 2026-07-28 dialogs.
        request_state_security=request_state_security(settings),
        middleware=[ToolSpanOutcome()],
    )
    for prompt in load_prompts():
        server.add_prompt(prompt)

    async def set_level(ctx: ServerRequestContext[AppState], params: SetLevelRequestParams) -> EmptyResult:
        """`logging/setLevel` (2025-11-25 clients still send it) is acknowledged and changes nothing.

        The server sends no log notifications (protocol logging is deprecated), and one HTTP client
        must not be able to raise the process-wide stderr level of every session: that stays the
        operator's, through LOX24_MCP_LOG_LEVEL.
        """
        del ctx
        logger.debug("client asked for log level %s; stderr logging stays at the operator's level", params.level)
        return EmptyResult()

    # MCPServer has no public hook for spec methods; the SDK's extension docs point to the lowlevel server.
    server._lowlevel_server.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)

    @server.completion()  # type: ignore[no-untyped-call, untyped-decorator]  # the SDK leaves it untyped
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        del context
        if not isinstance(ref, PromptReference) or argument.name != "group" or not live:
            return None
        try:
            groups = await live[-1].client.list_groups()
        except Lox24Error:
            logger.warning("could not list groups for completion", exc_info=True)
            return Completion(values=[])
        prefix = argument.value.casefold()
        names = [g.name for g in groups if g.name.casefold().startswith(prefix)]
        return Completion(values=names[:100], total=len(names), has_more=len(names) > 100)

    return server
