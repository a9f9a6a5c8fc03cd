"""The group tools through the official MCP client over the sandbox: list_groups' column captions,
list_group_contacts (pages, masking, "is this number in the group?"), and add_phones_to_group's
already_in_group, bare-string entries, dry runs and per-contact lines."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import data_of, text_of
from mcp import Client
from mcp.server import MCPServer
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.mcp.app import AppState, create_server
from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer, SandboxState

pytestmark = pytest.mark.anyio


def make_server(sandbox: SandboxServer) -> MCPServer[AppState]:
    return create_server(Settings(api_token=SecretStr(DEMO_TOKEN), base_url=sandbox.url), sandbox=True)


def group_id(sandbox: SandboxServer, name: str) -> int:
    found: int = next(g["id"] for g in sandbox.state.groups() if g["name"] == name)
    return found


async def test_list_groups_shows_what_each_groups_fields_hold(sandbox: SandboxServer) -> None:
    async with Client(make_server(sandbox)) as client:
        groups = {g["name"]: g for g in data_of(await client.call_tool("list_groups", {}))["groups"]}
    assert groups["VIP customers"]["columns"] == {"a": "Anrede", "b": "Nachname", "c": "Status"}
    assert groups["Newsletter"]["columns"] == {"a": "Vorname"}
    assert groups["Staff"]["columns"] == {"a": "Vorname", "b": "Nachname"} and groups["Staff"]["contacts"] == 0


@pytest.mark.parametrize(
    ("phone", "region"),
    [("+49 151 0000 1001", None), ("0049 151 00001001", None), ("0151 00001001", "DE"), ("+49(151)0000-1001", None)],
)
async def test_is_this_number_in_the_group_in_any_notation(
    sandbox: SandboxServer, phone: str, region: str | None
) -> None:
    vip = group_id(sandbox, "VIP customers")
    args: dict[str, Any] = {"group_id": vip, "phone": phone} | ({"default_region": region} if region else {})
    async with Client(make_server(sandbox)) as client:
        data = data_of(await client.call_tool("list_group_contacts", args))
    assert data["found"] is True
    assert data["items"] == [
        {"phone": "+4915100001001", "fields": {"Anrede": "Frau", "Nachname": "Müller", "Status": "Gold"}}
    ]
    assert data["message"] == f"Yes: +4915100001001 is in group {vip} (stored as +4915100001001)."


async def test_a_number_not_in_the_group_is_a_plain_no(sandbox: SandboxServer) -> None:
    vip = group_id(sandbox, "VIP customers")
    async with Client(make_server(sandbox)) as client:
        data = data_of(await client.call_tool("list_group_contacts", {"group_id": vip, "phone": "+43 664 0001 003"}))
    assert (data["found"], data["items"], data["total"]) == (False, [], 4)
    assert data["message"] == f"+436640001003 is not in group {vip} (4 contacts checked)."


async def test_a_number_stored_twice_says_so(sandbox: SandboxServer) -> None:
    vip = group_id(sandbox, "VIP customers")
    sandbox.state.add_phones(vip, [{"phone": "+4915100001001"}])
    async with Client(make_server(sandbox)) as client:
        data = data_of(await client.call_tool("list_group_contacts", {"group_id": vip, "phone": "+4915100001001"}))
    assert len(data["items"]) == 2 and data["message"].endswith("(stored as +4915100001001, 2 times).")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"phone": "not a number"}, ["'not a number' is not a valid number", "Nothing was looked up"]),
        ({"phone": "0151 00001001"}, ["default_region"]),
        ({"phone": "+49151", "page": 0}, ["page"]),
    ],
)
async def test_bad_input_gets_one_sentence_and_no_request(
    sandbox: SandboxServer, args: dict[str, Any], words: list[str]
) -> None:
    vip = group_id(sandbox, "VIP customers")
    sandbox.state.reset_requests()
    async with Client(make_server(sandbox)) as client:
        result = await client.call_tool("list_group_contacts", {"group_id": vip, **args})
    assert result.is_error and all(w in text_of(result) for w in words), text_of(result)
    assert "Traceback" not in text_of(result)
    assert sandbox.state.requests == []


async def test_an_unknown_group_points_to_list_groups(empty_sandbox: SandboxServer) -> None:
    async with Client(make_server(empty_sandbox)) as client:
        result = await client.call_tool("list_group_contacts", {"group_id": 4242})
    assert result.is_error
    assert "no contact group with id 4242 (HTTP 404" in text_of(result) and "list_groups" in text_of(result)


async def test_contacts_come_masked_in_pages_of_fifty() -> None:
    state = SandboxState(seed_demo_data=False)
    group = state.add_group("Big", columns={"a": "Vorname"})
    state.add_phones(group, [{"phone": f"+49151{20000000 + i}", "a": f"P{i}"} for i in range(120)])
    with SandboxServer(state) as server:
        async with Client(make_server(server)) as client:
            pages = [
                data_of(await client.call_tool("list_group_contacts", {"group_id": group, "page": n}))
                for n in (1, 3, 4)
            ]
            full = data_of(
                await client.call_tool("list_group_contacts", {"group_id": group, "page": 3, "show_full_phone": True})
            )
        exports = [r for r in state.requests if r.path.endswith("/file/csv")]
    first, last, past = pages
    assert [(p["page"], p["page_size"], len(p["items"]), p["has_more"], p["total"]) for p in pages] == [
        (1, 50, 50, True, 120),
        (3, 50, 20, False, 120),
        (4, 50, 0, False, 120),
    ]
    assert first["items"][0] == {"phone": "+49151•••••000", "fields": {"Vorname": "P0"}}
    assert all("•" in item["phone"] for item in first["items"] + last["items"])
    assert first["message"] == f"Group {group} has 120 contacts; page 1 of 3 shows 1–50; page=2 shows more."
    assert past["message"] == f"Page 4 is past the end: group {group} has 120 contacts on 3 pages."
    assert full["items"][-1] == {"phone": "+4915120000119", "fields": {"Vorname": "P119"}}
    assert len(exports) == 4, "one export request per call"


async def test_the_group_tools_are_read_only_and_listed(sandbox: SandboxServer) -> None:
    async with Client(make_server(sandbox)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    contacts = tools["list_group_contacts"]
    assert contacts.annotations is not None and contacts.annotations.read_only_hint is True
    assert set(contacts.input_schema["properties"]) == {
        "group_id",
        "phone",
        "default_region",
        "page",
        "show_full_phone",
    }
    assert "dry_run" in tools["add_phones_to_group"].input_schema["properties"]


async def test_add_phones_takes_strings_reports_numbers_already_in_the_group_and_lists_each(
    sandbox: SandboxServer,
) -> None:
    vip = group_id(sandbox, "VIP customers")
    phones: list[Any] = ["0664 0001002", {"phone": "0664 1234567", "a": "Herr", "b": "Huber"}, "0664 1234567", "x"]
    args = {"group_id": vip, "phones": phones, "default_region": "AT"}
    async with Client(make_server(sandbox)) as client:
        dry = data_of(await client.call_tool("add_phones_to_group", {**args, "dry_run": True}))
        before = len(sandbox.state.group_phones(vip))
        real = data_of(await client.call_tool("add_phones_to_group", args))
        again = data_of(await client.call_tool("add_phones_to_group", args))
    assert (dry["new"], dry["created"], dry["already_in_group"], dry["duplicates"], dry["invalid"]) == (1, 0, 1, 1, 1)
    assert before == 4, "the dry run changed nothing"
    assert (real["created"], real["already_in_group"], real["new"]) == (1, 1, 0)
    assert real["contacts"] == [
        "0664 0001002 → +436640001002: already in the group, not sent",
        "0664 1234567 → +436641234567: added",
        "0664 1234567 → +436641234567: repeat, not sent",
        "x: invalid",
    ]
    assert (again["created"], again["already_in_group"]) == (0, 2), "running it again adds nothing"
    stored = {p["phone"]: p for p in sandbox.state.group_phones(vip)}
    assert (stored["+436641234567"]["a"], stored["+436641234567"]["b"]) == ("Herr", "Huber")
    assert len(stored) == len(sandbox.state.group_phones(vip)) == 5


async def test_fields_without_a_column_name_keep_their_letter() -> None:
    state = SandboxState(seed_demo_data=False)
    group = state.add_group("Odd", columns={"a": "Name", "b": "Name", "c": "callback_data"})
    state.add_phones(
        group, [{"phone": "+4915112345678", "a": "A", "b": "B", "c": "C", "d": "D", "callback_data": "cb"}]
    )
    with SandboxServer(state) as server:
        async with Client(make_server(server)) as client:
            data = data_of(await client.call_tool("list_group_contacts", {"group_id": group, "show_full_phone": True}))
    assert data["items"] == [
        {"phone": "+4915112345678", "fields": {"Name": "A", "b": "B", "c": "C", "d": "D", "callback_data": "cb"}}
    ]
