"""Per-call overhead of the MCP layer: a tool call through an in-memory `mcp.Client` vs the same `Lox24Client` calls.

Both sides talk to the same sandbox on loopback and make the same LOX24 requests (`add_phones_to_group`
reads the group's contacts, then posts the batch), one call at a time, interleaved; the figure that matters is
the difference of the medians. To apportion that difference, the run also times the SDK's floor (a bare
one-tool server's `echo` through the same kind of client) and the client-side check of each structured
result against the tool's output schema (the Python SDK client validates every result with `jsonschema`).
A first row checks the sandbox itself: a kept-alive loopback round trip must take about a millisecond, or
every other figure here measures the sandbox's socket, not our code.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio
from bench_common import Row, interleaved, keepalive_round_trip_ms, median, number_stream, say
from mcp import Client
from mcp.types import CallToolResult
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.lox24.client import Lox24Client
from lox24_mcp.lox24.models import SmsFilters
from lox24_mcp.mcp.app import create_server
from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer, SandboxState

NAME = "call overhead"
GOAL_DELTA_MS = 2.0
GOAL_RTT_MS = 5.0


async def main(quick: bool) -> list[Row]:
    runs = 30 if quick else 200
    rows: list[Row] = []
    with SandboxServer(SandboxState(seed_demo_data=True)) as sandbox:
        rtt = await anyio.to_thread.run_sync(keepalive_round_trip_ms, sandbox.url, DEMO_TOKEN)
        stalled = rtt > 20
        rows.append(
            Row(
                "sandbox: kept-alive loopback round trip",
                f"{rtt:.2f} ms",
                "—",
                None,
                f"≤ {GOAL_RTT_MS:.0f} ms",
                rtt <= GOAL_RTT_MS,
                "~40 ms = Nagle/delayed-ACK stall (no TCP_NODELAY)" if stalled else "raw socket, GET /groups",
            )
        )
        group_id = sandbox.state.add_group("bench: call overhead")
        settings = Settings(api_token=SecretStr(DEMO_TOKEN), base_url=sandbox.url)
        numbers = number_stream(seed=2)
        de = SmsFilters.model_validate({"iso2": "DE"})

        import bare_server  # here, not at the top: building its MCPServer configures logging

        last: dict[str, CallToolResult] = {}
        async with (
            Client(create_server(settings), read_timeout_seconds=30) as client,
            Client(bare_server.server, read_timeout_seconds=30) as bare,
            Lox24Client(SecretStr(DEMO_TOKEN), base_url=sandbox.url) as direct,
        ):
            await client.list_tools()
            await bare.list_tools()

            async def mcp_add() -> None:
                result = await client.call_tool(
                    "add_phones_to_group", {"group_id": group_id, "phones": [{"phone": next(numbers)}]}
                )
                if result.is_error or result.structured_content is None or result.structured_content["created"] != 1:
                    raise RuntimeError(f"add_phones_to_group failed: {result}")
                last["add_phones_to_group"] = result

            async def direct_add() -> None:
                # The tool reads the group first (contacts already in it are skipped, never doubled): so here.
                await direct.group_contacts(group_id)
                (item,) = await direct.add_phones(group_id, [{"phone": next(numbers)}])
                if not item.ok:
                    raise RuntimeError(f"add_phones failed: {item}")

            async def mcp_search() -> None:
                result = await client.call_tool("search_sms", {"iso2": "DE"})
                if result.is_error or result.structured_content is None or not result.structured_content["total"]:
                    raise RuntimeError(f"search_sms failed: {result}")
                last["search_sms"] = result

            async def direct_search() -> None:
                page = await direct.search_sms(de)
                if not page.total:
                    raise RuntimeError("search_sms found nothing")

            async def bare_echo() -> None:
                result = await bare.call_tool("echo", {"text": "hello"})
                if result.is_error:
                    raise RuntimeError(f"echo failed: {result}")

            sides: dict[str, Callable[[], Awaitable[None]]] = {
                "mcp add": mcp_add,
                "direct add": direct_add,
                "mcp search": mcp_search,
                "direct search": direct_search,
                "bare echo": bare_echo,
            }
            with anyio.fail_after(600):
                samples = (await interleaved(sides, runs=runs, warmup=5)).wall
                # The client's check of a result against the output schema, alone (it is part of every call above).
                validation: dict[str, float] = {}
                for name, result in last.items():
                    times: list[float] = []
                    for _ in range(runs):
                        started = time.perf_counter()
                        await client.session.validate_tool_result(name, result)
                        times.append(time.perf_counter() - started)
                    validation[name] = median(times) * 1000

    floor = median(samples["bare echo"]) * 1000
    say(f"  SDK floor: a bare one-tool server's echo round trip takes {floor:.2f} ms (median of {runs})")
    rows.append(
        Row(
            "MCP floor: bare one-tool echo",
            f"{floor:.2f} ms",
            "—",
            None,
            "—",
            None,
            "in-memory Client, same SDK: the part no server code can remove",
        )
    )
    for tool, key, name in (
        ("add_phones_to_group (1 contact)", "add", "add_phones_to_group"),
        ("search_sms (iso2=DE)", "search", "search_sms"),
    ):
        ours, base = median(samples[f"mcp {key}"]) * 1000, median(samples[f"direct {key}"]) * 1000
        delta = ours - base
        check = validation.get(name, 0.0)
        rest = delta - floor - check
        say(
            f"  {tool}: MCP {ours:.2f} ms, direct {base:.2f} ms, Δ {delta:+.2f} ms = SDK floor {floor:.2f} "
            f"+ client schema check {check:.2f} + the rest (tool body, argument/result models) {rest:.2f}"
        )
        rows.append(
            Row(
                f"MCP layer per call: {tool}",
                f"{ours:.2f} ms",
                f"{base:.2f} ms",
                ours / base,
                f"Δ ≤ {GOAL_DELTA_MS:.0f} ms",
                delta <= GOAL_DELTA_MS,
                f"Δ {delta:+.2f} ms (floor {floor:.2f}, schema check {check:.2f}, rest {rest:.2f}), n={runs}"
                + ("; sandbox stalls ~40 ms/call" if stalled else ""),
            )
        )
    return rows
