"""The contact import (`import_phones`) against the sandbox under injected faults: every contact accounted for.

Faults come from the sandbox (seeded, so every run draws the same sequence); every wait is bounded
with `anyio.fail_after`; nothing sleeps.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import pytest
from pydantic import SecretStr

from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.lox24.models import PhoneEntry
from lox24_mcp.ops.importer import ImportReport, import_phones
from lox24_mcp.sandbox import DEMO_TOKEN, Faults, SandboxServer, SandboxState
from tests.helpers import FAST_RETRY, batches, wire_outcomes

pytestmark = pytest.mark.anyio

#: The client gives up after this long; slow faults answer later than that (and then do nothing).
CLIENT_TIMEOUT = 0.5
SLOW = 1.0

VALID = 1980

INVALID_AT = [5 + 199 * k for k in range(10)]

DUPLICATE_AT = [11 + 197 * k for k in range(10)]


def contacts() -> tuple[list[PhoneEntry], set[str]]:
    """2,000 entries: 1,980 distinct valid numbers, 10 invalid ones and 10 national repeats of earlier numbers."""
    numbers = [f"+49151{20000000 + i}" for i in range(VALID)]
    entries = [PhoneEntry(phone=n, a=f"contact {i}") for i, n in enumerate(numbers)]
    for k, at in enumerate(INVALID_AT):
        entries.insert(at, PhoneEntry(phone=f"12{k}"))
    for k, at in enumerate(DUPLICATE_AT):
        entries.insert(at + 1, PhoneEntry(phone=f"0151 {20000000 + k}"))  # same as +49151{20000000+k}, earlier
    assert len(entries) == 2000
    return entries, set(numbers)


def positions(entries: list[PhoneEntry], prefix: str) -> set[int]:
    return {i for i, e in enumerate(entries) if e.phone.startswith(prefix)}


def check_import(
    result: ImportReport, state: SandboxState, group: int, entries: list[PhoneEntry], valid: set[str]
) -> None:
    """The import's report, the API's side, and the wire agree on what happened to every entry."""
    accounted = result.created + result.rejected + result.invalid + result.duplicates + result.unknown
    assert accounted == result.requested and result.already_in_group == 0, result
    assert result.problems_total == result.requested - result.created
    assert len(result.problems) == min(50, result.problems_total)
    assert [p.index for p in result.problems] == sorted(p.index for p in result.problems)

    stored_list = [p["phone"] for p in state.group_phones(group)]
    stored = set(stored_list)
    assert len(stored_list) == len(stored), "a contact was created twice"
    assert stored <= valid
    assert result.created == len(stored), "created must be what LOX24 holds, no more and no less"

    sent = batches(state, group)
    every_number = [n for batch in sent for n in batch]
    assert len(every_number) == len(set(every_number)), "the same number went out in two different batches"
    assert set(every_number) == valid, "every valid, distinct number is sent (once)"
    processed, unknown, rejected = wire_outcomes(sent)
    assert stored == processed, "exactly the batches LOX24 answered 201 are in the group"
    assert not (unknown & stored), "a batch reported unknown was created after all"
    assert result.unknown == len(unknown)
    assert result.rejected == len(rejected)
    assert result.invalid == len(INVALID_AT) and result.duplicates == len(DUPLICATE_AT)
    for problem in result.problems:
        if problem.outcome in ("unknown", "rejected"):
            assert problem.phone not in stored, problem
        elif problem.outcome == "invalid":
            assert problem.index in positions(entries, "12"), problem
        else:
            assert problem.index in positions(entries, "0151 ") and "same number as entry" in problem.reason


FAULT_CASES: dict[str, dict[str, Any]] = {
    "503": {"error_rate": 0.2, "seed": 11},
    "drop": {"drop_rate": 0.2, "seed": 12},
    "slow": {"slow_rate": 0.2, "slow_seconds": SLOW, "seed": 13},
    "mixed": {"error_rate": 0.1, "drop_rate": 0.1, "slow_rate": 0.1, "slow_seconds": SLOW, "seed": 14},
}


@pytest.mark.parametrize("case", list(FAULT_CASES))
async def test_a_2000_contact_import_under_faults_accounts_for_every_contact(case: str) -> None:
    state = SandboxState(seed_demo_data=False)
    group = state.add_group("Faulty import")
    state.faults = Faults(**FAULT_CASES[case], only_paths=(f"/groups/{group}/phones",))
    entries, valid = contacts()
    with SandboxServer(state) as sandbox:
        async with httpx2.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
            client = Lox24Client(SecretStr(DEMO_TOKEN), base_url=sandbox.url, http_client=http, retry=FAST_RETRY)
            with anyio.fail_after(30):
                result = await import_phones(client, group, entries, default_region="DE", chunk_size=100)
        # Every request has been answered (or abandoned) for good before anything is checked.
        assert state.wait_idle(10), "the sandbox is still handling requests"
        check_import(result, state, group, entries, valid)
        tries = [s for statuses_ in batches(state, group).values() for s in statuses_]
        if "error_rate" in FAULT_CASES[case]:
            assert 503 in tries, "the 503 fault never fired: this run tested nothing"
        if "drop_rate" in FAULT_CASES[case] or "slow_rate" in FAULT_CASES[case]:
            assert result.unknown > 0, "no batch went unanswered: this run tested nothing"
        assert result.created > VALID // 2, "most batches get through"


async def test_a_fatal_error_after_an_unanswered_batch_still_accounts_for_it() -> None:
    # Seed 8 draws: the first request is dropped (outcome unknown), the second is answered 403 (fatal).
    state = SandboxState(seed_demo_data=False)
    group = state.add_group("Unknown, then forbidden")
    state.faults = Faults(
        drop_rate=0.5, error_rate=0.5, error_status=403, seed=8, only_paths=(f"/groups/{group}/phones",)
    )
    entries = [PhoneEntry(phone=f"+49151{20000000 + i}") for i in range(200)]
    with SandboxServer(state) as sandbox:
        async with httpx2.AsyncClient(timeout=5) as http:
            client = Lox24Client(SecretStr(DEMO_TOKEN), base_url=sandbox.url, http_client=http, retry=FAST_RETRY)
            with anyio.fail_after(20):
                result = await import_phones(client, group, entries, chunk_size=100, concurrency=1)
        assert state.wait_idle(10), "the sandbox is still handling requests"
        assert [r.status for r in state.requests] == [200, 0, 403], "the group's numbers are read first (one request)"
    assert (result.created, result.unknown, result.rejected) == (0, 100, 100)
