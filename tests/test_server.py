"""The MCP server end to end: the official `mcp.Client` in memory, in both protocol eras, over the sandbox."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest
from conftest import data_of, text_of
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.client.session import ElicitationFnT
from mcp.server import MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import (
    ElicitRequestFormParams,
    ElicitRequestParams,
    ElicitResult,
    ErrorData,
    PromptReference,
    TextContent,
)
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.lox24.models import FILTER_FIELDS, SmsFilters
from lox24_mcp.mcp.app import AppState, create_server
from lox24_mcp.mcp.schema import publish_input
from lox24_mcp.mcp.tools import build_tools
from lox24_mcp.ops.cancel import cancel_scope
from lox24_mcp.ops.confirm import TokenSigner
from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer

pytestmark = pytest.mark.anyio

MODES = ["2026-07-28", "legacy"]
SECRET = "server-test-secret-0123456789abcdef"
SNAPSHOT = Path(__file__).parent / "snapshots" / "tools.json"


def make_server(sandbox: SandboxServer, **overrides: Any) -> MCPServer[AppState]:
    settings = Settings(api_token=SecretStr(DEMO_TOKEN), base_url=sandbox.url, secret=SecretStr(SECRET), **overrides)
    return create_server(settings, sandbox=True)


def schedule(sandbox: SandboxServer, count: int, *, tag: str = "spring-sale", iso2: str = "DE") -> list[str]:
    """`count` pending SMS created a minute ago, plus one already-sent SMS with the same tag."""
    now = int(time.time())
    uuids = [
        sandbox.state.add_sms(
            phone=f"+49151{1234000 + i}",
            text=f"Spring sale {i}: 20% off",
            delivery_at=now + 86_400,
            iso2=iso2,
            callback_data=tag,
            created_at=now - 60,
        )["uuid"]
        for i in range(count)
    ]
    sandbox.state.add_sms(phone="+4915199999999", text="sent already", callback_data=tag, created_at=now - 3600)
    return uuids


def statuses(sandbox: SandboxServer, uuids: list[str]) -> list[int]:
    return [sandbox.state.sms(u)["status_code"] for u in uuids]


def posts(sandbox: SandboxServer) -> list[str]:
    return [r.path for r in sandbox.state.requests if r.method == "POST"]


def elicit(
    action: Literal["accept", "decline", "cancel"], confirm: bool = True, seen: list[str] | None = None
) -> ElicitationFnT:
    async def callback(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        del context
        assert isinstance(params, ElicitRequestFormParams)
        if seen is not None:
            seen.append(params.message)
        if action == "accept":
            return ElicitResult(action="accept", content={"confirm": confirm})
        return ElicitResult(action=action)

    return callback


# --------------------------------------------------------------------------- schema


def _tools_json(tools: list[Any]) -> list[dict[str, Any]]:
    return [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools]


async def test_tool_schemas_match_the_committed_snapshot(empty_sandbox: SandboxServer) -> None:
    async with Client(make_server(empty_sandbox)) as client:
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
    empty_sandbox: SandboxServer,
) -> None:
    async with Client(make_server(empty_sandbox)) as client:
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


# --------------------------------------------------------------------------- cancel: refusals


@pytest.mark.parametrize("mode", MODES)
async def test_cancel_without_any_filter_is_refused_and_sends_nothing(empty_sandbox: SandboxServer, mode: str) -> None:
    schedule(empty_sandbox, 2)
    empty_sandbox.state.reset_requests()
    async with Client(make_server(empty_sandbox), mode=mode, elicitation_callback=elicit("accept")) as client:
        result = await client.call_tool("cancel_pending_sms", {})
    assert result.is_error
    assert "No filter given" in text_of(result) and "cancel_all_pending" in text_of(result)
    assert empty_sandbox.state.requests == []


async def test_cancel_all_pending_still_needs_confirmation(empty_sandbox: SandboxServer) -> None:
    uuids = schedule(empty_sandbox, 3)
    async with Client(make_server(empty_sandbox)) as client:
        preview = data_of(await client.call_tool("cancel_pending_sms", {"cancel_all_pending": True}))
        assert preview["status"] == "confirmation_required" and preview["matched"] == 3
        assert statuses(empty_sandbox, uuids) == [0, 0, 0]
        done = data_of(
            await client.call_tool(
                "cancel_pending_sms", {"cancel_all_pending": True, "confirmation_token": preview["confirmation_token"]}
            )
        )
    assert done["status"] == "cancelled" and done["cancelled"] == 3
    assert statuses(empty_sandbox, uuids) == [6000, 6000, 6000]


async def test_invalid_filter_values_are_rejected_before_anything_is_sent(empty_sandbox: SandboxServer) -> None:
    async with Client(make_server(empty_sandbox)) as client:
        for bad in ({"iso2": "ZZ"}, {"dlr_code": 3}, {"created_at": "yesterday"}, {"uuid": "nope"}, {"x": 1}):
            result = await client.call_tool("cancel_pending_sms", bad)
            assert result.is_error, bad
    assert empty_sandbox.state.requests == []


# --------------------------------------------------------------------------- cancel: token flow


@pytest.mark.parametrize("mode", MODES)
async def test_preview_then_token_cancels_exactly_the_previewed_sms(empty_sandbox: SandboxServer, mode: str) -> None:
    uuids = schedule(empty_sandbox, 4)
    other = schedule(empty_sandbox, 2, tag="other-campaign")
    async with Client(make_server(empty_sandbox), mode=mode) as client:
        preview = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"}))
        assert preview["status"] == "confirmation_required"
        assert preview["matched"] == 4 and preview["cancelled"] == 0 and preview["sandbox"] is True
        assert len(preview["sample"]) == 4
        assert all("•" in s["phone"] for s in preview["sample"]), "phones in previews are masked"
        assert preview["expires_at"] > time.time()
        assert "/sms/ops/batch_cancel" not in posts(empty_sandbox)
        result = data_of(
            await client.call_tool(
                "cancel_pending_sms",
                {"callback_data": "spring-sale", "confirmation_token": preview["confirmation_token"]},
            )
        )
    assert result["status"] == "cancelled" and result["cancelled"] == 4 and result["matched"] == 4
    assert statuses(empty_sandbox, uuids) == [6000] * 4
    assert statuses(empty_sandbox, other) == [0, 0]
    sent = [s for s in empty_sandbox.state.all_sms() if s["is_sent"]]
    assert sent and all(s["status_code"] == 100 for s in sent), "sent SMS are never touched"


async def test_the_cancel_request_is_bounded_to_pending_sms_created_before_the_preview(
    empty_sandbox: SandboxServer,
) -> None:
    schedule(empty_sandbox, 2)
    async with Client(make_server(empty_sandbox)) as client:
        preview = data_of(await client.call_tool("cancel_pending_sms", {"iso2": "DE"}))
        late = empty_sandbox.state.add_sms(
            phone="+4915187654321",
            text="scheduled after the preview",
            delivery_at=int(time.time()) + 86_400,
            iso2="DE",
            created_at=int(time.time()) + 5,
        )
        result = data_of(
            await client.call_tool(
                "cancel_pending_sms", {"iso2": "DE", "confirmation_token": preview["confirmation_token"]}
            )
        )
    assert result["cancelled"] == 2
    assert empty_sandbox.state.sms(late["uuid"])["status_code"] == 0, "an SMS created after the preview survives"
    cancel = [r for r in empty_sandbox.state.requests if r.path == "/sms/ops/batch_cancel"][-1]
    assert "is_sent=0" in cancel.query and "status_code=0" in cancel.query
    assert re.search(r"created_at(%5B|\[)lt(%5D|\])=\d+", cancel.query)


async def test_a_token_for_other_filters_is_refused_and_nothing_is_cancelled(empty_sandbox: SandboxServer) -> None:
    uuids = schedule(empty_sandbox, 2)
    async with Client(make_server(empty_sandbox)) as client:
        preview = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"}))
        token = preview["confirmation_token"]
        for args in (
            {"iso2": "DE", "confirmation_token": token},
            {"callback_data": "spring-sale", "iso2": "DE", "confirmation_token": token},
            {"callback_data": "spring-sale", "cancel_all_pending": True, "confirmation_token": token},
        ):
            result = await client.call_tool("cancel_pending_sms", args)
            assert result.is_error and "different filters" in text_of(result), args
    assert "/sms/ops/batch_cancel" not in posts(empty_sandbox)
    assert statuses(empty_sandbox, uuids) == [0, 0]


async def test_the_same_selection_written_differently_accepts_the_token(empty_sandbox: SandboxServer) -> None:
    schedule(empty_sandbox, 2)
    async with Client(make_server(empty_sandbox)) as client:
        preview = data_of(await client.call_tool("cancel_pending_sms", {"iso2": ["AT", "DE", "DE"]}))
        result = data_of(
            await client.call_tool(
                "cancel_pending_sms", {"iso2": ["de", "at"], "confirmation_token": preview["confirmation_token"]}
            )
        )
    assert result["status"] == "cancelled" and result["cancelled"] == 2


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"),
        lambda t: t[: len(t) // 2],
        lambda t: "c1.e30." + t.split(".")[2],
        lambda _t: "",
        lambda _t: "not-a-token",
        lambda t: t + "." + t,
    ],
    ids=["tampered-mac", "truncated", "swapped-payload", "empty", "garbage", "doubled"],
)
async def test_forged_tokens_are_refused(empty_sandbox: SandboxServer, forge: Callable[[str], str]) -> None:
    uuids = schedule(empty_sandbox, 1)
    async with Client(make_server(empty_sandbox)) as client:
        preview = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"}))
        forged = forge(preview["confirmation_token"])
        result = await client.call_tool(
            "cancel_pending_sms", {"callback_data": "spring-sale", "confirmation_token": forged}
        )
    if forged == "":
        # An empty token counts as no token: a fresh preview, never a cancel.
        assert data_of(result)["status"] == "confirmation_required"
    else:
        assert result.is_error and "Nothing was cancelled" in text_of(result)
    assert "/sms/ops/batch_cancel" not in posts(empty_sandbox)
    assert statuses(empty_sandbox, uuids) == [0]


async def test_expired_tokens_and_tokens_from_another_secret_are_refused(empty_sandbox: SandboxServer) -> None:
    uuids = schedule(empty_sandbox, 1)
    filters = SmsFilters(callback_data="spring-sale")
    scope = cancel_scope(
        account_id=DEMO_TOKEN.split(":")[0], base_url=empty_sandbox.url, filters=filters, cancel_all_pending=False
    )
    now = int(time.time())
    expired, _ = TokenSigner(SECRET.encode(), ttl=600).mint(scope=scope, preview_time=now - 601, matched=1)
    foreign, _ = TokenSigner(b"another-secret-0123456789abcdef", ttl=600).mint(scope=scope, preview_time=now, matched=1)
    valid, _ = TokenSigner(SECRET.encode(), ttl=600).mint(scope=scope, preview_time=now, matched=1)
    async with Client(make_server(empty_sandbox)) as client:
        for token, reason in ((expired, "expired"), (foreign, "different filters")):
            result = await client.call_tool(
                "cancel_pending_sms", {"callback_data": "spring-sale", "confirmation_token": token}
            )
            assert result.is_error and reason in text_of(result)
        assert statuses(empty_sandbox, uuids) == [0]
        ok = data_of(
            await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale", "confirmation_token": valid})
        )
    assert ok["status"] == "cancelled", "the control token, minted the same way, works"


async def test_nothing_to_cancel_sends_no_cancel(empty_sandbox: SandboxServer) -> None:
    schedule(empty_sandbox, 2)
    async with Client(make_server(empty_sandbox)) as client:
        result = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "no-such-campaign"}))
    assert result["status"] == "nothing_to_cancel" and result["matched"] == 0
    assert result["confirmation_token"] is None
    assert "/sms/ops/batch_cancel" not in posts(empty_sandbox)


# --------------------------------------------------------------------------- cancel: elicitation


@pytest.mark.parametrize("mode", MODES)
async def test_elicitation_yes_cancels_in_the_same_call(empty_sandbox: SandboxServer, mode: str) -> None:
    uuids = schedule(empty_sandbox, 3)
    seen: list[str] = []
    async with Client(
        make_server(empty_sandbox), mode=mode, elicitation_callback=elicit("accept", True, seen)
    ) as client:
        result = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"}))
    assert result["status"] == "cancelled" and result["cancelled"] == 3
    assert len(seen) == 1, "asked exactly once"
    assert seen[0].startswith('Cancel 3 scheduled SMS matching callback_data="spring-sale" (the newest created ')
    assert "cannot be undone" in seen[0] and "By country: DE: 3." in seen[0] and "+49" not in seen[0]
    assert statuses(empty_sandbox, uuids) == [6000] * 3
    assert posts(empty_sandbox).count("/sms/ops/batch_cancel") == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("action", "confirm"), [("decline", True), ("cancel", True), ("accept", False)])
async def test_elicitation_decline_cancel_or_no_cancels_nothing(
    empty_sandbox: SandboxServer, mode: str, action: Literal["accept", "decline", "cancel"], confirm: bool
) -> None:
    uuids = schedule(empty_sandbox, 2)
    async with Client(make_server(empty_sandbox), mode=mode, elicitation_callback=elicit(action, confirm)) as client:
        result = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"}))
    assert result["status"] == "declined" and result["cancelled"] == 0 and result["matched"] == 2
    assert "/sms/ops/batch_cancel" not in posts(empty_sandbox)
    assert statuses(empty_sandbox, uuids) == [0, 0]


async def test_confirm_policy_elicit_refuses_clients_without_elicitation(empty_sandbox: SandboxServer) -> None:
    uuids = schedule(empty_sandbox, 1)
    async with Client(make_server(empty_sandbox, confirm="elicit")) as client:
        result = await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"})
    assert result.is_error and "LOX24_MCP_CONFIRM=elicit" in text_of(result)
    assert statuses(empty_sandbox, uuids) == [0]


async def test_confirm_policy_token_uses_the_token_flow_even_when_the_client_can_elicit(
    empty_sandbox: SandboxServer,
) -> None:
    schedule(empty_sandbox, 1)
    seen: list[str] = []
    async with Client(
        make_server(empty_sandbox, confirm="token"), elicitation_callback=elicit("accept", True, seen)
    ) as client:
        result = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"}))
    assert result["status"] == "confirmation_required" and seen == []


async def test_confirm_policy_off_cancels_without_asking(empty_sandbox: SandboxServer) -> None:
    uuids = schedule(empty_sandbox, 2)
    async with Client(make_server(empty_sandbox, confirm="off")) as client:
        result = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"}))
    assert result["status"] == "cancelled" and result["cancelled"] == 2
    assert statuses(empty_sandbox, uuids) == [6000, 6000]


# --------------------------------------------------------------------------- add_phones_to_group


async def test_import_normalises_dedupes_and_accounts_for_every_entry(empty_sandbox: SandboxServer) -> None:
    group = empty_sandbox.state.add_group("VIP customers")
    empty_sandbox.state.add_group("Other")
    phones: list[dict[str, Any]] = [
        {"phone": "+4915112345678", "a": "Frau", "b": "Müller"},  # 0 created
        {"phone": "0151 1234 5679", "callback_data": "import-1"},  # 1 national → +4915112345679
        {"phone": "not a number"},  # 2 invalid
        {"phone": "+49 151 12345678"},  # 3 duplicate of 0
        {"phone": "0043 664 1234567"},  # 4 00-prefix → +436641234567
        {"phone": "12"},  # 5 invalid
    ]
    async with Client(make_server(empty_sandbox)) as client:
        first = data_of(
            await client.call_tool("add_phones_to_group", {"group_id": group, "phones": phones, "default_region": "DE"})
        )
        again = data_of(
            await client.call_tool("add_phones_to_group", {"group_id": group, "phones": [{"phone": "+4915112345678"}]})
        )
    assert (first["requested"], first["created"], first["invalid"], first["duplicates"]) == (6, 3, 2, 1)
    assert first["rejected"] == 0 and first["unknown"] == 0
    assert [(p["index"], p["outcome"]) for p in first["problems"]] == [(2, "invalid"), (3, "duplicate"), (5, "invalid")]
    assert "entry 0" in first["problems"][1]["reason"]
    stored = {p["phone"]: p for p in empty_sandbox.state.group_phones(group)}
    assert set(stored) == {"+4915112345678", "+4915112345679", "+436641234567"}
    assert stored["+4915112345678"]["b"] == "Müller" and stored["+4915112345679"]["callback_data"] == "import-1"
    assert (again["created"], again["already_in_group"], again["rejected"]) == (0, 1, 0), "checked, not sent"
    assert again["problems"] == [] and again["contacts"] == [
        "+4915112345678 → +4915112345678: already in the group, not sent"
    ]


async def test_import_reports_progress_per_chunk_and_keeps_the_result_small(empty_sandbox: SandboxServer) -> None:
    group = empty_sandbox.state.add_group("Newsletter")
    phones = [{"phone": f"+49151{20000000 + i}"} for i in range(1200)] + [{"phone": "bad"}] * 60
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with Client(make_server(empty_sandbox)) as client:
        result = await client.call_tool(
            "add_phones_to_group", {"group_id": group, "phones": phones}, progress_callback=on_progress
        )
    data = data_of(result)
    assert data["created"] == 1200 and data["invalid"] == 60 and data["requested"] == 1260
    assert len(data["problems"]) == 50 and data["problems_total"] == 60
    assert len(text_of(result)) < 8000
    batches = [r for r in empty_sandbox.state.requests if r.path.endswith("/phones/batch")]
    assert len(batches) == 3, "1200 valid contacts go out in chunks of 500"
    progress = [p for p, _, _ in seen]
    assert progress == sorted(progress) and progress[-1] == 1260 and len(seen) >= 3
    assert all(total == 1260 for _, total, _ in seen)


async def test_import_into_an_unknown_group_names_the_group_and_points_to_list_groups(
    empty_sandbox: SandboxServer,
) -> None:
    async with Client(make_server(empty_sandbox)) as client:
        result = await client.call_tool(
            "add_phones_to_group", {"group_id": 424242, "phones": [{"phone": "+4915112345678"}]}
        )
    assert result.is_error
    assert "424242" in text_of(result) and "list_groups" in text_of(result) and "HTTP 404" in text_of(result)


async def test_import_rejects_unknown_phone_fields_before_sending(empty_sandbox: SandboxServer) -> None:
    group = empty_sandbox.state.add_group("VIP")
    empty_sandbox.state.reset_requests()
    async with Client(make_server(empty_sandbox)) as client:
        result = await client.call_tool(
            "add_phones_to_group", {"group_id": group, "phones": [{"phone": "+4915112345678", "email": "x@y.z"}]}
        )
    assert result.is_error and "email" in text_of(result)
    assert empty_sandbox.state.requests == []


# --------------------------------------------------------------------------- read-only tools, errors, prompts


async def test_list_groups_and_search_sms_read_the_sandbox(sandbox: SandboxServer) -> None:
    async with Client(make_server(sandbox)) as client:
        groups = data_of(await client.call_tool("list_groups", {}))
        found = data_of(await client.call_tool("search_sms", {"is_sent": False, "callback_data": "spring-sale"}))
        full = data_of(await client.call_tool("search_sms", {"callback_data": "spring-sale", "show_full_phone": True}))
    names = {g["name"] for g in groups["groups"]}
    assert {"VIP customers", "Newsletter"} <= names and groups["sandbox"] is True
    assert found["total"] == len(found["items"]) > 0
    assert all("•" in item["phone"] for item in found["items"])
    assert all(re.fullmatch(r"\+\d+", item["phone"]) for item in full["items"])


async def test_lox24_errors_reach_the_model_as_actionable_tool_errors(empty_sandbox: SandboxServer) -> None:
    settings = Settings(api_token=SecretStr("1000001:wrong-key"), base_url=empty_sandbox.url)
    async with Client(create_server(settings)) as client:
        result = await client.call_tool("list_groups", {})
        again = await client.call_tool("search_sms", {"iso2": "DE"})
    assert result.is_error
    text = text_of(result)
    assert "HTTP 401" in text and "LOX24 request id" in text and "LOX24_API_TOKEN" in text
    assert "wrong-key" not in text
    assert again.is_error and "no further calls" in text_of(again)
    assert len(empty_sandbox.state.requests) == 1, "the cool-down keeps the second call off the wire"


async def test_prompts_are_listed_rendered_and_group_names_complete(sandbox: SandboxServer) -> None:
    async with Client(make_server(sandbox)) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert {"cancel_campaign", "import_contacts", "review_scheduled"} <= set(prompts)
        rendered = await client.get_prompt("cancel_campaign", {"campaign": "spring-sale"})
        content = rendered.messages[0].content
        assert isinstance(content, TextContent) and 'callback_data="spring-sale"' in content.text
        completion = await client.complete(
            ref=PromptReference(type="ref/prompt", name="import_contacts"), argument={"name": "group", "value": "vi"}
        )
    assert completion.completion.values == ["VIP customers"]


async def test_logging_set_level_is_answered_for_2025_clients(empty_sandbox: SandboxServer) -> None:
    package_logger = logging.getLogger("lox24_mcp")
    before = package_logger.level
    try:
        async with Client(make_server(empty_sandbox), mode="legacy") as client:
            assert client.server_capabilities.logging is not None
            with pytest.warns(MCPDeprecationWarning):
                await client.set_logging_level("debug")
            assert package_logger.level == before, "one client cannot change every session's stderr logging"
            tools = await client.list_tools()
        assert tools.tools, "the session keeps working after setLevel"
    finally:
        package_logger.setLevel(before)
