"""File import: `add_phones_from_file` on a 100,000-row CSV (and XLSX) vs a hand-written importer.

The sandbox adds 0.1 s of latency to every request. The file looks like a German CRM export: semicolons,
a BOM, `Vorname;Nachname;Mobil;Kundennummer`, the numbers in five notations (`0151 12345678`,
`+49 151 12345678`, `0049151…`, `(0151) 1234-5678`, `+4915112345678`). The hand-written importer reads the
same file with the csv module (python-calamine for the XLSX), normalises with `phonenumbers.parse`, and
posts batches of 500 with 4 in flight straight to `/groups/{id}/phones/batch`. Each run gets a fresh
group; runs are interleaved. Then the same CSV import runs through the console script over stdio, for the
server's peak RSS, the size of the tool result, and the size of what the model writes (the arguments).
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
from bench_common import (
    Row,
    call_over_stdio,
    check_import,
    footprint_rows,
    german_mobiles,
    interleaved,
    median,
    mib,
    result_bytes,
    say,
)
from mcp import Client
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.mcp.app import create_server
from lox24_mcp.sandbox import DEMO_TOKEN, Faults, SandboxServer, SandboxState

NAME = "file import"
LATENCY = 0.1
BATCH = 500
IN_FLIGHT = 4
GOAL_RATIO = 1.0
GOAL_RSS_MB = 150
GOAL_RESULT_BYTES = 4096
GOAL_ARGUMENT_CHARS = 300
HEADER = ("Vorname", "Nachname", "Mobil", "Kundennummer")
COLUMNS = {"a": "Vorname", "b": "Nachname", "callback_data": "Kundennummer"}
FIRST = ("Anna", "Jürgen", "Søren", "Maria", "Klaus", "Fatma", "Ömer", "Zoë", "Lena", "Paul")
LAST = ("Schneider", "Weiß", "Ølgaard", "Müller-Lüdenscheidt", "Bäcker", "Yılmaz", "Doğan", "Groß", "Koch")


def notation(e164: str, i: int) -> str:
    """+4915112345678 in one of five ways people write it."""
    national = "0" + e164[3:]
    kind = i % 5
    if kind == 0:
        return f"{national[:4]} {national[4:]}"
    if kind == 1:
        return f"+49 {e164[3:6]} {e164[6:]}"
    if kind == 2:
        return "00" + e164[1:]
    if kind == 3:
        return f"({national[:4]}) {national[4:8]}-{national[8:]}"
    return e164


def rows(count: int, seed: int) -> Iterator[tuple[str, str, str, str]]:
    for i, phone in enumerate(german_mobiles(count, seed=seed)):
        yield FIRST[i % len(FIRST)], LAST[i % len(LAST)], notation(phone, i), f"K-{100000 + i}"


def write_csv(path: Path, count: int, seed: int) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=";", lineterminator="\r\n")
        writer.writerow(HEADER)
        writer.writerows(rows(count, seed))


def write_xlsx(path: Path, count: int, seed: int) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Kunden")
    sheet.append(list(HEADER))
    for row in rows(count, seed):
        sheet.append(list(row))
    workbook.save(path)


# ----------------------------------------------------------------------------- the hand-written importer


def read_rows(path: Path) -> Iterator[list[str]]:
    """The data rows of the CSV or the XLSX, header skipped."""
    if path.suffix == ".xlsx":
        from python_calamine import CalamineWorkbook

        with path.open("rb") as f:
            sheet = CalamineWorkbook.from_filelike(f).get_sheet_by_index(0)
            it = iter(sheet.iter_rows())
            next(it)
            for cells in it:
                yield [str(c) for c in cells]
        return
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=";")
        next(reader)
        yield from reader


def handwritten_batches(path: Path) -> Iterator[list[dict[str, str]]]:
    """Batches of 500 contacts: each row parsed with phonenumbers.parse as the batch is built."""
    import phonenumbers

    batch: list[dict[str, str]] = []
    for first, last, mobile, customer in read_rows(path):
        try:
            number = phonenumbers.parse(mobile, "DE")
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number(number):
            continue
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        batch.append({"phone": e164, "a": first, "b": last, "callback_data": customer})
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def handwritten_import(http: httpx2.AsyncClient, base_url: str, group_id: int, path: Path) -> int:
    batches = handwritten_batches(path)
    created = 0

    async def worker() -> None:
        nonlocal created
        for batch in batches:  # one shared generator: each batch goes to exactly one worker
            response = await http.post(
                f"{base_url}/groups/{group_id}/phones/batch",
                json=batch,
                headers={"X-LOX24-AUTH-TOKEN": DEMO_TOKEN, "Accept": "application/json"},
            )
            response.raise_for_status()
            created += sum(1 for item in response.json() if 200 <= item["status"] < 300)

    async with anyio.create_task_group() as tg:
        for _ in range(IN_FLIGHT):
            tg.start_soon(worker)
    return created


# ----------------------------------------------------------------------------- the benchmark


def tool_arguments(group_id: int, name: str) -> dict[str, Any]:
    return {"group_id": group_id, "path": name, "default_region": "DE", "columns": COLUMNS}


async def compare(sandbox: SandboxServer, folder: Path, name: str, count: int, runs: int) -> list[Row]:
    """Ours vs hand-written on one file, interleaved; returns the time rows."""
    state = sandbox.state
    path = folder / name
    settings = Settings(api_token=SecretStr(DEMO_TOKEN), base_url=sandbox.url, import_dirs=(str(folder),))
    async with (
        Client(create_server(settings), read_timeout_seconds=600) as client,
        httpx2.AsyncClient(timeout=60) as http,
    ):
        await client.list_tools()

        async def ours() -> None:
            group_id = state.add_group("bench: file import (mcp)")
            result = await client.call_tool("add_phones_from_file", tool_arguments(group_id, name))
            check_import(result, count, "add_phones_from_file")

        async def baseline() -> None:
            group_id = state.add_group("bench: file import (hand-written)")
            created = await handwritten_import(http, sandbox.url, group_id, path)
            if created != count:
                raise RuntimeError(f"the hand-written importer created {created} of {count}")

        sides: dict[str, Callable[[], Awaitable[None]]] = {"mcp": ours, "hand-written": baseline}
        with anyio.fail_after(1800):
            samples = await interleaved(sides, runs=runs)
    kind = path.suffix.lstrip(".").upper()
    for side, values in samples.wall.items():
        cpu = " ".join(f"{v:.2f}" for v in samples.cpu[side])
        say(f"  {kind} {side:<13} wall " + " ".join(f"{v:.2f}" for v in values) + f" s; process CPU {cpu} s")
    ours_s, base_s = median(samples.wall["mcp"]), median(samples.wall["hand-written"])
    ours_cpu, base_cpu = median(samples.cpu["mcp"]), median(samples.cpu["hand-written"])
    ratio = ours_s / base_s
    return [
        Row(
            f"file import {count:,}-row {kind} (latency {LATENCY} s)",
            f"{ours_s:.2f} s",
            f"{base_s:.2f} s",
            ratio,
            f"ratio ≤ {GOAL_RATIO:.1f}",
            ratio <= GOAL_RATIO,
            f"in-memory client, median of {runs}, interleaved; baseline csv/calamine + phonenumbers.parse",
        ),
        Row(
            f"file import {count:,}-row {kind}: CPU of this process",
            f"{ours_cpu:.2f} s",
            f"{base_cpu:.2f} s",
            ours_cpu / base_cpu,
            "—",
            None,
            "incl. the sandbox thread",
        ),
    ]


async def over_stdio(sandbox: SandboxServer, folder: Path, name: str, count: int, baseline_s: float) -> list[Row]:
    """The CSV import through the console script over stdio: peak RSS, result size, argument size."""
    group_id = sandbox.state.add_group("bench: file import (stdio)")
    arguments = tool_arguments(group_id, name)
    argument_chars = len(json.dumps(arguments, separators=(",", ":"), ensure_ascii=False))
    env = {"LOX24_BASE_URL": sandbox.url, "LOX24_API_TOKEN": DEMO_TOKEN, "LOX24_MCP_IMPORT_DIRS": str(folder)}
    call = await call_over_stdio(env, "add_phones_from_file", arguments, within=900, read_timeout=600)
    content = check_import(call.result, count, "add_phones_from_file")
    size, wire = result_bytes(call.result)
    say(
        f"  stdio: {call.seconds:.2f} s; RSS idle {mib(call.idle_kb)}, peak {mib(call.peak_kb)}; result {size} B "
        f"({wire} B as sent); arguments {argument_chars} chars"
    )
    say(f"  result: {json.dumps(content, ensure_ascii=False)[:400]}")
    return [
        Row(
            f"file import {count:,} over stdio",
            f"{call.seconds:.2f} s",
            f"{baseline_s:.2f} s",
            call.seconds / baseline_s,
            "—",
            None,
            "console script as a subprocess; one run",
        ),
        *footprint_rows(
            f"file import {count:,}",
            call,
            rss_goal_mb=GOAL_RSS_MB,
            result_goal_bytes=GOAL_RESULT_BYTES,
            rss_note="VmHWM of the stdio subprocess",
        ),
        Row(
            f"file import {count:,}: what the model writes",
            f"{argument_chars} chars",
            f"~{count * 58 / 1e6:.1f} M chars inline",
            None,
            f"≤ {GOAL_ARGUMENT_CHARS} chars",
            argument_chars <= GOAL_ARGUMENT_CHARS,
            "the tool arguments as JSON; baseline: ~58 chars per contact in add_phones_to_group",
        ),
    ]


async def main(quick: bool) -> list[Row]:
    count = 10_000 if quick else 100_000
    runs = 1 if quick else 3
    rows_out: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_csv(folder / "kunden.csv", count, seed=21)
        write_xlsx(folder / "kunden.xlsx", count, seed=22)
        say(
            f"  files: {count:,} rows; CSV {(folder / 'kunden.csv').stat().st_size / 1e6:.1f} MB, "
            f"XLSX {(folder / 'kunden.xlsx').stat().st_size / 1e6:.1f} MB"
        )
        with SandboxServer(SandboxState(seed_demo_data=False, faults=Faults(latency=LATENCY))) as sandbox:
            csv_rows = await compare(sandbox, folder, "kunden.csv", count, runs)
            rows_out += csv_rows
            rows_out += await compare(sandbox, folder, "kunden.xlsx", count, runs)
            baseline_s = float(csv_rows[0].baseline.split()[0])
            rows_out += await over_stdio(sandbox, folder, "kunden.csv", count, baseline_s)
    return rows_out
