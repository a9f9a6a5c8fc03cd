"""cancel_pending_sms never presents an unknown outcome as a count, and never shows a page size as a total."""

from __future__ import annotations

import pytest
from mcp import Client
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.mcp.app import create_server
from lox24_mcp.ops import cancel as cancel_ops
from lox24_mcp.sandbox import DEMO_TOKEN, Faults, SandboxServer, SandboxState
from tests.helpers import data_of, schedule_pending, text_of

pytestmark = pytest.mark.anyio

SECRET = "outcome-test-secret-0123456789abcdef"
CANCEL_PATH = "/sms/ops/batch_cancel"


def schedule(state: SandboxState, count: int, tag: str) -> list[str]:
    return schedule_pending(state, count, tag, first_phone=42000000)


def server_for(sandbox: SandboxServer) -> Client:
    settings = Settings(api_token=SecretStr(DEMO_TOKEN), base_url=sandbox.url, secret=SecretStr(SECRET))
    return Client(create_server(settings, sandbox=True))


async def test_a_cancel_done_but_answered_502_is_reported_unknown_never_as_a_count() -> None:
    state = SandboxState(seed_demo_data=False)
    uuids = schedule(state, 4, "gw")
    with SandboxServer(state) as sandbox:
        async with server_for(sandbox) as client:
            preview = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "gw"}))
            state.faults = Faults(after_rate=1.0, after_status=502, only_paths=(CANCEL_PATH,))
            result = await client.call_tool(
                "cancel_pending_sms", {"callback_data": "gw", "confirmation_token": preview["confirmation_token"]}
            )
        assert result.is_error and result.structured_content is None
        text = text_of(result)
        assert "HTTP 502" in text and "may have cancelled" in text and "search_sms" in text
        assert "cancelled 0" not in text and "LOX24 cancelled" not in text
        assert [r.status for r in state.requests if r.path == CANCEL_PATH] == [502], "sent once, never resent"
        assert {state.sms(u)["status_code"] for u in uuids} == {6000}, "the sandbox really did the work"


async def test_without_a_total_the_preview_counts_every_page_and_the_cancel_hits_exactly_that() -> None:
    state = SandboxState(seed_demo_data=False, omit_totals=True, page_size=7)
    uuids = schedule(state, 23, "nt")
    with SandboxServer(state) as sandbox:
        async with server_for(sandbox) as client:
            preview = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "nt"}))
            assert preview["matched"] == 23, "the real count, not the page size (7)"
            done = data_of(
                await client.call_tool(
                    "cancel_pending_sms", {"callback_data": "nt", "confirmation_token": preview["confirmation_token"]}
                )
            )
        assert done["cancelled"] == 23
        assert {state.sms(u)["status_code"] for u in uuids} == {6000}


async def test_without_a_total_and_more_than_can_be_counted_the_cancel_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cancel_ops, "MAX_COUNTED", 10)
    state = SandboxState(seed_demo_data=False, omit_totals=True, page_size=5)
    uuids = schedule(state, 17, "many")
    with SandboxServer(state) as sandbox:
        async with server_for(sandbox) as client:
            result = await client.call_tool("cancel_pending_sms", {"callback_data": "many"})
        assert result.is_error
        assert "at least 10" in text_of(result) and "Nothing was cancelled" in text_of(result)
        assert not [r for r in state.requests if r.method == "POST"]
        assert {state.sms(u)["status_code"] for u in uuids} == {0}


async def test_search_without_a_total_says_so_instead_of_guessing() -> None:
    state = SandboxState(seed_demo_data=False, omit_totals=True, page_size=5)
    schedule(state, 12, "s")
    with SandboxServer(state) as sandbox:
        async with server_for(sandbox) as client:
            found = data_of(await client.call_tool("search_sms", {"callback_data": "s"}))
    assert found["total"] is None and len(found["items"]) == 5
