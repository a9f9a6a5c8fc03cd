"""Cold start: spawn → connect (initialize / server/discover) → tools/list over stdio, lox24-mcp vs a bare server.

Both servers are started by the official `mcp.Client(StdioServerParameters(...))` with the same interpreter,
alternating, and timed until `tools/list` has answered (shutdown is not timed). When lox24-mcp is slower,
`-X importtime` of both shows what it imports that the bare server does not, and a split of import time
versus server construction shows where the rest goes.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass

import anyio
from bench_common import BENCH_DIR, ROOT, Row, child_env, console_script, median, say
from mcp import Client, StdioServerParameters

NAME = "cold start"
GOAL_RATIO = 1.10
#: An unroutable LOX24: the server must start without ever calling it.
NO_LOX24 = {"LOX24_API_TOKEN": "1:x", "LOX24_BASE_URL": "http://127.0.0.1:9"}


def lox24_params() -> StdioServerParameters:
    return StdioServerParameters(command=console_script(), env=NO_LOX24, cwd=ROOT)


def bare_params() -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=[str(BENCH_DIR / "bare_server.py")], cwd=ROOT)


@dataclass(frozen=True)
class Start:
    wall: float
    cpu: float


async def start_and_list(params: StdioServerParameters) -> Start:
    """One cold start: wall seconds until `tools/list` answered, and the server's CPU seconds (user + sys).

    The CPU time comes from `RUSAGE_CHILDREN` once the SDK has reaped the process at the end of the session;
    it hardly moves when other work competes for the CPUs, so it corroborates the wall-clock ratio.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with anyio.fail_after(60):
        started = time.perf_counter()
        async with Client(params, read_timeout_seconds=30) as client:
            tools = await client.list_tools()
            wall = time.perf_counter() - started
            if not tools.tools:
                raise RuntimeError(f"{params.command} listed no tools")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Start(wall, cpu)


async def main(quick: bool) -> list[Row]:
    runs = 3 if quick else 11
    sides = {"lox24-mcp": lox24_params(), "bare": bare_params()}
    samples: dict[str, list[Start]] = {name: [] for name in sides}
    names = list(sides)
    # The first start of each (not counted) warms the page cache and writes .pyc files.
    for round_no in range(runs + 1):
        for name in names if round_no % 2 == 0 else names[::-1]:
            start = await start_and_list(sides[name])
            if round_no:
                samples[name].append(start)
    for name, starts in samples.items():
        say(f"  {name:<10} wall " + " ".join(f"{s.wall * 1000:.0f}" for s in starts) + " ms")
        say(f"  {'':<10} cpu  " + " ".join(f"{s.cpu * 1000:.0f}" for s in starts) + " ms")
    ours, base = (median([s.wall for s in samples[n]]) for n in names)
    ours_cpu, base_cpu = (median([s.cpu for s in samples[n]]) for n in names)
    ratio = ours / base
    rows = [
        Row(
            "cold start: spawn→tools/list (stdio)",
            f"{ours * 1000:.0f} ms",
            f"{base * 1000:.0f} ms",
            ratio,
            f"ratio ≤ {GOAL_RATIO:.2f}",
            ratio <= GOAL_RATIO,
            f"wall, median of {runs}, alternating",
        ),
        Row(
            "cold start: server CPU (user+sys)",
            f"{ours_cpu * 1000:.0f} ms",
            f"{base_cpu * 1000:.0f} ms",
            ours_cpu / base_cpu,
            "—",
            None,
            "whole server life; robust to a busy machine",
        ),
    ]
    if not quick or ratio > GOAL_RATIO:
        rows.extend(await diagnose(quick))
    return rows


# ----------------------------------------------------------------------------- diagnosis


@dataclass(frozen=True)
class ImportLine:
    module: str
    self_us: int
    cumulative_us: int


def parse_importtime(stderr: str) -> dict[str, ImportLine]:
    """`-X importtime` output → module → times (the first import of each module)."""
    found: dict[str, ImportLine] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3:
            continue
        module = parts[2].strip()
        found.setdefault(module, ImportLine(module, int(parts[0]), int(parts[1])))
    return found


def importtime_of(argv: list[str], env: dict[str, str]) -> dict[str, ImportLine]:
    """Start a stdio server under `-X importtime` with stdin at EOF (so it exits at once) and parse the log."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )
    return parse_importtime(done.stderr)


SPLIT_LOX24 = """
import json, time
t0 = time.perf_counter()
import lox24_mcp.cli, lox24_mcp.mcp.app
from lox24_mcp.config import Settings
from pydantic import SecretStr
t1 = time.perf_counter()
lox24_mcp.mcp.app.create_server(Settings(api_token=SecretStr("1:x"), base_url="http://127.0.0.1:9"))
t2 = time.perf_counter()
from lox24_mcp.lox24.client import Lox24Client
Lox24Client(SecretStr("1:x"), base_url="http://127.0.0.1:9")  # what the lifespan does before serving
t3 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1, t3 - t2]))
"""

SPLIT_BARE = """
import json, time
t0 = time.perf_counter()
from mcp.server import MCPServer
t1 = time.perf_counter()
server = MCPServer("bare")
@server.tool()
async def echo(text: str) -> str:
    return text
t2 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1, 0.0]))
"""


def startup_split(code: str, rounds: int = 3) -> tuple[float, float, float]:
    """Median seconds of (imports, server construction, lifespan set-up) of `code` in fresh interpreters."""
    phases: list[list[float]] = [[], [], []]
    for _ in range(rounds):
        done = subprocess.run(
            [sys.executable, "-c", code],
            env=child_env(),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        for phase, seconds in zip(phases, json.loads(done.stdout.strip().splitlines()[-1]), strict=True):
            phase.append(float(seconds))
    imported, built, lifespan = (median(phase) for phase in phases)
    return imported, built, lifespan


async def diagnose(quick: bool) -> list[Row]:
    say("  diagnosis: -X importtime of both servers (stdin at EOF; its own overhead inflates the figures), then")
    say("  imports / server construction / lifespan set-up timed inside fresh interpreters")
    lox24_imports = await anyio.to_thread.run_sync(importtime_of, [console_script()], child_env(**NO_LOX24))
    bare_imports = await anyio.to_thread.run_sync(importtime_of, [str(BENCH_DIR / "bare_server.py")], child_env())
    extra = {name: line for name, line in lox24_imports.items() if name not in bare_imports}
    extra_ms = sum(line.self_us for line in extra.values()) / 1000
    by_package: dict[str, int] = defaultdict(int)
    for line in extra.values():
        by_package[line.module.split(".")[0]] += line.self_us
    say(f"  modules imported only by lox24-mcp: {len(extra)}, {extra_ms:.0f} ms of import time (self, summed)")
    for package, us in sorted(by_package.items(), key=lambda kv: -kv[1])[:8]:
        say(f"    {package:<24} {us / 1000:6.1f} ms")
    say("  slowest of those modules (self time):")
    for line in sorted(extra.values(), key=lambda item: -item.self_us)[:8]:
        say(f"    {line.module:<40} {line.self_us / 1000:6.1f} ms")

    rounds = 1 if quick else 3
    lox = await anyio.to_thread.run_sync(startup_split, SPLIT_LOX24, rounds)
    bare = await anyio.to_thread.run_sync(startup_split, SPLIT_BARE, rounds)
    say(
        f"  in-process, ms: imports {lox[0] * 1000:.0f} vs {bare[0] * 1000:.0f}; server construction "
        f"{lox[1] * 1000:.0f} vs {bare[1] * 1000:.0f}; lifespan (Lox24Client → httpx2.AsyncClient) "
        f"{lox[2] * 1000:.0f} vs 0"
    )
    top = ", ".join(f"{p} {us / 1000:.0f} ms" for p, us in sorted(by_package.items(), key=lambda kv: -kv[1])[:3])
    return [
        Row(
            "cold start: extra imports (importtime)",
            f"{extra_ms:.0f} ms ({len(extra)} modules)",
            "0 ms",
            None,
            "—",
            None,
            top,
        ),
        Row(
            "cold start: import/construct/lifespan",
            " / ".join(f"{t * 1000:.0f}" for t in lox) + " ms",
            " / ".join(f"{t * 1000:.0f}" for t in bare) + " ms",
            sum(lox) / sum(bare),
            "—",
            None,
            f"in-process, median of {rounds} fresh interpreter(s)",
        ),
    ]
