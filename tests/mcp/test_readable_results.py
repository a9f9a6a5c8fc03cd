"""Results a person and a model can read, through the official client over the sandbox's demo data.

Local times with weekday and offset, status words, one meaning of "pending", paging that says whether
there is more, phone filters in any notation, masked numbers, and previews that summarise.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import data_of, text_of
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.server import MCPServer
from mcp.types import ElicitRequestParams, ElicitResult
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.lox24.times import format_local, short_local
from lox24_mcp.mcp.app import AppState, create_server
from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer, SandboxState

pytestmark = pytest.mark.anyio

BERLIN = ZoneInfo("Europe/Berlin")


def server_for(sandbox: SandboxServer, **overrides: Any) -> MCPServer[AppState]:
    settings = Settings(
        api_token=SecretStr(DEMO_TOKEN),
        base_url=sandbox.url,
        timezone="Europe/Berlin",
        secret=SecretStr("readable-results-secret-0123456789"),
        **overrides,
    )
    return create_server(settings, sandbox=True)


def tomorrow() -> str:
    return (datetime.now(BERLIN).date() + timedelta(days=1)).isoformat()


@pytest.fixture
def small_pages() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxState(page_size=5)) as server:
        yield server


async def call(server: MCPServer[AppState], tool: str, args: dict[str, Any]) -> dict[str, Any]:
    async with Client(server) as client:
        return data_of(await client.call_tool(tool, args))


# ----------------------------------------------------------------------------- search: times, statuses, paging


async def test_tomorrows_scheduled_sms_read_in_local_time_with_status_and_country(sandbox: SandboxServer) -> None:
    found = await call(server_for(sandbox), "search_sms", {"pending": True, "delivery_at": tomorrow()})
    assert found["total"] == 9
    day = datetime.fromisoformat(tomorrow())
    nine = int(day.replace(hour=9, tzinfo=BERLIN).timestamp())
    first = next(item for item in found["items"] if item["delivery_at"] == nine)
    assert first["delivery_local"] == format_local(nine, zone=BERLIN)
    assert first["delivery_local"].endswith(("09:00 +01:00", "09:00 +02:00"))
    assert {item["status"] for item in found["items"]} == {"scheduled"}
    assert {item["sent_local"] for item in found["items"]} == {"not sent"}
    assert {item["iso2"] for item in found["items"]} == {"DE", "AT", "CH", "FR", "ES"}
    now = datetime.strptime(found["now"][4:], "%Y-%m-%d %H:%M %z")
    assert abs(now.timestamp() - time.time()) < 120
    assert (
        f"delivery_at={format_local(int(day.replace(tzinfo=BERLIN).timestamp()), zone=BERLIN)[:14]} (whole day)"
        in (found["message"])
    )


async def test_sent_and_cancelled_sms_say_so_in_words(sandbox: SandboxServer) -> None:
    sent = await call(server_for(sandbox), "search_sms", {"callback_data": "otp"})
    assert [(i["status"], i["status_code"]) for i in sent["items"]] == [("delivered", 100)]
    assert sent["items"][0]["sent_local"] != "not sent" and sent["items"][0]["delivery_local"] == "immediately"
    stopped = await call(server_for(sandbox), "search_sms", {"status_code": 6000})
    assert [i["status"] for i in stopped["items"]] == ["cancelled"]


async def test_pending_means_exactly_what_the_cancel_preview_counts(sandbox: SandboxServer) -> None:
    server = server_for(sandbox)
    not_sent = await call(server, "search_sms", {"is_sent": False})
    pending = await call(server, "search_sms", {"pending": True})
    preview = await call(server, "cancel_pending_sms", {"cancel_all_pending": True})
    assert not_sent["total"] == 13, "includes the SMS cancelled yesterday"
    assert pending["total"] == preview["matched"] == 12


async def test_pending_with_a_contradicting_filter_is_one_clear_error(sandbox: SandboxServer) -> None:
    async with Client(server_for(sandbox)) as client:
        result = await client.call_tool("search_sms", {"pending": True, "is_sent": True})
    assert result.is_error and "pending=true means not sent and status_code 0" in text_of(result)


async def test_pages_say_their_size_and_whether_more_follow(small_pages: SandboxServer) -> None:
    server = server_for(small_pages)
    first = await call(server, "search_sms", {})
    last = await call(server, "search_sms", {"page": 4})
    beyond = await call(server, "search_sms", {"page": 5})
    assert (first["total"], first["page"], first["page_size"], first["has_more"]) == (19, 1, 5, True)
    assert "(items 1-5; more on page 2)" in first["message"]
    assert (last["page_size"], last["has_more"], len(last["items"])) == (5, False, 4)
    assert "(items 16-19)" in last["message"]
    assert (beyond["has_more"], beyond["items"]) == (False, [])


# ----------------------------------------------------------------------------- phone filters and masking


@pytest.mark.parametrize(
    "args",
    [
        {"phone": "+49 151 0000 1001"},
        {"phone": "0049 (151) 0000-1001"},
        {"phone": "0151 0000 1001", "default_region": "DE"},
        {"phone": "+4915100001001"},
    ],
)
async def test_a_whole_number_in_any_notation_finds_the_stored_e164_number(
    sandbox: SandboxServer, args: dict[str, Any]
) -> None:
    found = await call(server_for(sandbox), "search_sms", {**args, "show_full_phone": True})
    assert found["total"] == 1
    assert [item["phone"] for item in found["items"]] == ["+4915100001001"]
    assert "phone=+4915100001001" in found["message"]


async def test_a_partial_number_says_it_matches_many_numbers(sandbox: SandboxServer) -> None:
    found = await call(server_for(sandbox), "search_sms", {"phone": "+49 151"})
    assert found["total"] == 9
    assert "phone '+49151' is part of a number: it matched 9 SMS to 9 different numbers" in found["message"]


async def test_a_national_number_without_region_says_what_to_add(sandbox: SandboxServer) -> None:
    found = await call(server_for(sandbox), "search_sms", {"phone": "0151 0000 1001"})
    assert found["total"] == 0
    assert "looks written nationally" in found["message"] and "default_region" in found["message"]


async def test_numbers_are_masked_unless_asked_for_in_search_and_cancel_alike(sandbox: SandboxServer) -> None:
    server = server_for(sandbox)
    search = await call(server, "search_sms", {"callback_data": "reminder"})
    preview = await call(server, "cancel_pending_sms", {"callback_data": "reminder"})
    full = await call(server, "cancel_pending_sms", {"callback_data": "reminder", "show_full_phone": True})
    assert search["items"][0]["phone"] == preview["sample"][0]["phone"] == "+49151•••••002"
    assert full["sample"][0]["phone"] == "+4915100003002"


# ----------------------------------------------------------------------------- previews that summarise


async def test_the_token_preview_summarises_everything_and_names_look_alikes(sandbox: SandboxServer) -> None:
    preview = await call(server_for(sandbox), "cancel_pending_sms", {"callback_data": "reminder"})
    assert preview["status"] == "confirmation_required" and preview["matched"] == 1
    assert preview["left_out"] == ["1 more pending SMS with the same text is not included (no callback_data)"]
    assert preview["summary"]["by"]["callback_data"] == {"reminder": 1}
    assert preview["summary"]["counted"] == 1 and preview["summary"]["partial"] is False
    assert "Note: 1 more pending SMS with the same text is not included (no callback_data)." in preview["message"]
    assert "(sample: 1 of 1 shown)" in preview["message"]
    assert preview["expires_local"] == format_local(preview["expires_at"], zone=BERLIN)
    until = short_local(preview["expires_at"], zone=BERLIN)
    assert until.endswith("Europe/Berlin time")
    assert f"(valid until {until})" in preview["message"]
    assert "UTC" not in preview["message"]


async def test_a_large_preview_counts_by_day_country_and_text_and_shows_a_sample_of_it(sandbox: SandboxServer) -> None:
    preview = await call(server_for(sandbox), "cancel_pending_sms", {"cancel_all_pending": True})
    by = preview["summary"]["by"]
    assert sum(by["day"].values()) == 12 and len(by["day"]) == 2
    assert by["country"] == {"DE": 5, "AT": 2, "CH": 2, "FR": 2, "ES": 1}
    assert next(iter(by["text"].items()))[1] == 5
    assert len(preview["sample"]) == 5 and "(sample: 5 of 12 shown)" in preview["message"]
    assert preview["summary"]["span"].startswith("from ") and " to " in preview["summary"]["span"]


async def test_the_dialog_summarises_names_look_alikes_and_is_asked_once(sandbox: SandboxServer) -> None:
    seen: list[str] = []

    async def answer(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        del context
        seen.append(params.message)
        return ElicitResult(action="decline")

    async with Client(server_for(sandbox), mode="2026-07-28", elicitation_callback=answer) as client:
        result = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": "reminder"}))
    assert result["status"] == "declined"
    assert len(seen) == 1
    lines = seen[0].splitlines()
    assert lines[0].startswith('Cancel 1 scheduled SMS matching callback_data="reminder" (the newest created ')
    assert "1 more pending SMS with the same text is not included (no callback_data)" in lines
    assert lines[-1] == "They will not be sent. This cannot be undone."
    assert len(lines) <= 8


async def test_no_tool_description_or_schema_names_a_fixed_calendar_date(sandbox: SandboxServer) -> None:
    async with Client(server_for(sandbox)) as client:
        listing = (await client.list_tools()).tools
    for tool in listing:
        text = json.dumps(tool.model_dump(mode="json"), ensure_ascii=False)
        assert re.search(r"\b(19|20)\d\d-\d\d-\d\d", text) is None, tool.name


async def test_a_cancel_by_part_of_a_number_says_how_many_numbers_it_covers(sandbox: SandboxServer) -> None:
    preview = await call(server_for(sandbox), "cancel_pending_sms", {"phone": "+43 664"})
    assert preview["matched"] == 2
    assert "Note: phone '+43664' is part of a number: it matched 2 SMS to 2 different numbers." in preview["message"]
