"""Re-runs never double a contact: an import interrupted at any point and run again with the same contacts ends
with every valid number in the group exactly once.

The sandboxes here store a number sent twice (`duplicates="store"`): LOX24 does not document that it refuses
one, so an importer that resent what had already arrived would double contacts, and these tests would see it
(`test_without_the_check_a_rerun_doubles_contacts` shows they do). Interruptions: the client going away
mid-import, 500s after the work was done, and the LOX24 side killed with SIGKILL at seeded random batches.
"""

from __future__ import annotations

import json
import random
import selectors
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
from conftest import FAST_RETRY
from pydantic import SecretStr

import lox24_mcp.ops.importer as importer
from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.lox24.models import PhoneEntry
from lox24_mcp.ops.importer import ImportReport, import_phones
from lox24_mcp.sandbox import DEMO_TOKEN, Faults, SandboxServer, SandboxState
from lox24_mcp.sandbox.store import Store

pytestmark = pytest.mark.anyio

SCRIPT = Path(__file__).with_name("crashing_sandbox.py")
CHUNK = 100
VALID = 1000


def contacts(seed: int) -> tuple[list[PhoneEntry | str], set[str]]:
    """VALID distinct numbers in mixed notations, with repeats and invalid entries, shuffled by `seed`."""
    rng = random.Random(seed)
    numbers = [f"+49151{30000000 + i}" for i in range(VALID)]
    entries: list[PhoneEntry | str] = [
        n if i % 3 else PhoneEntry(phone=f"0151 {n[6:]}", a="Frau", b=f"Kundin {i}") for i, n in enumerate(numbers)
    ]
    entries += [numbers[i] for i in rng.sample(range(VALID), 20)]  # repeats
    entries += ["12", "not a number"]  # invalid
    rng.shuffle(entries)
    return entries, set(numbers)


def assert_exactly_once(stored: list[str], valid: set[str]) -> None:
    counts = Counter(stored)
    doubled = {n: c for n, c in counts.items() if c > 1}
    assert not doubled, f"{len(doubled)} numbers are in the group more than once, e.g. {list(doubled.items())[:3]}"
    assert set(counts) == valid, f"missing {len(valid - set(counts))}, unexpected {len(set(counts) - valid)}"


def assert_rerun_finished(result: ImportReport, stored_before: int) -> None:
    assert (result.unknown, result.rejected, result.invalid) == (0, 0, 2), result.message
    assert result.already_in_group == stored_before, "what arrived the first time is found, not sent"
    assert result.created + result.already_in_group == VALID


@asynccontextmanager
async def lox24(url: str) -> AsyncIterator[Lox24Client]:
    async with httpx2.AsyncClient(timeout=5.0) as http:
        yield Lox24Client(SecretStr(DEMO_TOKEN), base_url=url, http_client=http, retry=FAST_RETRY)


def numbers_sent(state: SandboxState) -> list[str]:
    return [i["phone"] for r in state.requests if r.path.endswith("/phones/batch") for i in json.loads(r.body)]


# ----------------------------------------------------------------------------- in process: client gone, 500s


@pytest.mark.parametrize("seed", range(4))
async def test_an_import_abandoned_mid_way_and_run_again_holds_every_number_once(seed: int) -> None:
    rng = random.Random(seed)
    entries, valid = contacts(seed)
    # Answered batches before the client leaves; with 4 in flight, at least one batch is never sent.
    stop_after = rng.randint(1, VALID // CHUNK - 5)
    state = SandboxState(seed_demo_data=False, duplicates="store")
    group = state.add_group("Re-run")
    # Latency keeps batches in flight when the client leaves; the sandbox still carries them out.
    state.faults = Faults(latency=0.02, only_paths=(f"/groups/{group}/phones/",))
    with SandboxServer(state) as server:
        async with lox24(server.url) as client:
            answered = 0
            with anyio.CancelScope() as scope:

                async def leave(done: int, total: int, note: str) -> None:
                    nonlocal answered
                    del done, total
                    answered += note.endswith("created")
                    if answered >= stop_after:
                        scope.cancel()

                await import_phones(
                    client, group, entries, default_region="DE", chunk_size=CHUNK, concurrency=4, on_progress=leave
                )
            assert scope.cancelled_caught, "the import finished before the client left: this run tested nothing"
        assert state.wait_idle(10), "the sandbox did not finish the abandoned batches"
    # Stopped: a batch still on its way when the client left has now been carried out or dropped for good.
    first = [p["phone"] for p in state.group_phones(group)]
    assert 0 < len(first) < VALID
    state.faults = Faults()
    state.reset_requests()
    with SandboxServer(state) as server:
        async with lox24(server.url) as client:
            result = await import_phones(client, group, entries, default_region="DE", chunk_size=CHUNK, concurrency=4)
        assert_exactly_once([p["phone"] for p in state.group_phones(group)], valid)
        assert_rerun_finished(result, len(first))
        assert not set(numbers_sent(state)) & set(first), "a number already in the group was sent again"


@pytest.mark.parametrize("seed", range(3))
async def test_500s_after_the_work_was_done_then_a_rerun_hold_every_number_once(seed: int) -> None:
    entries, valid = contacts(seed)
    state = SandboxState(seed_demo_data=False, duplicates="store")
    group = state.add_group("Re-run after 500s")
    state.faults = Faults(after_rate=0.4, after_status=500, seed=seed, only_paths=(f"/groups/{group}/phones/",))
    with SandboxServer(state) as server:
        async with lox24(server.url) as client:
            first = await import_phones(client, group, entries, default_region="DE", chunk_size=CHUNK, concurrency=4)
            stored_first = [p["phone"] for p in state.group_phones(group)]
            assert first.unknown > 0, "no 500 fired: this run tested nothing"
            assert len(stored_first) == first.created + first.unknown, "a 500 here means: carried out"
            state.faults = Faults()
            result = await import_phones(client, group, entries, default_region="DE", chunk_size=CHUNK, concurrency=4)
        assert_exactly_once([p["phone"] for p in state.group_phones(group)], valid)
        assert_rerun_finished(result, len(stored_first))


async def test_without_the_check_a_rerun_doubles_contacts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The control: the sandbox does store a number twice, and `assert_exactly_once` notices."""
    entries, valid = contacts(0)
    state = SandboxState(seed_demo_data=False, duplicates="store")
    group = state.add_group("Naive re-run")
    state.faults = Faults(after_rate=0.5, after_status=500, seed=1, only_paths=(f"/groups/{group}/phones/",))

    async def nothing_in_the_group(client: Lox24Client, group_id: int) -> set[str]:
        del client, group_id
        return set()

    monkeypatch.setattr(importer, "group_numbers", nothing_in_the_group)
    with SandboxServer(state) as server:
        async with lox24(server.url) as client:
            first = await import_phones(client, group, entries, default_region="DE", chunk_size=CHUNK)
            state.faults = Faults()
            await import_phones(client, group, entries, default_region="DE", chunk_size=CHUNK)
        stored = [p["phone"] for p in state.group_phones(group)]
    assert first.unknown > 0
    with pytest.raises(AssertionError, match="more than once"):
        assert_exactly_once(stored, valid)


# ----------------------------------------------------------------------------- the LOX24 side killed (SIGKILL)


@contextmanager
def sandbox_process(db: Path, kill_at: int = 0, phase: str = "before") -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`crashing_sandbox.py` in a subprocess: (base URL, process); killed on exit if still running."""
    proc = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(SCRIPT), str(db), str(kill_at), phase],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=20), "the sandbox process did not start within 20 s"
        url = proc.stdout.readline().decode().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def group_numbers_in(db: Path, group: int) -> list[str]:
    store = Store(str(db))
    try:
        return [p["phone"] for p in store.list_phones(group)[0]]
    finally:
        store.close()


def kill_point(seed: int) -> tuple[int, int, str, int]:
    """(seed, batch to kill at, phase, concurrency), drawn from `seed`."""
    rng = random.Random(seed)
    return seed, rng.randint(1, VALID // CHUNK), rng.choice(["before", "after"]), rng.choice([1, 4])


KILL_POINTS = [kill_point(seed) for seed in range(6)]


@pytest.mark.parametrize(
    ("seed", "kill_at", "phase", "concurrency"), KILL_POINTS, ids=[f"batch{k}-{p}-x{c}" for _, k, p, c in KILL_POINTS]
)
async def test_lox24_killed_mid_import_then_a_rerun_holds_every_number_once(
    tmp_path: Path, seed: int, kill_at: int, phase: str, concurrency: int
) -> None:
    entries, valid = contacts(seed)
    db = tmp_path / "lox24.sqlite"
    setup = SandboxState(seed_demo_data=False, db_path=str(db))
    group = setup.add_group("Killed mid-import")
    setup.store.close()

    with sandbox_process(db, kill_at, phase) as (url, proc):
        async with lox24(url) as client:
            # No exception: a batch without an answer may have been carried out, so the result must say so.
            first = await import_phones(
                client, group, entries, default_region="DE", chunk_size=CHUNK, concurrency=concurrency
            )
        assert proc.wait(timeout=10) == -9, "the sandbox was not killed: this run tested nothing"
    stored_first = group_numbers_in(db, group)
    assert len(stored_first) <= VALID
    assert first.created <= len(stored_first) <= first.created + first.unknown
    assert first.unknown > 0, "the batch LOX24 died on is reported unknown"
    if concurrency == 1:  # one batch at a time: exactly the batches before the killed one, and it if answered late
        assert len(stored_first) == CHUNK * (kill_at - (phase == "before"))
    elif phase == "after":
        assert len(stored_first) >= CHUNK, "the killed batch was stored"

    with sandbox_process(db) as (url, _):
        async with lox24(url) as client:
            result = await import_phones(
                client, group, entries, default_region="DE", chunk_size=CHUNK, concurrency=concurrency
            )
    assert_exactly_once(group_numbers_in(db, group), valid)
    assert_rerun_finished(result, len(stored_first))
