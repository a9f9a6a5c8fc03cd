"""Bulk import: one `add_phones_to_group` call with 20,000 contacts vs a hand-written batch importer.

The sandbox adds 0.1 s of latency to every request. The tool gets the numbers written nationally
(`0151 12345678`, `default_region="DE"`), so it normalises them; the hand-written importer posts the same
numbers already in E.164, in batches of 500 with 4 in flight, straight to `/groups/{id}/phones/batch`.
Each run gets a fresh group. Then the same import runs once more through the console script over stdio,
to read the server process's peak RSS and the size of the tool result.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
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
    national_de,
    result_bytes,
    say,
)
from mcp import Client
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.mcp.app import create_server
from lox24_mcp.sandbox import DEMO_TOKEN, Faults, SandboxServer, SandboxState

NAME = "bulk import"
LATENCY = 0.1
BATCH = 500
IN_FLIGHT = 4
GOAL_RATIO = 1.0
GOAL_RSS_MB = 250
GOAL_RESULT_BYTES = 4096


async def handwritten_import(http: httpx2.AsyncClient, base_url: str, group_id: int, phones: list[str]) -> int:
    """The baseline: E.164 numbers in batches of 500, 4 requests in flight; returns how many were created."""
    batches: Iterator[list[str]] = (phones[i : i + BATCH] for i in range(0, len(phones), BATCH))
    created = 0

    async def worker() -> None:
        nonlocal created
        for batch in batches:  # one shared iterator: each batch goes to exactly one worker
            response = await http.post(
                f"{base_url}/groups/{group_id}/phones/batch",
                json=[{"phone": phone} for phone in batch],
                headers={"X-LOX24-AUTH-TOKEN": DEMO_TOKEN, "Accept": "application/json"},
            )
            response.raise_for_status()
            created += sum(1 for item in response.json() if 200 <= item["status"] < 300)

    async with anyio.create_task_group() as tg:
        for _ in range(IN_FLIGHT):
            tg.start_soon(worker)
    return created


def tool_arguments(group_id: int, phones: list[str]) -> dict[str, Any]:
    return {"group_id": group_id, "phones": [{"phone": national_de(p)} for p in phones], "default_region": "DE"}


async def main(quick: bool) -> list[Row]:
    count = 2_000 if quick else 20_000
    runs = 1 if quick else 3
    phones = german_mobiles(count, seed=11)
    rows: list[Row] = []
    with SandboxServer(SandboxState(seed_demo_data=False, faults=Faults(latency=LATENCY))) as sandbox:
        state = sandbox.state
        settings = Settings(api_token=SecretStr(DEMO_TOKEN), base_url=sandbox.url)
        async with (
            Client(create_server(settings), read_timeout_seconds=300) as client,
            httpx2.AsyncClient(timeout=60) as http,
        ):
            await client.list_tools()

            async def ours(numbers: list[str] = phones) -> None:
                group_id = state.add_group("bench: bulk import (mcp)")
                result = await client.call_tool("add_phones_to_group", tool_arguments(group_id, numbers))
                check_import(result, len(numbers), "add_phones_to_group")

            async def baseline(numbers: list[str] = phones) -> None:
                group_id = state.add_group("bench: bulk import (hand-written)")
                created = await handwritten_import(http, sandbox.url, group_id, numbers)
                if created != len(numbers):
                    raise RuntimeError(f"the hand-written importer created {created} of {len(numbers)}")

            sides: dict[str, Callable[[], Awaitable[None]]] = {"mcp": ours, "hand-written": baseline}
            with anyio.fail_after(900):
                # Warm-up, not timed: connection pools, phonenumbers' lazily loaded metadata, code paths.
                warmup = german_mobiles(2 * BATCH, seed=12)
                await ours(warmup)
                await baseline(warmup)
                samples = await interleaved(sides, runs=runs)
        for name, values in samples.wall.items():
            cpu = " ".join(f"{v:.2f}" for v in samples.cpu[name])
            say(f"  {name:<13} wall " + " ".join(f"{v:.2f}" for v in values) + f" s; process CPU {cpu} s")
        mcp_s, base_s = median(samples.wall["mcp"]), median(samples.wall["hand-written"])
        mcp_cpu, base_cpu = median(samples.cpu["mcp"]), median(samples.cpu["hand-written"])
        ratio = mcp_s / base_s
        rows.append(
            Row(
                f"bulk import {count:,} (latency {LATENCY} s)",
                f"{mcp_s:.2f} s",
                f"{base_s:.2f} s",
                ratio,
                f"ratio ≤ {GOAL_RATIO:.1f}",
                ratio <= GOAL_RATIO,
                f"in-memory client, median of {runs}, interleaved",
            )
        )
        rows.append(
            Row(
                f"bulk import {count:,}: CPU of this process",
                f"{mcp_cpu:.2f} s",
                f"{base_cpu:.2f} s",
                mcp_cpu / base_cpu,
                "—",
                None,
                f"incl. the sandbox thread; ours adds {(mcp_cpu - base_cpu) / count * 1e6:.0f} µs/contact",
            )
        )
        rows.extend(await over_stdio(sandbox, phones, base_s))
    return rows


async def over_stdio(sandbox: SandboxServer, phones: list[str], baseline_s: float) -> list[Row]:
    """The same import through the console script over stdio: peak RSS and result size."""
    group_id = sandbox.state.add_group("bench: bulk import (stdio)")
    arguments = tool_arguments(group_id, phones)
    request_bytes = len(json.dumps(arguments, separators=(",", ":")).encode())
    env = {"LOX24_BASE_URL": sandbox.url, "LOX24_API_TOKEN": DEMO_TOKEN}
    call = await call_over_stdio(env, "add_phones_to_group", arguments, within=600, read_timeout=300)
    content = check_import(call.result, len(phones), "add_phones_to_group")
    size, wire = result_bytes(call.result)
    say(
        f"  stdio: {call.seconds:.2f} s for a {request_bytes / 1e6:.2f} MB request; RSS idle {mib(call.idle_kb)}, "
        f"peak {mib(call.peak_kb)}, after {mib(call.after_kb)}; result {size} B ({wire} B as sent)"
    )
    say(f"  result: {json.dumps(content)[:300]}")
    return [
        Row(
            f"bulk import {len(phones):,} over stdio",
            f"{call.seconds:.2f} s",
            f"{baseline_s:.2f} s",
            call.seconds / baseline_s,
            "—",
            None,
            "console script as a subprocess (no GIL shared with the sandbox); one run",
        ),
        *footprint_rows(
            f"bulk import {len(phones):,}",
            call,
            rss_goal_mb=GOAL_RSS_MB,
            result_goal_bytes=GOAL_RESULT_BYTES,
            rss_note="VmHWM of the stdio subprocess; baseline: its RSS before the call",
        ),
    ]
