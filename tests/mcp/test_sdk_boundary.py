"""Pins each use of non-public SDK API in `lox24_mcp.mcp.sdk_compat`, and keeps such uses in that one module.

If an SDK release changes what sdk_compat relies on, a test here fails and names it.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import (
    CallToolResult,
    CompleteRequestParams,
    CompleteResult,
    Completion,
    PromptReference,
    TextContent,
    ToolAnnotations,
)
from pydantic import BaseModel, Field

import lox24_mcp
from lox24_mcp.mcp.sdk_compat import add_request_handler, argument_model, build_tool, flat_arguments

pytestmark = pytest.mark.anyio

PACKAGE = Path(lox24_mcp.__file__).parent
COMPAT = PACKAGE / "mcp" / "sdk_compat.py"
ANNOTATIONS = ToolAnnotations(read_only_hint=True)


class Tags(BaseModel):
    tag: str | None = Field(default=None, description="A tag")
    countries: list[str] | None = None


class Echo(BaseModel):
    got: dict[str, Any]


@flat_arguments(Tags)
async def echo(page: int = 1, **values: Any) -> Echo:
    """Echoes its arguments."""
    return Echo(got={"page": page, **values})


def server() -> MCPServer[Any]:
    tool = build_tool(echo, title="Echo", description="Echoes", annotations=ANNOTATIONS)
    return MCPServer("compat", tools=[tool])


def text(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


# ----------------------------------------------------------------------------- what sdk_compat relies on


def test_flat_arguments_become_top_level_properties_of_the_input_schema() -> None:
    tool = build_tool(echo, title="Echo", description="Echoes", annotations=ANNOTATIONS)
    assert set(tool.parameters["properties"]) == {"page", "tag", "countries"}
    assert tool.parameters["additionalProperties"] is False
    assert tool.parameters["properties"]["tag"] == {"description": "A tag", "type": "string"}


async def test_unknown_arguments_are_refused_by_name() -> None:
    async with Client(server()) as client:
        result = await client.call_tool("echo", {"tga": "x"})
    assert result.is_error and "unknown argument 'tga'" in text(result) and "tag" in text(result)


async def test_the_string_null_stays_a_string_and_json_lists_sent_as_strings_are_repaired() -> None:
    async with Client(server()) as client:
        result = await client.call_tool("echo", {"tag": "null", "countries": '["DE","AT"]'})
    assert not result.is_error, text(result)
    assert result.structured_content == {"got": {"page": 1, "tag": "null", "countries": ["DE", "AT"]}}


def test_the_sdk_still_has_the_pre_parse_hook_and_metadata_fields_we_replace() -> None:
    assert "pre_parse_json" in FuncMetadata.__dict__
    assert {"arg_model", "output_schema", "output_model", "wrap_output"} <= set(FuncMetadata.model_fields)
    tool = build_tool(echo, title="Echo", description="Echoes", annotations=ANNOTATIONS)
    assert isinstance(tool.fn_metadata, FuncMetadata)
    assert argument_model(tool).model_config.get("extra") == "forbid"


def test_the_published_output_schema_is_the_one_the_sdk_serves() -> None:
    tool = build_tool(echo, title="Echo", description="Echoes", annotations=ANNOTATIONS)
    assert tool.output_schema is tool.fn_metadata.output_schema
    assert "title" not in str(tool.output_schema)


async def test_a_request_handler_gets_the_lifespan_state() -> None:
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(_: MCPServer[str]) -> AsyncIterator[str]:
        yield "state"

    srv: MCPServer[str] = MCPServer("compat", lifespan=lifespan)
    seen: list[str] = []

    async def complete(ctx: Any, params: CompleteRequestParams) -> CompleteResult:
        seen.append(ctx.lifespan_context)
        return CompleteResult(completion=Completion(values=[params.argument.value.upper()]))

    add_request_handler(srv, "completion/complete", CompleteRequestParams, complete)
    async with Client(srv) as client:
        result = await client.complete(PromptReference(name="p"), {"name": "group", "value": "vi"})
    assert result.completion.values == ["VI"] and seen == ["state"]


# ----------------------------------------------------------------------------- and nowhere else


def _non_public_uses(path: Path) -> list[str]:
    """Imports from the SDK's non-public modules or names, and private attributes of SDK objects."""
    found: list[str] = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("mcp", "mcp_types"):
            segments = node.module.split(".")
            if any(s.startswith("_") for s in segments) or "utilities" in segments or "lowlevel" in segments:
                found.append(f"from {node.module} import …")
            found += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                found.append(f"….{node.attr}")
    return found


def test_only_sdk_compat_touches_non_public_sdk_api() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): uses
        for path in sorted((PACKAGE / "mcp").rglob("*.py"))
        if path != COMPAT and (uses := _non_public_uses(path))
    }
    assert offenders == {}
    # The check itself can fail: sdk_compat does what it is there for.
    assert _non_public_uses(COMPAT)


def test_no_other_package_module_imports_sdk_internals() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent.name == "mcp" and path.parent.parent == PACKAGE:
            continue  # the MCP layer: checked above, with attribute access too
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mcp."):
                segments = node.module.split(".")
                assert not any(s.startswith("_") for s in segments), (path, node.module)
                assert "utilities" not in segments and "lowlevel" not in segments, (path, node.module)


def test_flat_arguments_keeps_the_function_callable_with_its_own_parameters() -> None:
    assert list(inspect.signature(echo).parameters) == ["page", "tag", "countries"]
