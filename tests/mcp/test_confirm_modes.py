"""Who confirms a cancel, per policy and per client, in both protocol eras, with the audit line of each path.

The official `mcp.Client` in memory against the real server over the sandbox API. A client declares
the UI extension (`advertise`), elicitation (an `elicitation_callback`), both, or neither.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

import pytest
from mcp import Client
from mcp.client import ClientRequestContext, advertise
from mcp.client.session import ElicitationFnT
from mcp.server import MCPServer
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult, ErrorData
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.lox24.models import SmsFilters
from lox24_mcp.mcp.app import AppState, create_server
from lox24_mcp.mcp.card import CARD_PROMPT, CARD_URI, CONFIRM_TOOL, META_KEY
from lox24_mcp.ops.cancel import cancel_scope
from lox24_mcp.ops.card import mint_card_secret
from lox24_mcp.ops.confirm import TokenSigner
from lox24_mcp.sandbox import DEMO_TOKEN, Faults, SandboxServer
from tests.helpers import data_of, schedule_pending, text_of

pytestmark = pytest.mark.anyio

MODES = ["2026-07-28", "legacy"]
SECRET = "modes-test-secret-0123456789abcdef"
TAG = {"callback_data": "modes"}
UI = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})


def make_server(sandbox: SandboxServer, audit: Path, **overrides: Any) -> MCPServer[AppState]:
    settings = Settings(
        api_token=SecretStr(DEMO_TOKEN), base_url=sandbox.url, secret=SecretStr(SECRET), audit_log=audit, **overrides
    )
    return create_server(settings, sandbox=True)


def schedule(sandbox: SandboxServer, count: int = 3) -> list[str]:
    return schedule_pending(sandbox.state, count, "modes", first_phone=5550000)


def pending(sandbox: SandboxServer, uuids: list[str]) -> int:
    return sum(sandbox.state.sms(u)["status_code"] == 0 for u in uuids)


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def answer(action: Literal["accept", "decline"], confirm: bool = True) -> ElicitationFnT:
    async def callback(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        del context, params
        return (
            ElicitResult(action="accept", content={"confirm": confirm})
            if action == "accept"
            else ElicitResult(action=action)
        )

    return callback


def secret_of(result: CallToolResult) -> str:
    """The card's secret, asserting it is where only the card sees it."""
    assert result.meta is not None and result.meta[META_KEY]["tool"] == CONFIRM_TOOL
    secret = result.meta[META_KEY]["secret"]
    assert isinstance(secret, str)
    assert secret not in text_of(result) and secret not in json.dumps(result.structured_content)
    return secret


def valid_token(sandbox: SandboxServer, *, preview_time: int | None = None) -> str:
    """A genuine token for TAG, as the token flow would have minted it (the model may hold one of these)."""
    scope = cancel_scope(
        account_id=DEMO_TOKEN.split(":", 1)[0],
        base_url=sandbox.url,
        filters=SmsFilters(callback_data="modes"),
        cancel_all_pending=False,
    )
    token, _ = TokenSigner(SECRET.encode()).mint(scope=scope, preview_time=preview_time or int(time.time()), matched=3)
    return token


# ----------------------------------------------------------------------------- auto: card, dialog, token


@pytest.mark.parametrize("mode", MODES)
async def test_a_ui_client_without_dialogs_gets_the_card_and_no_usable_token(
    empty_sandbox: SandboxServer, tmp_path: Path, mode: str
) -> None:
    uuids = schedule(empty_sandbox)
    audit = tmp_path / "audit.jsonl"
    async with Client(make_server(empty_sandbox, audit), mode=mode, extensions=[UI]) as client:
        shown = await client.call_tool("cancel_pending_sms", TAG)
        data = data_of(shown)
        assert data["status"] == "confirmation_required" and data["matched"] == 3
        assert data["confirmation_token"] is None and CARD_PROMPT in data["message"]
        secret = secret_of(shown)
        # The model, holding a genuine token from elsewhere, still only gets the card.
        again = await client.call_tool("cancel_pending_sms", {**TAG, "confirmation_token": valid_token(empty_sandbox)})
        assert data_of(again)["status"] == "confirmation_required"
        assert pending(empty_sandbox, uuids) == 3 and audit_lines(audit) == []

        clicked = await client.call_tool(CONFIRM_TOOL, {"confirmation": secret, "decision": "cancel"})
        assert (data_of(clicked)["status"], data_of(clicked)["cancelled"]) == ("cancelled", 3)
        # What the model sees next: search_sms shows the outcome of the user's click.
        found = data_of(await client.call_tool("search_sms", TAG))
        assert found["total"] == 3 and all(item["status_code"] != 0 for item in found["items"])
    assert pending(empty_sandbox, uuids) == 0
    [line] = audit_lines(audit)
    assert (line["confirmation"], line["outcome"], line["cancelled"], line["matched"]) == (
        "app_click",
        "cancelled",
        3,
        3,
    )
    assert line["selection"] == 'callback_data="modes"' and line["request_ids"] and line["client"]
    assert secret not in audit.read_text()


@pytest.mark.parametrize("mode", MODES)
async def test_keep_them_and_a_forged_or_expired_secret_cancel_nothing(
    empty_sandbox: SandboxServer, tmp_path: Path, mode: str
) -> None:
    uuids = schedule(empty_sandbox)
    audit = tmp_path / "audit.jsonl"
    expired, _ = mint_card_secret(
        TokenSigner(SECRET.encode()),
        account_id=DEMO_TOKEN.split(":", 1)[0],
        base_url=empty_sandbox.url,
        filters=SmsFilters(callback_data="modes"),
        cancel_all_pending=False,
        preview_time=int(time.time()) - 3600,
        matched=3,
    )
    async with Client(make_server(empty_sandbox, audit), mode=mode, extensions=[UI]) as client:
        secret = secret_of(await client.call_tool("cancel_pending_sms", TAG))
        kept = await client.call_tool(CONFIRM_TOOL, {"confirmation": secret, "decision": "keep"})
        assert data_of(kept)["status"] == "declined"
        token = valid_token(empty_sandbox)
        for forged in [secret[:-1] + ("A" if secret[-1] != "A" else "B"), secret.split("~")[0] + "~" + token, token]:
            refused = await client.call_tool(CONFIRM_TOOL, {"confirmation": forged, "decision": "cancel"})
            assert refused.is_error and "not valid" in text_of(refused)
        late = await client.call_tool(CONFIRM_TOOL, {"confirmation": expired, "decision": "cancel"})
        assert late.is_error and "expired" in text_of(late)
    assert pending(empty_sandbox, uuids) == 3
    assert [(line["confirmation"], line["outcome"]) for line in audit_lines(audit)] == [
        ("declined", "not_cancelled"),
        ("refused", "not_cancelled"),
        ("refused", "not_cancelled"),
        ("refused", "not_cancelled"),
        ("expired", "not_cancelled"),
    ]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("with_ui", [False, True])
async def test_a_dialog_client_gets_the_dialog_even_if_it_renders_apps(
    empty_sandbox: SandboxServer, tmp_path: Path, mode: str, with_ui: bool
) -> None:
    uuids = schedule(empty_sandbox)
    audit = tmp_path / "audit.jsonl"
    extensions = [UI] if with_ui else []
    server = make_server(empty_sandbox, audit)
    async with Client(server, mode=mode, extensions=extensions, elicitation_callback=answer("decline")) as client:
        declined = await client.call_tool("cancel_pending_sms", TAG)
        assert data_of(declined)["status"] == "declined" and META_KEY not in (declined.meta or {})
    async with Client(server, mode=mode, extensions=extensions, elicitation_callback=answer("accept")) as client:
        done = await client.call_tool("cancel_pending_sms", TAG)
        assert data_of(done)["cancelled"] == 3 and META_KEY not in (done.meta or {})
    assert pending(empty_sandbox, uuids) == 0
    lines = audit_lines(audit)
    assert [(line["confirmation"], line["outcome"]) for line in lines] == [
        ("declined", "not_cancelled"),
        ("dialog", "cancelled"),
    ]
    assert lines[1]["request_ids"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_client_with_neither_gets_the_token_flow_in_auto(
    empty_sandbox: SandboxServer, tmp_path: Path, mode: str
) -> None:
    uuids = schedule(empty_sandbox)
    audit = tmp_path / "audit.jsonl"
    async with Client(make_server(empty_sandbox, audit), mode=mode) as client:
        preview = data_of(await client.call_tool("cancel_pending_sms", TAG))
        assert preview["status"] == "confirmation_required" and preview["confirmation_token"]
        assert CARD_PROMPT not in preview["message"]
        old = valid_token(empty_sandbox, preview_time=int(time.time()) - 3600)
        expired = await client.call_tool("cancel_pending_sms", {**TAG, "confirmation_token": old})
        assert expired.is_error and "expired" in text_of(expired)
        edited = await client.call_tool("cancel_pending_sms", {**TAG, "confirmation_token": old[:-2] + "xx"})
        assert edited.is_error
        done = await client.call_tool(
            "cancel_pending_sms", {**TAG, "confirmation_token": preview["confirmation_token"]}
        )
        assert data_of(done)["cancelled"] == 3
    assert pending(empty_sandbox, uuids) == 0
    lines = audit_lines(audit)
    assert [(line["confirmation"], line["outcome"]) for line in lines] == [
        ("expired", "not_cancelled"),
        ("refused", "not_cancelled"),
        ("token", "cancelled"),
    ]
    assert preview["confirmation_token"] not in audit.read_text()


# ----------------------------------------------------------------------------- human, token, off


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("policy", ["human", "elicit"])
async def test_human_refuses_a_client_with_neither_and_uses_the_card_or_dialog_otherwise(
    empty_sandbox: SandboxServer, tmp_path: Path, mode: str, policy: Literal["human", "elicit"]
) -> None:
    uuids = schedule(empty_sandbox)
    audit = tmp_path / "audit.jsonl"
    server = make_server(empty_sandbox, audit, confirm=policy)
    async with Client(server, mode=mode) as client:
        refused = await client.call_tool(
            "cancel_pending_sms", {**TAG, "confirmation_token": valid_token(empty_sandbox)}
        )
        assert refused.is_error and "neither" in text_of(refused)
    async with Client(server, mode=mode, extensions=[UI]) as client:
        card = await client.call_tool("cancel_pending_sms", TAG)
        secret_of(card)
    assert pending(empty_sandbox, uuids) == 3
    [line] = audit_lines(audit)
    assert (line["confirmation"], line["outcome"], line["matched"]) == ("refused", "not_cancelled", None)


@pytest.mark.parametrize("mode", MODES)
async def test_token_policy_hands_a_ui_client_a_token_and_no_card(
    empty_sandbox: SandboxServer, tmp_path: Path, mode: str
) -> None:
    schedule(empty_sandbox)
    async with Client(
        make_server(empty_sandbox, tmp_path / "a.jsonl", confirm="token"), mode=mode, extensions=[UI]
    ) as client:
        preview = await client.call_tool("cancel_pending_sms", TAG)
    assert data_of(preview)["confirmation_token"] and META_KEY not in (preview.meta or {})


@pytest.mark.parametrize("mode", MODES)
async def test_off_cancels_at_once_and_says_so_in_the_audit(
    empty_sandbox: SandboxServer, tmp_path: Path, mode: str
) -> None:
    uuids = schedule(empty_sandbox)
    audit = tmp_path / "audit.jsonl"
    async with Client(make_server(empty_sandbox, audit, confirm="off"), mode=mode, extensions=[UI]) as client:
        assert data_of(await client.call_tool("cancel_pending_sms", TAG))["cancelled"] == 3
    assert pending(empty_sandbox, uuids) == 0
    [line] = audit_lines(audit)
    assert (line["confirmation"], line["outcome"], line["cancelled"]) == ("policy_off", "cancelled", 3)


# ----------------------------------------------------------------------------- listing and resource


@pytest.mark.parametrize("mode", MODES)
async def test_every_client_gets_the_same_tool_list_and_the_card_resource(
    empty_sandbox: SandboxServer, tmp_path: Path, mode: str
) -> None:
    server = make_server(empty_sandbox, tmp_path / "a.jsonl")
    async with Client(server, mode=mode, extensions=[UI]) as client:
        with_ui = [t.model_dump(mode="json", by_alias=True) for t in (await client.list_tools()).tools]
        content = (await client.read_resource(CARD_URI)).contents[0]
    async with Client(server, mode=mode) as client:
        plain = [t.model_dump(mode="json", by_alias=True) for t in (await client.list_tools()).tools]
    assert with_ui == plain
    tools = {t["name"]: t for t in plain}
    assert tools["cancel_pending_sms"]["_meta"]["ui"] == {"resourceUri": CARD_URI}
    assert tools[CONFIRM_TOOL]["_meta"]["ui"] == {"resourceUri": CARD_URI, "visibility": ["app"]}
    assert content.mime_type == APP_MIME_TYPE and (content.meta or {})["ui"]["csp"] == {}
    assert "Keep them" in getattr(content, "text", "")


def test_an_unwritable_audit_log_stops_the_server_at_start(empty_sandbox: SandboxServer, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        make_server(empty_sandbox, tmp_path / "no-such-dir" / "audit.jsonl")


@pytest.mark.parametrize("mode", MODES)
async def test_a_click_whose_answer_is_lost_is_unknown_in_the_result_and_the_audit(
    empty_sandbox: SandboxServer, tmp_path: Path, mode: str
) -> None:
    uuids = schedule(empty_sandbox)
    audit = tmp_path / "audit.jsonl"
    async with Client(make_server(empty_sandbox, audit), mode=mode, extensions=[UI]) as client:
        secret = secret_of(await client.call_tool("cancel_pending_sms", TAG))
        empty_sandbox.state.faults = Faults(after_rate=1.0, after_status=502, only_paths=("/sms/ops/batch_cancel",))
        clicked = await client.call_tool(CONFIRM_TOOL, {"confirmation": secret, "decision": "cancel"})
    assert clicked.is_error and "may have cancelled" in text_of(clicked) and "search_sms" in text_of(clicked)
    assert pending(empty_sandbox, uuids) == 0, "the sandbox did the work; only the answer was lost"
    [line] = audit_lines(audit)
    assert (line["confirmation"], line["outcome"], line["cancelled"]) == ("app_click", "unknown", None)
    assert line["request_ids"], "LOX24's request id of the lost answer is kept"
