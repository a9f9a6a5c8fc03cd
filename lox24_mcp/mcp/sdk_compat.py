"""The ONLY module that reaches past the SDK's public API. Each use is pinned by `tests/mcp/test_sdk_compat.py`.

mcp 2.3.0 builds a tool's input schema and argument model from its function signature and offers no
public hook for three things this server needs:

- flat arguments named exactly as LOX24 names its filters, declared once (`SmsFilters`) rather than
  repeated in every tool's signature: `flat_arguments` writes them into the signature;
- refusing unknown argument names (a misspelt filter would widen a cancel) and not turning the string
  `"null"` into None: `build_tool` swaps in a stricter argument model and pre-parser
  (`FuncMetadata`, `ArgModelBase` from a non-public module);
- handlers for spec methods that `MCPServer` does not expose with the request context
  (`logging/setLevel`, `completion/complete` with the lifespan state): `add_request_handler` goes
  through the lowlevel server, as the SDK's own extension mechanism does.

If an SDK release changes any of this, the pinning tests fail here, and nowhere else needs to change.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp.types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, model_validator

from lox24_mcp.mcp.schema import publish_input, publish_output

F = TypeVar("F", bound=Callable[..., Any])
P = TypeVar("P", bound=BaseModel)


def flat_arguments(model: type[BaseModel], *, exclude: frozenset[str] = frozenset()) -> Callable[[F], F]:
    """Give `fn(..., **values)` one keyword argument per field of `model` (except `exclude`).

    The SDK generates a tool's input schema from its signature, so this keeps the MCP arguments flat
    and named exactly as the API names them, while `model` stays the one definition.
    """

    def decorate(fn: F) -> F:
        sig = inspect.signature(fn)
        hints = typing.get_type_hints(fn, include_extras=True)
        params = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        for name, field in model.model_fields.items():
            if name in exclude:
                continue
            params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=field.default))
            hints[name] = Annotated[field.annotation, field]
        params = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in params]
        resolved = sig.replace(parameters=params, return_annotation=hints.get("return", sig.return_annotation))
        setattr(fn, "__signature__", resolved)  # noqa: B010 (read by inspect.signature)
        fn.__annotations__ = {**hints}
        return fn

    return decorate


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


def build_tool(
    fn: Callable[..., Any],
    *,
    title: str,
    description: str,
    annotations: ToolAnnotations,
    meta: dict[str, Any] | None = None,
) -> Tool:
    """A `Tool` with structured output, strict arguments and the published (compacted) schemas."""
    # The SDK reads the annotations three times (context parameter, resolvers, argument model), and each
    # time evaluates every string annotation (`from __future__ import annotations`) anew: evaluate them once.
    fn.__annotations__ = typing.get_type_hints(fn, include_extras=True)
    tool = Tool.from_function(
        fn, title=title, description=description, annotations=annotations, meta=meta, structured_output=True
    )
    meta_data = tool.fn_metadata
    base = meta_data.arg_model
    namespace = {
        "__module__": base.__module__,
        # Built on the first call rather than at start-up: a cold start only lists the tools.
        "model_config": ConfigDict(**{**base.model_config, "extra": "forbid", "defer_build": True}),
    }
    strict: type[ArgModelBase] = type(base.__name__, (base, _RefuseUnknown), namespace)
    tool.fn_metadata = _LiteralStrings(
        arg_model=strict,
        output_schema=meta_data.output_schema,
        output_model=meta_data.output_model,
        wrap_output=meta_data.wrap_output,
    )
    # The schema the SDK generated from `base`, plus what `extra="forbid"` adds; generating it again
    # from `strict` would give the same dict at twice the start-up cost (a test compares the two).
    tool.parameters = publish_input({**tool.parameters, "additionalProperties": False})
    if tool.fn_metadata.output_schema is not None:
        # Read live by the SDK (`Tool.output_schema`, result validation); shaped once, before first use.
        publish_output(tool.fn_metadata.output_schema)
    return tool


def argument_model(tool: Tool) -> type[BaseModel]:
    """The model that validates `tool`'s arguments."""
    return tool.fn_metadata.arg_model


Handler = Callable[[ServerRequestContext[Any], P], Awaitable[Any]]


def add_request_handler(server: MCPServer[Any], method: str, params_type: type[P], handler: Handler[P]) -> None:
    """Serve a spec method with a handler that receives the request context (and so the lifespan state)."""
    server._lowlevel_server.add_request_handler(method, params_type, handler)
