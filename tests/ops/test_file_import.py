"""Streaming imports: a source is read slice by slice while earlier slices are on the wire, memory stays
bounded, a source that fails part-way reports what it did, and `import_file` over the sandbox."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import pytest
from conftest import FAST_RETRY
from pydantic import SecretStr

from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.lox24.errors import GroupNotFoundError
from lox24_mcp.lox24.models import PhoneEntry
from lox24_mcp.ops.contacts_file import ContactsFile
from lox24_mcp.ops.file_import import FileImportError, import_file
from lox24_mcp.ops.importer import ContactSlice, ImportInterruptedError, import_phones
from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer, SandboxState

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def lox24(url: str) -> AsyncIterator[Lox24Client]:
    async with httpx2.AsyncClient(timeout=5.0) as http:
        yield Lox24Client(SecretStr(DEMO_TOKEN), base_url=url, http_client=http, retry=FAST_RETRY)


def batches_sent(state: SandboxState) -> int:
    return sum(1 for r in state.requests if r.path.endswith("/phones/batch"))


async def test_a_source_is_read_while_earlier_slices_are_being_sent() -> None:
    """The importer pulls slice k+1 only after slice k went to the senders: it never reads the source ahead."""
    state = SandboxState(seed_demo_data=False)
    group = state.add_group("Stream")
    sent_when_pulled: list[int] = []

    def source() -> Iterator[ContactSlice]:
        for k in range(20):
            sent_when_pulled.append(batches_sent(state))
            rows = range(2 + k * 100, 2 + (k + 1) * 100)
            yield ContactSlice(list(rows), [PhoneEntry(phone=f"+49151{row:08d}") for row in rows])

    with SandboxServer(state) as server:
        async with lox24(server.url) as client:
            report = await import_phones(
                client, group, None, source=source(), chunk_size=100, concurrency=2, total=2000, label="row"
            )
    assert report.created == 2000 and report.requested == 2000
    # With 2 senders and a buffer of 2, slice 10 cannot be read before some batches were answered.
    assert sent_when_pulled[0] == 0 and sent_when_pulled[-1] >= 10, sent_when_pulled


async def test_a_source_failing_part_way_reports_what_was_sent() -> None:
    state = SandboxState(seed_demo_data=False)
    group = state.add_group("Broken")

    def source() -> Iterator[ContactSlice]:
        for k in range(3):
            rows = range(2 + k * 10, 2 + (k + 1) * 10)
            yield ContactSlice(list(rows), [PhoneEntry(phone=f"+49151{row:08d}") for row in rows])
        raise OSError("Input/output error")

    with SandboxServer(state) as server:
        async with lox24(server.url) as client:
            with pytest.raises(ImportInterruptedError) as caught:
                await import_phones(client, group, None, source=source(), chunk_size=10, total=50, label="row")
    report = caught.value.report
    assert (report.requested, report.created) == (30, 30)
    assert "Input/output error" in caught.value.message and "Added 30 of 30" in caught.value.message
    assert len(state.group_phones(group)) == 30


async def test_refused_rows_and_repeats_name_rows_not_positions() -> None:
    state = SandboxState(seed_demo_data=False)
    group = state.add_group("Rows")
    piece = ContactSlice(
        [2, 4, 5],
        [PhoneEntry(phone="+4915100000002"), PhoneEntry(phone="0151 00000002"), PhoneEntry(phone="nope")],
        refused=[(3, "4.9E+12", "written in scientific notation")],
    )
    with SandboxServer(state) as server:
        async with lox24(server.url) as client:
            report = await import_phones(client, group, None, source=[piece], default_region="DE", total=4, label="row")
    assert (report.created, report.invalid, report.duplicates, report.requested) == (1, 2, 1, 4)
    assert [(p.index, p.outcome) for p in report.problems] == [(3, "invalid"), (4, "duplicate"), (5, "invalid")]
    assert report.problems[1].reason == "same number as row 2"


def test_reading_a_large_file_holds_one_slice_at_a_time(tmp_path: Path) -> None:
    """50,000 rows (2.4 MB of CSV): the Python memory in use while reading stays a small fraction of it."""
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("Vorname;Nachname;Mobil;Kundennummer\n")
        for i in range(50_000):
            f.write(f"Vorname{i};Nachname{i};0151 {i:08d};K-{i}\n")
    with path.open("rb") as stream:
        contacts = ContactsFile.open(stream, "big.csv", columns={"a": "Vorname", "b": "Nachname"})
        tracemalloc.start()
        try:
            rows = 0
            for piece in contacts.slices(500):
                rows += piece.rows
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert rows == 50_000
    assert peak < 1_500_000, f"peak {peak / 1e6:.1f} MB while reading a {path.stat().st_size / 1e6:.1f} MB file"


async def test_import_file_reads_only_allowed_folders_and_checks_the_group_first(tmp_path: Path) -> None:
    (tmp_path / "ok.csv").write_text("Mobil;Vorname\n+4915112345678;Anna\n+4915112345679;Eva\n")
    state = SandboxState(seed_demo_data=False)
    group = state.add_group("Kunden", columns={"a": "Vorname"})
    with SandboxServer(state) as server:
        async with lox24(server.url) as client:
            with pytest.raises(FileImportError, match="LOX24_MCP_IMPORT_DIRS"):
                await import_file(client, group, str(tmp_path / "ok.csv"), [])
            with pytest.raises(GroupNotFoundError):
                await import_file(client, 987_654, "ok.csv", [tmp_path])
            assert not any(r.method == "POST" for r in state.requests)
            report = await import_file(client, group, "ok.csv", [tmp_path])
    assert (report.created, report.rows, report.columns_used) == (2, 2, {"Mobil": "phone", "Vorname": "a"})
    bodies = [json.loads(r.body) for r in state.requests if r.method == "POST"]
    assert bodies == [[{"phone": "+4915112345678", "a": "Anna"}, {"phone": "+4915112345679", "a": "Eva"}]]
