"""Re-running a file import never doubles a contact: the LOX24 side is killed (SIGKILL) at a seeded batch while
`import_file` streams a CSV, then the same file is imported again and every valid number is in the group once.

Reuses the crashing sandbox process and the helpers of test_rerun_safety.py (which does the same for lists).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest
from test_rerun_safety import (
    CHUNK,
    VALID,
    assert_exactly_once,
    contacts,
    group_numbers_in,
    lox24,
    sandbox_process,
)

from lox24_mcp.lox24.models import PhoneEntry
from lox24_mcp.ops.file_import import import_file
from lox24_mcp.sandbox import SandboxState

pytestmark = pytest.mark.anyio


def write_csv(path: Path, seed: int) -> set[str]:
    """The list of test_rerun_safety as a German CRM export (`;`, BOM); returns the valid numbers."""
    entries, valid = contacts(seed)
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(["Mobil", "Anrede", "Nachname"])
        for entry in entries:
            if isinstance(entry, PhoneEntry):
                writer.writerow([entry.phone, entry.a or "", entry.b or ""])
            else:
                writer.writerow([entry, "", ""])
    return valid


def kill_point(seed: int) -> tuple[int, int, str]:
    rng = random.Random(100 + seed)
    return seed, rng.randint(1, VALID // CHUNK), rng.choice(["before", "after"])


KILL_POINTS = [kill_point(seed) for seed in range(3)]


@pytest.mark.parametrize(("seed", "kill_at", "phase"), KILL_POINTS, ids=[f"batch{k}-{p}" for _, k, p in KILL_POINTS])
async def test_lox24_killed_mid_file_import_then_a_rerun_holds_every_number_once(
    tmp_path: Path, seed: int, kill_at: int, phase: str
) -> None:
    folder = tmp_path / "imports"
    folder.mkdir()
    valid = write_csv(folder / "kunden.csv", seed)
    db = tmp_path / "lox24.sqlite"
    setup = SandboxState(seed_demo_data=False, db_path=str(db))
    group = setup.add_group("Killed mid-import", columns={"a": "Anrede", "b": "Nachname"})
    setup.store.close()

    with sandbox_process(db, kill_at, phase) as (url, proc):
        async with lox24(url) as client:
            first = await import_file(
                client, group, "kunden.csv", [folder], default_region="DE", chunk_size=CHUNK, concurrency=4
            )
        assert proc.wait(timeout=10) == -9, "the sandbox was not killed: this run tested nothing"
    stored_first = group_numbers_in(db, group)
    assert first.unknown > 0, "the batch LOX24 died on is reported unknown"
    assert first.created <= len(stored_first) <= first.created + first.unknown
    assert first.columns_used == {"Mobil": "phone", "Anrede": "a", "Nachname": "b"}

    with sandbox_process(db) as (url, _):
        async with lox24(url) as client:
            again = await import_file(
                client, group, "kunden.csv", [folder], default_region="DE", chunk_size=CHUNK, concurrency=4
            )
    assert_exactly_once(group_numbers_in(db, group), valid)
    assert (again.unknown, again.rejected, again.invalid) == (0, 0, 2), again.message
    assert again.already_in_group == len(stored_first), "what arrived the first time is found, not sent"
    assert again.created + again.already_in_group == VALID
    assert again.rows == first.rows == VALID + 22
