"""`import_phones` against the group's current contents: `already_in_group` (checked with one export request
before anything is sent), the per-contact list of small imports, bare-string entries and dry runs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.lox24.errors import GroupNotFoundError, ServerError
from lox24_mcp.lox24.models import PhoneEntry
from lox24_mcp.ops.importer import import_phones
from lox24_mcp.sandbox import DEMO_TOKEN, Faults, SandboxServer, SandboxState
from tests.helpers import FAST_RETRY

pytestmark = pytest.mark.anyio


@contextmanager
def sandbox_with_group(numbers: list[str], **options: Any) -> Iterator[tuple[SandboxServer, int]]:
    state = SandboxState(seed_demo_data=False, **options)
    group = state.add_group("VIP", columns={"a": "Anrede", "b": "Nachname"})
    state.add_phones(group, [{"phone": n} for n in numbers])
    with SandboxServer(state) as server:
        yield server, group


@asynccontextmanager
async def lox24(url: str) -> AsyncIterator[Lox24Client]:
    async with httpx2.AsyncClient(timeout=5.0) as http:
        yield Lox24Client(SecretStr(DEMO_TOKEN), base_url=url, http_client=http, retry=FAST_RETRY)


def sent_numbers(state: SandboxState) -> list[str]:
    """Every number the sandbox received in a phones batch, in order."""
    return [item["phone"] for r in state.requests if r.path.endswith("/phones/batch") for item in json.loads(r.body)]


async def test_numbers_already_in_the_group_are_reported_and_not_sent() -> None:
    with sandbox_with_group(["+4915100001001", "+436640001002"]) as (server, group):
        entries: list[PhoneEntry | str] = [
            PhoneEntry(phone="0151 00001001", a="Frau"),  # 0 in the group, written nationally
            "+49 151 12345678",  # 1 new
            PhoneEntry(phone="0043 664 0001002"),  # 2 in the group, 00-prefix
            "nope",  # 3 invalid
            "0151 12345678",  # 4 repeat of 1
            "+4915100001001",  # 5 repeat of 0 (a repeat first, whatever the group holds)
        ]
        async with lox24(server.url) as client:
            result = await import_phones(client, group, entries, default_region="DE")
        state = server.state
        stored = [p["phone"] for p in state.group_phones(group)]
    assert (result.created, result.already_in_group, result.invalid, result.duplicates) == (1, 2, 1, 2)
    assert (result.rejected, result.unknown, result.new) == (0, 0, 0) and result.accounted == 6
    assert [(p.index, p.outcome) for p in result.problems] == [(3, "invalid"), (4, "duplicate"), (5, "duplicate")]
    assert result.problems_total == 3, "numbers already in the group are not problems"
    assert sent_numbers(state) == ["+4915112345678"], "only the new number went out"
    assert stored == ["+4915100001001", "+436640001002", "+4915112345678"]
    paths = [r.path for r in state.requests]
    assert paths == [f"/groups/{group}/file/csv", f"/groups/{group}/phones/batch"], "one check, before sending"
    assert "1 of 6" in result.message and "2 already in it" in result.message


async def test_a_small_import_lists_what_became_of_each_number() -> None:
    with sandbox_with_group(["+436641234567"]) as (server, group):
        async with lox24(server.url) as client:
            result = await import_phones(
                client, group, ["0664 1234567", "0664 7654321", "+43 1 234", "0664 7654321"], default_region="AT"
            )
    assert result.contacts is not None
    assert result.contacts == [
        "0664 1234567 → +436641234567: already in the group, not sent",
        "0664 7654321 → +436647654321: added",
        "+43 1 234: invalid",
        "0664 7654321 → +436647654321: repeat, not sent",
    ]


async def test_more_than_twenty_contacts_are_counted_not_listed() -> None:
    with sandbox_with_group([]) as (server, group):
        async with lox24(server.url) as client:
            twenty = await import_phones(client, group, [f"+4915112345{i:03d}" for i in range(20)])
            more = await import_phones(client, group, [f"+4915112346{i:03d}" for i in range(21)])
    assert twenty.contacts is not None and len(twenty.contacts) == 20
    assert twenty.contacts[7] == "+4915112345007 → +4915112345007: added"
    assert more.contacts is None and more.created == 21


async def test_strings_and_objects_mix_and_the_objects_keep_their_fields() -> None:
    with sandbox_with_group([]) as (server, group):
        async with lox24(server.url) as client:
            result = await import_phones(
                client,
                group,
                ["+4915112345678", PhoneEntry(phone="0170 1234567", a="Herr", b="Maier")],
                default_region="DE",
            )
        stored = server.state.group_phones(group)
    assert result.created == 2
    assert [(p["phone"], p["a"], p["b"]) for p in stored] == [
        ("+4915112345678", None, None),
        ("+491701234567", "Herr", "Maier"),
    ]


async def test_a_dry_run_sends_nothing_and_accounts_for_everything_the_real_run_then_does() -> None:
    existing = ["+4915100001001", "+4915100001002"]
    entries: list[PhoneEntry | str] = [
        *existing,
        *(f"+4915122{i:06d}" for i in range(1200)),
        "0151 22000000",  # repeat of the first new one
        "bad",
    ]
    with sandbox_with_group(existing) as (server, group):
        async with lox24(server.url) as client:
            dry = await import_phones(client, group, entries, default_region="DE", dry_run=True)
            assert [r.method for r in server.state.requests] == ["GET"], "a dry run only reads"
            assert len(server.state.group_phones(group)) == 2
            real = await import_phones(client, group, entries, default_region="DE")
    assert (dry.new, dry.created, dry.already_in_group, dry.duplicates, dry.invalid) == (1200, 0, 2, 1, 1)
    assert dry.accounted == dry.requested == 1204
    assert "Dry run, nothing was sent: 1200 of 1204 would be added" in dry.message
    assert (real.created, real.new, real.already_in_group) == (dry.new, 0, 2)
    assert [(p.index, p.outcome) for p in dry.problems] == [(p.index, p.outcome) for p in real.problems]


async def test_an_unknown_group_fails_at_the_check_and_nothing_is_sent() -> None:
    with sandbox_with_group([]) as (server, _):
        async with lox24(server.url) as client:
            with pytest.raises(GroupNotFoundError, match=r"no contact group with id 4242 \(HTTP 404.*list_groups"):
                await import_phones(client, 4242, ["+4915112345678"])
        assert [r.path for r in server.state.requests] == ["/groups/4242/file/csv"]


async def test_when_the_group_cannot_be_read_nothing_is_sent() -> None:
    with sandbox_with_group([]) as (server, group):
        server.state.faults = Faults(error_rate=1.0, error_status=500, only_paths=(f"/groups/{group}/file/",))
        async with lox24(server.url) as client:
            with pytest.raises(ServerError, match=r"HTTP 500.*Nothing was sent"):
                await import_phones(client, group, ["+4915112345678"])
        assert sent_numbers(server.state) == [] and server.state.group_phones(group) == []


async def test_a_500_after_the_batch_was_carried_out_is_unknown_not_rejected() -> None:
    with sandbox_with_group([]) as (server, group):
        server.state.faults = Faults(after_rate=1.0, after_status=500, only_paths=(f"/groups/{group}/phones/",))
        async with lox24(server.url) as client:
            result = await import_phones(client, group, ["+4915112345678", "+4915112345679"])
        stored = [p["phone"] for p in server.state.group_phones(group)]
    assert stored == ["+4915112345678", "+4915112345679"], "the sandbox did the work"
    assert (result.created, result.unknown, result.rejected) == (0, 2, 0)
    assert result.contacts == [
        "+4915112345678 → +4915112345678: sent, no answer",
        "+4915112345679 → +4915112345679: sent, no answer",
    ]
    assert "Run the same import again" in result.message
