"""HTTP under load: `lox24-mcp --transport http` as a subprocess, 50 concurrent MCP sessions × 20 tool calls.

The server talks to a sandbox run in this process; the sessions use the official `mcp.Client(url)` and mix
`list_groups` with `search_sms`. Reported: errors (zero expected), p50/p99 latency per call against the same
calls made one at a time by a single session, throughput, and the server's RSS before and after.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import anyio
from bench_common import (
    ManagedProcess,
    Row,
    child_env,
    console_script,
    cpu_seconds,
    free_port,
    memory_kb,
    mib,
    percentile,
    say,
    wait_for_port,
)
from mcp import Client

from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer, SandboxState

NAME = "http load"
CALLS: list[tuple[str, dict[str, object]]] = [("list_groups", {}), ("search_sms", {"iso2": "DE"})]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def session(url: str, calls: int, offset: int, tally: Tally) -> None:
    """One MCP session: list the tools (as clients do), then `calls` timed tool calls."""
    try:
        async with Client(url, read_timeout_seconds=60) as client:
            await client.list_tools()
            for i in range(calls):
                name, arguments = CALLS[(offset + i) % len(CALLS)]
                started = anyio.current_time()
                result = await client.call_tool(name, dict(arguments))
                tally.latencies.append(anyio.current_time() - started)
                if result.is_error:
                    tally.errors.append(f"{name}: {result.content}"[:200])
    except Exception as exc:  # noqa: BLE001 (every failure is counted and shown; none may stop the others)
        tally.errors.append(f"session: {type(exc).__name__}: {exc}"[:200])


async def main(quick: bool) -> list[Row]:
    sessions, calls = (10, 5) if quick else (50, 20)
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    with SandboxServer(SandboxState(seed_demo_data=True)) as sandbox:
        argv = [console_script(), "--transport", "http", "--host", "127.0.0.1", "--port", str(port)]
        env = child_env(LOX24_BASE_URL=sandbox.url, LOX24_API_TOKEN=DEMO_TOKEN)
        with ManagedProcess(argv, env=env) as server:
            await wait_for_port(port, server)
            before = memory_kb(server.pid)

            # Unloaded latency: the same mix from one session, one call at a time.
            single = Tally()
            with anyio.fail_after(120):
                await session(url, 2 * calls, 0, single)
            warm = memory_kb(server.pid)

            loaded = Tally()
            server_cpu, own_cpu = cpu_seconds(server.pid), time.process_time()
            started = anyio.current_time()
            with anyio.fail_after(300):
                async with anyio.create_task_group() as tg:
                    for n in range(sessions):
                        tg.start_soon(session, url, calls, n, loaded)
            wall = anyio.current_time() - started
            server_cpu, own_cpu = cpu_seconds(server.pid) - server_cpu, time.process_time() - own_cpu
            after = memory_kb(server.pid)
            if not server.alive():
                loaded.errors.append(f"server exited: {server.output_tail()}")

    if single.errors or not single.latencies:
        raise RuntimeError(f"a single session failed: {single.errors[:3]}")
    total = sessions * calls
    done = len(loaded.latencies)
    p50, p99 = percentile(loaded.latencies, 50) * 1000, percentile(loaded.latencies, 99) * 1000
    base50 = percentile(single.latencies, 50) * 1000
    say(
        f"  {sessions} sessions × {calls} calls: {done}/{total} done, {len(loaded.errors)} errors in {wall:.1f} s "
        f"({done / wall:.0f} calls/s); p50 {p50:.1f} ms, p99 {p99:.1f} ms; one session alone: p50 {base50:.1f} ms"
    )
    say(
        f"  CPU during the load: server {server_cpu:.2f} s ({server_cpu / wall:.0%} of one core, "
        f"{server_cpu / max(done, 1) * 1000:.1f} ms per call); this process (clients + sandbox) {own_cpu:.2f} s"
    )
    say(
        f"  server RSS: {mib(before['VmRSS'])} after start, {mib(warm['VmRSS'])} after one session, "
        f"{mib(after['VmRSS'])} after the load (peak {mib(after['VmHWM'])})"
    )
    for error in loaded.errors[:5]:
        say(f"  error: {error}")
    return [
        Row(
            f"HTTP load {sessions}×{calls}: errors",
            f"{len(loaded.errors)} ({done}/{total} calls)",
            "—",
            None,
            "0",
            not loaded.errors and done == total,
            f"{done / wall:.0f} calls/s; server CPU {server_cpu / max(done, 1) * 1000:.1f} ms/call",
        ),
        Row(
            f"HTTP load {sessions}×{calls}: latency p50 / p99",
            f"{p50:.1f} / {p99:.1f} ms",
            f"{base50:.1f} ms p50 alone",
            p50 / base50,
            "—",
            None,
            "ratio: p50 loaded / p50 of one session alone",
        ),
        Row(
            f"HTTP load {sessions}×{calls}: server RSS",
            f"{mib(after['VmRSS'])} after",
            f"{mib(before['VmRSS'])} before",
            after["VmRSS"] / before["VmRSS"],
            "—",
            None,
            f"peak {mib(after['VmHWM'])}",
        ),
    ]
