"""For any sequence of imports and cancels under faults, what is reported never contradicts LOX24's state.

Faults: the work is done and then answered 502 or 504, the work is done and the answer is lost, a 503
before any work, a dropped request, and collections without a total. Whatever happens, a reported
count equals what the API holds, or the outcome is reported unknown; and no POST is sent twice.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from lox24_mcp.lox24.client import Lox24Client, RetryPolicy
from lox24_mcp.lox24.errors import Lox24OutcomeUnknownError
from lox24_mcp.lox24.models import PhoneEntry, SmsFilters
from lox24_mcp.ops import cancel as cancel_ops
from lox24_mcp.ops.importer import import_phones
from lox24_mcp.sandbox import DEMO_TOKEN, Faults, SandboxServer, SandboxState

pytestmark = pytest.mark.property

FAST = RetryPolicy(attempts=3, total_time=5.0, backoff=0.001, max_backoff=0.002)
FAULTS: dict[str, dict[str, Any]] = {
    "none": {},
    "work then 502": {"after_rate": 1.0, "after_status": 502},
    "work then 504": {"after_rate": 1.0, "after_status": 504},
    "work, answer lost": {"drop_after_rate": 1.0},
    "503 before work": {"error_rate": 1.0},
    "dropped before work": {"drop_rate": 1.0},
}
STEP = st.tuples(st.sampled_from(["import", "cancel"]), st.sampled_from(list(FAULTS)), st.integers(1, 40))
_counter = itertools.count()


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[SandboxServer, SandboxState]]:
    state = SandboxState(seed_demo_data=False, page_size=7)
    with SandboxServer(state) as server:
        yield server, state


def posts(state: SandboxState, path: str) -> list[str]:
    return [r.body.decode() + r.query for r in state.requests if r.method == "POST" and r.path == path]


async def run_import(client: Lox24Client, state: SandboxState, size: int) -> None:
    n = next(_counter)
    group = state.add_group(f"g{n}")
    entries = [PhoneEntry(phone=f"+4917{n:04d}{i:05d}") for i in range(size)]
    # Reading the group first is a read: the faults are meant for the batches.
    state.faults = dataclasses.replace(state.faults, skip_paths=(f"/groups/{group}/file/",))
    before = len(state.requests)
    report = await import_phones(client, group, entries, chunk_size=10)
    stored = {p["phone"] for p in state.group_phones(group)}
    assert report.created + report.rejected + report.invalid + report.duplicates + report.unknown == size
    assert report.already_in_group == 0, "a fresh group holds nothing"
    if report.unknown == 0:
        assert report.created == len(stored), (report, len(stored))
    else:
        assert report.created <= len(stored) <= report.created + report.unknown, (report, len(stored))
    bodies = [r.body for r in state.requests[before:] if r.method == "POST"]
    assert len(bodies) == len(set(bodies)), "a batch was sent twice"


async def run_cancel(client: Lox24Client, state: SandboxState, size: int) -> None:
    tag = f"p{next(_counter)}"
    now = int(time.time())
    uuids = [
        state.add_sms(phone=f"+4915{i:08d}", text="t", delivery_at=now + 3600, callback_data=tag, created_at=now - 60)[
            "uuid"
        ]
        for i in range(size)
    ]
    selection = SmsFilters(callback_data=tag)
    faults, state.faults = state.faults, Faults()  # the preview is a read: count with a healthy gateway
    preview = await cancel_ops.preview(client, selection, preview_time=now)
    state.faults = faults
    assert preview.matched == size and preview.exact, "a count shown to the user is the real count"
    before = len(posts(state, "/sms/ops/batch_cancel"))
    try:
        cancelled: int | None = await cancel_ops.cancel(client, selection, preview_time=now)
    except Lox24OutcomeUnknownError:
        cancelled = None
    except Exception:  # noqa: BLE001 - any other failure must mean nothing was cancelled
        cancelled = 0
    really = sum(1 for u in uuids if state.sms(u)["status_code"] != 0)
    assert len(posts(state, "/sms/ops/batch_cancel")) - before == 1, "the cancel went out exactly once"
    if cancelled is not None:
        assert cancelled == really, (cancelled, really)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=4), totals=st.booleans())
def test_reported_outcomes_never_contradict_the_api(
    world: tuple[SandboxServer, SandboxState], steps: list[tuple[str, str, int]], totals: bool
) -> None:
    server, state = world
    state.omit_totals = not totals

    async def main() -> None:
        async with httpx2.AsyncClient(timeout=5.0) as http:
            client = Lox24Client(SecretStr(DEMO_TOKEN), base_url=server.url, http_client=http, retry=FAST)
            for kind, fault, size in steps:
                state.faults = Faults(**FAULTS[fault])
                with anyio.fail_after(20):
                    await (run_import if kind == "import" else run_cancel)(client, state, size)
                state.faults = Faults()

    try:
        anyio.run(main)
    finally:
        state.faults = Faults()
        state.omit_totals = False
