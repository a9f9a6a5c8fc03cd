"""Shared helpers for the benchmarks: result rows, statistics, child processes, loopback probes and test data.

The benchmarks are scripts, not tests: each one measures our figure and a baseline side by side in one
run and returns `Row`s that `run.py` prints as a table.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, TextContent

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
#: Every wait on another process or server is bounded by this many seconds at most.
MAX_WAIT = 300.0


# ----------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class Row:
    """One line of the results table.

    `ratio` is ours / baseline where both are comparable; `passed` is None for informational rows.
    """

    name: str
    ours: str
    baseline: str
    ratio: float | None
    goal: str
    passed: bool | None
    note: str = ""


def format_table(rows: Sequence[Row]) -> str:
    """The rows as a fixed-width text table."""
    header = ("benchmark", "ours", "baseline", "ratio", "goal", "result", "note")
    lines = [
        (
            row.name,
            row.ours,
            row.baseline,
            "—" if row.ratio is None else f"{row.ratio:.2f}",
            row.goal,
            "info" if row.passed is None else ("PASS" if row.passed else "FAIL"),
            row.note,
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(cells) for cells in lines)])


def say(text: str = "") -> None:
    """Progress and details, flushed at once (the table comes at the end)."""
    print(text, flush=True)


# ----------------------------------------------------------------------------- statistics


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("no samples")
    return float(statistics.median(values))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100), linear interpolation between closest ranks."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    """Seconds `call()` took."""
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


@dataclass
class Samples:
    """Per side: wall seconds, and CPU seconds of this whole process (every thread, the in-process sandbox too)."""

    wall: dict[str, list[float]]
    cpu: dict[str, list[float]]


async def interleaved(sides: Mapping[str, Callable[[], Awaitable[object]]], *, runs: int, warmup: int = 0) -> Samples:
    """Run every side once per round, rotating which goes first; warm-up rounds are dropped."""
    names = list(sides)
    samples = Samples({name: [] for name in names}, {name: [] for name in names})
    for round_no in range(warmup + runs):
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            cpu = time.process_time()
            elapsed = await timed(sides[name])
            cpu = time.process_time() - cpu
            if round_no >= warmup:
                samples.wall[name].append(elapsed)
                samples.cpu[name].append(cpu)
    return samples


# ----------------------------------------------------------------------------- processes


def console_script(name: str = "lox24-mcp") -> str:
    """The venv's console script, next to the interpreter running the benchmarks."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(
        name, path=str(ROOT / ".venv" / "bin")
    )
    if found is None:
        raise RuntimeError(f"the {name} console script is not installed (run: .venv/bin/pip install -e . --no-deps)")
    return found


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment without any LOX24_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOX24_", "OTEL_"))}
    env.update(extra)
    return env


def children_matching(text: str) -> list[int]:
    """PIDs of this process's direct children whose command line contains `text`."""
    me = os.getpid()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # The command name (field 2) may contain spaces; the parent pid is the 2nd field after ')'.
        ppid = int(stat.rpartition(")")[2].split()[1])
        if ppid == me and text in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of `pid` in KiB, from /proc/<pid>/status; empty if it is gone."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds `pid` has used so far (from /proc/<pid>/stat); 0.0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime field 14, stime field 15 (1-based, man 5 proc).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MB"


class ManagedProcess:
    """A child process in its own session, stopped with its whole group on exit (SIGTERM, then SIGKILL).

    stdout and stderr go to a temporary file, shown by `output_tail()` when something fails.
    """

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path = ROOT) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self._log: IO[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def output_tail(self, limit: int = 2000) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-limit:]

    def __enter__(self) -> ManagedProcess:
        self._log = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            self._log.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        proc, self._proc = self._proc, None
        try:
            if proc is not None:
                stop_process_group(proc)
        finally:
            if self._log is not None:
                self._log.close()


def stop_process_group(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM the child's process group, wait up to `grace` s, then SIGKILL it; always reaps the child."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    if proc.poll() is None:
        proc.wait(timeout=grace)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_for_port(port: int, process: ManagedProcess, within: float = 30.0) -> None:
    """Return once 127.0.0.1:`port` accepts connections; fail if `process` exits or `within` seconds pass."""
    with anyio.fail_after(within):
        while True:
            if not process.alive():
                raise RuntimeError(f"server exited before listening:\n{process.output_tail()}")
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.05)
                continue
            await stream.aclose()
            return


# ----------------------------------------------------------------------------- one import over stdio


@dataclass(frozen=True)
class StdioCall:
    """One tool call through the console script over stdio, and the server process's memory around it."""

    result: CallToolResult
    seconds: float
    idle_kb: int  # VmRSS before the call
    after_kb: int  # VmRSS after it
    peak_kb: int  # VmHWM after it


async def call_over_stdio(
    env: Mapping[str, str], tool: str, arguments: Mapping[str, Any], *, within: float, read_timeout: float
) -> StdioCall:
    """`tool(arguments)` through `lox24-mcp` started over stdio with `env`, timed, with its RSS before and after."""
    params = StdioServerParameters(command=console_script(), env=dict(env), cwd=ROOT)
    with anyio.fail_after(within):
        async with Client(params, read_timeout_seconds=read_timeout) as client:
            await client.list_tools()
            pids = children_matching("lox24-mcp")
            if len(pids) != 1:
                raise RuntimeError(f"expected one lox24-mcp child process, found {pids}")
            idle = memory_kb(pids[0])
            results: list[CallToolResult] = []

            async def call() -> None:
                results.append(await client.call_tool(tool, dict(arguments)))

            elapsed = await timed(call)
            after = memory_kb(pids[0])
    return StdioCall(results[0], elapsed, idle["VmRSS"], after["VmRSS"], after["VmHWM"])


def check_import(result: CallToolResult, expected: int, tool: str) -> dict[str, Any]:
    """The structured result of an import that created `expected` contacts, or RuntimeError."""
    content: dict[str, Any] | None = result.structured_content
    if result.is_error or content is None or content.get("created") != expected:
        text = " ".join(c.text for c in result.content if isinstance(c, TextContent))
        raise RuntimeError(f"{tool} did not create {expected}: {content or text[:500]}")
    return content


def result_bytes(result: CallToolResult) -> tuple[int, int]:
    """(structured content as compact JSON + text content, whole result as sent) in bytes."""
    structured = json.dumps(result.structured_content, separators=(",", ":"), ensure_ascii=False).encode()
    text = sum(len(c.text.encode()) for c in result.content if isinstance(c, TextContent))
    wire = len(result.model_dump_json(by_alias=True, exclude_none=True).encode())
    return len(structured) + text, wire


def footprint_rows(
    label: str, call: StdioCall, *, rss_goal_mb: int, result_goal_bytes: int, rss_note: str
) -> list[Row]:
    """The server's peak RSS during `call` and the size of its result, as two rows with goals."""
    size, wire = result_bytes(call.result)
    return [
        Row(
            f"{label}: server peak RSS",
            mib(call.peak_kb),
            f"{mib(call.idle_kb)} idle",
            call.peak_kb / call.idle_kb,
            f"≤ {rss_goal_mb} MB",
            call.peak_kb / 1024 <= rss_goal_mb,
            rss_note,
        ),
        Row(
            f"{label}: tool result size",
            f"{size:,} B",
            "—",
            None,
            f"≤ {result_goal_bytes // 1024} KB",
            size <= result_goal_bytes,
            f"structured JSON + text; {wire:,} B whole result",
        ),
    ]


# ----------------------------------------------------------------------------- loopback probe


def keepalive_round_trip_ms(base_url: str, token: str, rounds: int = 7) -> float:
    """Median ms of `GET /groups` on ONE kept-alive raw socket (requests 2..n), to expose Nagle stalls.

    A server whose accepted sockets lack TCP_NODELAY and that writes headers and body separately
    answers every request after the first ~40 ms late (the client's delayed ACK).
    """
    host, _, port = base_url.removeprefix("http://").partition(":")
    request = (
        f"GET /groups HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"X-LOX24-AUTH-TOKEN: {token}\r\nAccept: application/json\r\n\r\n"
    ).encode()
    times: list[float] = []
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(rounds):
            started = time.perf_counter()
            sock.sendall(request)
            _read_http_response(sock)
            times.append(time.perf_counter() - started)
    return median(times[1:]) * 1000


def _read_http_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed mid-body")
        body += chunk
    return body


# ----------------------------------------------------------------------------- test data


def german_mobiles(count: int, *, seed: int) -> list[str]:
    """`count` distinct valid German mobile numbers in E.164 (`+49151` and 8 digits), reproducible per seed."""
    rng = random.Random(seed)
    return [f"+49151{n:08d}" for n in rng.sample(range(10**8), count)]


def national_de(e164: str) -> str:
    """`+4915112345678` written the German national way: `0151 12345678`."""
    return f"0{e164[3:6]} {e164[6:]}"


def number_stream(*, seed: int) -> Iterator[str]:
    """An endless supply of distinct valid German mobile numbers in E.164."""
    rng = random.Random(seed)
    start = rng.randrange(10**7)
    for n in range(start, 10**8):
        yield f"+49152{n:08d}"
    raise RuntimeError("number supply exhausted")
