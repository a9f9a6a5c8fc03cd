"""What `tools/list` publishes: the reviewed snapshot, schemas that match the validating models, titles and hints."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer

from lox24_mcp.lox24.models import FILTER_FIELDS
from lox24_mcp.mcp.app import AppState, create_server
from lox24_mcp.mcp.schema import publish_input
from lox24_mcp.mcp.tools import build_tools
from lox24_mcp.sandbox import SandboxServer
from tests.helpers import ROOT, make_settings

pytestmark = pytest.mark.anyio

SNAPSHOT = ROOT / "tests" / "snapshots" / "tools.json"


def make_server(sandbox: SandboxServer) -> MCPServer[AppState]:
    return create_server(make_settings(sandbox.url), sandbox=True)


def _tools_json(tools: list[Any]) -> list[dict[str, Any]]:
    return [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools]


async def test_tool_schemas_match_the_committed_snapshot(shared_sandbox: SandboxServer) -> None:
    async with Client(make_server(shared_sandbox)) as client:
        tools = _tools_json((await client.list_tools()).tools)
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(tools, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert tools == json.loads(SNAPSHOT.read_text(encoding="utf-8")), "run with UPDATE_SNAPSHOTS=1 and review the diff"


def test_published_input_schemas_are_what_the_validating_models_generate() -> None:
    """The input schema is derived from the SDK's rather than generated twice; it must not drift from the model."""
    for tool in build_tools():
        generated = publish_input(tool.fn_metadata.arg_model.model_json_schema(by_alias=True))
        assert generated["additionalProperties"] is False
        assert tool.parameters == generated, tool.name


async def test_every_tool_has_title_annotations_output_schema_and_valid_property_names(
    shared_sandbox: SandboxServer,
) -> None:
    async with Client(make_server(shared_sandbox)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {
        "cancel_pending_sms",
        "add_phones_to_group",
        "add_phones_from_file",
        "list_groups",
        "list_group_contacts",
        "search_sms",
        "confirm_cancel_in_card",
    }
    for tool in tools.values():
        assert tool.title and tool.annotations is not None and tool.output_schema is not None
        assert tool.description and tool.description.splitlines()[0].strip()
        for name in tool.input_schema.get("properties", {}):
            assert re.fullmatch(r"[a-zA-Z0-9_.-]{1,64}", name), name
        assert "ctx" not in tool.input_schema.get("properties", {})
    cancel = tools["cancel_pending_sms"]
    assert cancel.annotations is not None and cancel.annotations.destructive_hint is True
    assert "preview" not in cancel.input_schema["properties"] and "answer" not in cancel.input_schema["properties"]
    assert "is_sent" not in cancel.input_schema["properties"]
    assert "is_sent" in tools["search_sms"].input_schema["properties"]
    for name in ("add_phones_to_group", "add_phones_from_file"):
        add = tools[name]
        assert add.annotations is not None and add.annotations.destructive_hint is False
    for name in ("list_groups", "list_group_contacts", "search_sms"):
        annotations = tools[name].annotations
        assert annotations is not None and annotations.read_only_hint is True
    filters = set(FILTER_FIELDS) - {"is_sent"}
    assert filters <= set(cancel.input_schema["properties"]), "every LOX24 filter selects what to cancel"
    assert not {"order_by", "order"} & set(cancel.input_schema["properties"]), "ordering changes no cancel"
