"""Load for team deployments: lox24-mcp vs a bare MCPServer, 1 vs 2 replicas behind nginx, tenant overhead.

Every server is a real process on loopback. The load is 2026-07-28 `tools/call` requests (stateless,
what replicas behind a load balancer serve) from `wrk` (Debian's package): N connections, each a client
that sends a call, waits for the answer and sends the next, until N × calls answers are in (the bodies
are what `mcp.Client` sends, see wrk_calls.lua). wrk is C and costs ~1 % of a core here, so the load
generator does not take the CPU the servers are measured on.

LOX24 is played by nginx serving the sandbox's own answer to `GET /groups?page=1` (recorded from a
`lox24-mcp sandbox-api` at the start): in every real deployment LOX24 is remote and its CPU is not
ours; a Python sandbox on the same two cores would take a third of the CPU the replicas are measured
on.

1. One replica vs a bare one-tool `MCPServer` doing the same job (`bare_server.py --lox24`: the same
   `GET /groups` with httpx2, LOX24's JSON returned as it came), same load, rounds interleaved: p50 and
   p99 (the goal), the CPU per call of each. The same load against a bare `echo`, which does no LOX24
   request at all, is printed beside it for scale.
2. Throughput through nginx (deploy/nginx/lox24-mcp.conf, reduced to 1 or 2 replicas), same load,
   rounds interleaved.
3. Per-call latency, one client, server credentials vs `LOX24_MCP_CREDENTIALS=client` (the token in
   `X-LOX24-AUTH-TOKEN`), two replicas side by side against the same LOX24 stand-in, calls interleaved:
   the difference of medians.
"""

from __future__ import annotations

import itertools
import json
import re
import resource
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2
from bench_common import (
    BENCH_DIR,
    ROOT,
    ManagedProcess,
    Row,
    child_env,
    console_script,
    cpu_seconds,
    free_port,
    median,
    say,
    wait_for_port,
)

from lox24_mcp.sandbox import DEMO_TOKEN

NAME = "teams"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2026-07-28",
    "Mcp-Method": "tools/call",
}
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
_ids = itertools.count(1)


def call_body(tool: str, arguments: Mapping[str, object]) -> bytes:
    params = {"name": tool, "arguments": dict(arguments), "_meta": META}
    return json.dumps({"jsonrpc": "2.0", "id": next(_ids), "method": "tools/call", "params": params}).encode()


def succeeded(response: httpx2.Response) -> bool:
    """A JSON-RPC result that is not a tool error, whether answered as JSON or as one SSE event."""
    if response.status_code != 200:
        return False
    text = response.text
    if "text/event-stream" in response.headers.get("content-type", ""):
        data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
        text = data[-1] if data else ""
    try:
        message = json.loads(text)
    except ValueError:
        return False
    result = message.get("result") if isinstance(message, dict) else None
    return isinstance(result, dict) and result.get("isError") is not True


WRK = shutil.which("wrk")
WRK_SCRIPT = BENCH_DIR / "wrk_calls.lua"
RESULT = re.compile(
    r"RESULT requests=(\d+) errors=(\d+) socket_errors=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+)"
)
ARGUMENTS: dict[str, dict[str, object]] = {"echo": {"text": "hello"}, "list_groups": {}}


@dataclass(frozen=True)
class Load:
    """What one wrk run measured: `cpu_ms` is CPU per answered call of each watched process and of wrk,
    `idle` the share of the machine's CPU time nobody used meanwhile."""

    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_ms: dict[str, float]
    idle: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds


def run_wrk(
    url: str, tool: str, *, clients: int, calls: int, host: str | None, watch: Mapping[str, int], bound: float
) -> Load:
    """`clients` connections until clients × calls answers are in; wrk stops by itself after `bound` s."""
    assert WRK is not None
    env = child_env(TOOL=tool, ARGS=json.dumps(ARGUMENTS[tool]), CALLS=str(clients * calls))
    argv = [WRK, "-t1", f"-c{clients}", f"-d{int(bound)}s", "--timeout", "30s", "-s", str(WRK_SCRIPT)]
    argv += ["-H", f"Host: {host}"] if host else []
    before = {name: cpu_seconds(pid) for name, pid in watch.items()}
    children, machine = resource.getrusage(resource.RUSAGE_CHILDREN), machine_times()
    proc = subprocess.Popen([*argv, url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # ends at the latest when wrk does, after `bound` seconds
            if line.strip() == "DONE":
                proc.send_signal(signal.SIGINT)  # wrk stops and prints its summary
                break
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    found = RESULT.search(output)
    if found is None:
        raise RuntimeError(f"wrk printed no result:\n{output[-2000:]}")
    requests, errors, socket_errors, duration_us, p50_us, p99_us = map(int, found.groups())
    spent = {name: (cpu_seconds(pid) - before[name]) / max(requests, 1) * 1000 for name, pid in watch.items()}
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk is the only child reaped meanwhile
    wrk_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    spent["wrk"] = wrk_cpu / max(requests, 1) * 1000
    busy, total = (b - a for a, b in zip(machine, machine_times(), strict=True))
    idle = 1 - busy / total if total else 0.0
    return Load(requests, errors + socket_errors, duration_us / 1e6, p50_us / 1000, p99_us / 1000, spent, idle)


def machine_times() -> tuple[int, int]:
    """Busy and total jiffies of all CPUs so far (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


async def load(
    url: str,
    tool: str,
    *,
    clients: int,
    calls: int,
    host: str | None = None,
    watch: Mapping[str, int] | None = None,
    bound: float = 120.0,
) -> Load:
    return await anyio.to_thread.run_sync(
        lambda: run_wrk(url, tool, clients=clients, calls=calls, host=host, watch=watch or {}, bound=bound)
    )


def stub_site(listen: int, answer: Path, content_type: str) -> str:
    """LOX24 as nginx: `GET /groups` answered with the sandbox's recorded answer, anything else 404."""
    return (
        f"server {{ listen 127.0.0.1:{listen}; keepalive_requests 1000000;\n"
        f"  location = /groups {{ default_type {content_type}; add_header X-LOX24-REQUEST-ID stub; "
        f"alias {answer}; }}\n"
        "  location / { return 404; } }\n"
    )


async def interleaved_calls(
    first: str, second: str, second_headers: Mapping[str, str], *, rounds: int
) -> tuple[list[float], list[float]]:
    """One kept-alive client per server, `list_groups` on each in turn; the latencies of each side."""
    sides: tuple[list[float], list[float]] = ([], [])
    async with (
        httpx2.AsyncClient(timeout=30, headers={**HEADERS, "Mcp-Name": "list_groups"}) as a,
        httpx2.AsyncClient(timeout=30, headers={**HEADERS, "Mcp-Name": "list_groups", **second_headers}) as b,
    ):
        for n in range(rounds + 3):  # the first three warm up the connections
            for side, (http, url) in enumerate(((a, first), (b, second))):
                started = anyio.current_time()
                response = await http.post(url, content=call_body("list_groups", {}))
                elapsed = anyio.current_time() - started
                if not succeeded(response):
                    raise RuntimeError(f"list_groups failed on {url}: {response.status_code} {response.text[:200]}")
                if n >= 3:
                    sides[side].append(elapsed)
    return sides


def nginx_site(ports: Sequence[int], listen: int) -> str:
    """deploy/nginx/lox24-mcp.conf with its first len(ports) replicas on these ports, the rest removed."""
    site = (ROOT / "deploy" / "nginx" / "lox24-mcp.conf").read_text()
    for n in range(len(ports) + 1, 4):
        site = re.sub(rf"upstream lox24_mcp_r{n} \{{.*?\}}\n", "", site, flags=re.S)
        site = re.sub(rf".*(:810{n}|\^r{n}\\\.).*\n", "", site)
    for n, port in enumerate(ports, start=1):
        site = site.replace(f"127.0.0.1:810{n}", f"127.0.0.1:{port}")
    return site.replace("listen 80;", f"listen 127.0.0.1:{listen};")


class Nginx:
    """nginx in the foreground with a temporary prefix, serving `site`."""

    def __init__(self, site: str) -> None:
        self.site = site
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Nginx:
        assert NGINX is not None
        self._tmp = tempfile.TemporaryDirectory(prefix="lox24-bench-nginx-")
        prefix = Path(self._tmp.name)
        (prefix / "site.conf").write_text(self.site)
        temp = prefix / "t"
        temp.mkdir()
        (prefix / "nginx.conf").write_text(
            f"daemon off; master_process off; pid {prefix}/nginx.pid; error_log {prefix}/error.log warn;\n"
            "events { worker_connections 1024; }\n"
            f"http {{ access_log off; client_body_temp_path {temp}; proxy_temp_path {temp};\n"
            f"  fastcgi_temp_path {temp}; uwsgi_temp_path {temp}; scgi_temp_path {temp};\n"
            f"  include {prefix}/site.conf; }}\n"
        )
        self._proc = subprocess.Popen(
            [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        if self._tmp is not None:
            self._tmp.cleanup()


async def wait_http(url: str, headers: Mapping[str, str] | None = None) -> None:
    """Until a tools/call through `url` succeeds (nginx is up and reaches a replica)."""
    async with httpx2.AsyncClient(timeout=5, headers={**HEADERS, **(headers or {})}) as http:
        with anyio.fail_after(30):
            while True:
                try:
                    response = await http.post(
                        url, content=call_body("list_groups", {}), headers={"Mcp-Name": "list_groups"}
                    )
                    if succeeded(response):
                        return
                except httpx2.TransportError:
                    pass
                await anyio.sleep(0.05)


async def record_groups(sandbox_url: str) -> tuple[bytes, str]:
    """The sandbox's answer to the request `list_groups` makes, and its content type."""
    async with httpx2.AsyncClient(timeout=10) as http:
        response = await http.get(
            f"{sandbox_url}/groups",
            params={"page": "1"},
            headers={"X-LOX24-AUTH-TOKEN": DEMO_TOKEN, "Accept": "application/ld+json"},
        )
        response.raise_for_status()
        return response.content, response.headers["content-type"].split(";")[0]


def fold(runs: Sequence[Load]) -> tuple[float, float, float, int]:
    """Median p50, p99 and CPU per call (ms) over interleaved rounds, and the errors of all of them."""
    return (
        median([r.p50_ms for r in runs]),
        median([r.p99_ms for r in runs]),
        median([r.cpu_ms["server"] for r in runs]),
        sum(r.errors for r in runs),
    )


async def main(quick: bool) -> list[Row]:
    if WRK is None or NGINX is None:
        say("  wrk or nginx is not installed (apt-get install wrk nginx): skipping")
        return []
    clients, calls = (10, 5) if quick else (50, 20)
    # Throughput needs longer runs than latency: a 2-second round swings ±10 % on a shared machine.
    long_calls = 5 if quick else 100
    rounds = 1 if quick else 5
    load_name = f"{clients}×{calls}"
    rows: list[Row] = []
    script = console_script()
    python = str(Path(script).with_name("python"))
    with tempfile.TemporaryDirectory(prefix="lox24-bench-teams-") as tmp:
        sandbox_port = free_port()
        with ManagedProcess([script, "sandbox-api", "--port", str(sandbox_port)], env=child_env()) as sandbox:
            await wait_for_port(sandbox_port, sandbox)
            body, content_type = await record_groups(f"http://127.0.0.1:{sandbox_port}")
        answer = Path(tmp) / "groups.json"
        answer.write_bytes(body)
        stub_port = free_port()
        lox24_url = f"http://127.0.0.1:{stub_port}"
        replica_env = child_env(LOX24_BASE_URL=lox24_url, LOX24_API_TOKEN=DEMO_TOKEN)
        ports = [free_port() for _ in range(3)]
        same_port, echo_port = free_port(), free_port()

        def replica(port: int, **env: str) -> ManagedProcess:
            argv = [script, "--transport", "http", "--host", "127.0.0.1", "--port", str(port)]
            return ManagedProcess(argv, env={**replica_env, **env})

        bare_argv = [python, str(BENCH_DIR / "bare_server.py"), "--http"]
        with (
            Nginx(stub_site(stub_port, answer, content_type)) as stub,
            replica(ports[0]) as one,
            replica(ports[1]) as two,
            replica(ports[2], LOX24_MCP_CREDENTIALS="client") as tenant,
            ManagedProcess([*bare_argv, str(same_port), "--lox24", lox24_url], env=replica_env) as same,
            ManagedProcess([*bare_argv, str(echo_port)], env=child_env()) as echo,
        ):
            for port, proc in [
                (ports[0], one),
                (ports[1], two),
                (ports[2], tenant),
                (same_port, same),
                (echo_port, echo),
            ]:
                await wait_for_port(port, proc)
            url = f"http://127.0.0.1:{ports[0]}/mcp"
            sides = {
                "ours": (url, "list_groups", one.pid),
                "same": (f"http://127.0.0.1:{same_port}/mcp", "list_groups", same.pid),
                "echo": (f"http://127.0.0.1:{echo_port}/mcp", "echo", echo.pid),
            }
            await wait_http(url)

            # 1. lox24-mcp vs the bare servers, same load, rounds interleaved (a warm-up round each first).
            runs: dict[str, list[Load]] = {side: [] for side in sides}
            for side_url, tool, _ in sides.values():
                await load(side_url, tool, clients=4, calls=5)
            for _ in range(rounds):
                for side, (side_url, tool, pid) in sides.items():
                    runs[side].append(
                        await load(
                            side_url, tool, clients=clients, calls=calls, watch={"server": pid, "lox24": stub.pid}
                        )
                    )
            (o50, o99, ocpu, oerr), (s50, s99, scpu, serr), (e50, e99, ecpu, eerr) = (fold(runs[s]) for s in sides)
            stub_cpu = median([r.cpu_ms["lox24"] for r in runs["ours"]])
            for side, (p50, p99, cpu, err) in zip(
                ("lox24-mcp", "bare, same request", "bare echo"),
                ((o50, o99, ocpu, oerr), (s50, s99, scpu, serr), (e50, e99, ecpu, eerr)),
                strict=True,
            ):
                say(f"  {load_name} {side}: p50 {p50:.1f} / p99 {p99:.1f} ms, CPU {cpu:.2f} ms per call, {err} errors")
            say(
                f"  (medians of {rounds} interleaved rounds; LOX24 stand-in {stub_cpu:.2f} ms, "
                f"wrk {median([r.cpu_ms['wrk'] for r in runs['ours']]):.2f} ms CPU per call)"
            )
            fine = not (oerr or serr)
            rows.append(
                Row(
                    f"HTTP {load_name} vs bare MCPServer, same request: p50",
                    f"{o50:.1f} ms",
                    f"{s50:.1f} ms",
                    o50 / s50,
                    "≤ 1.30",
                    o50 / s50 <= 1.3 and fine,
                    f"CPU/call {ocpu:.2f} vs {scpu:.2f} ms; errors {oerr}/{serr}",
                )
            )
            rows.append(
                Row(
                    f"HTTP {load_name} vs bare MCPServer, same request: p99",
                    f"{o99:.1f} ms",
                    f"{s99:.1f} ms",
                    o99 / s99,
                    "≤ 1.30",
                    o99 / s99 <= 1.3 and fine,
                    f"medians of {rounds} interleaved rounds",
                )
            )
            rows.append(
                Row(
                    f"HTTP {load_name} vs bare echo (no LOX24 request): p50",
                    f"{o50:.1f} ms",
                    f"{e50:.1f} ms",
                    o50 / e50,
                    "—",
                    None,
                    f"p99 {o99:.1f} vs {e99:.1f} ms; CPU/call {ocpu:.2f} vs {ecpu:.2f} ms",
                )
            )

            # 3. Tenant overhead: one client, interleaved calls, server credentials vs the caller's token.
            tenant_url = f"http://127.0.0.1:{ports[2]}/mcp"
            caller = {"X-LOX24-AUTH-TOKEN": DEMO_TOKEN}
            await wait_http(tenant_url, caller)
            server_side, client_side = await interleaved_calls(url, tenant_url, caller, rounds=30 if quick else 200)
            m_server, m_client = median(server_side) * 1000, median(client_side) * 1000
            say(f"  one client: server credentials {m_server:.2f} ms, caller's token {m_client:.2f} ms (medians)")
            rows.append(
                Row(
                    "per call: caller's token vs server's",
                    f"{m_client:.2f} ms",
                    f"{m_server:.2f} ms",
                    None,
                    "≤ +1 ms",
                    m_client - m_server <= 1.0,
                    f"{m_client - m_server:+.2f} ms (difference of medians)",
                )
            )

            # 2. 1 vs 2 replicas behind nginx, both fronts up, rounds interleaved.
            fronts = {n: free_port() for n in (1, 2)}
            with Nginx(nginx_site(ports[:1], fronts[1])) as front1, Nginx(nginx_site(ports[:2], fronts[2])) as front2:
                watch = {1: {"server": one.pid, "nginx": front1.pid}, 2: {"server": one.pid, "nginx": front2.pid}}
                through: dict[int, list[Load]] = {1: [], 2: []}
                for port in fronts.values():
                    await wait_http(f"http://127.0.0.1:{port}/mcp", {"Host": "127.0.0.1"})
                    await load(f"http://127.0.0.1:{port}/mcp", "list_groups", clients=4, calls=5, host="127.0.0.1")
                for _ in range(rounds):
                    for n, port in fronts.items():
                        through[n].append(
                            await load(
                                f"http://127.0.0.1:{port}/mcp",
                                "list_groups",
                                clients=clients,
                                calls=long_calls,
                                host="127.0.0.1",
                                watch={**watch[n], "lox24": stub.pid},
                            )
                        )
            rate = {n: median([r.throughput for r in through[n]]) for n in fronts}
            errors = {n: sum(r.errors for r in through[n]) for n in fronts}
            balancer = median([r.cpu_ms["nginx"] for r in through[2]])
            replica_cpu = {n: median([r.cpu_ms["server"] for r in through[n]]) for n in fronts}
            generator = median([r.cpu_ms["wrk"] for r in through[2]])
            idle = median([r.idle for r in through[2]])
            for n in fronts:
                say(f"  nginx → {n} replica(s): {rate[n]:.0f} calls/s, {errors[n]} errors")
            say(
                f"  replica r1 CPU per call it served: {replica_cpu[1]:.2f} ms alone, "
                f"{replica_cpu[2] * 2:.2f} ms beside r2\n"
                f"  with 2 replicas: nginx {balancer:.2f} ms, wrk {generator:.2f} ms CPU per call; "
                f"machine {idle:.0%} idle; calls/s per round: "
                + ", ".join(f"{n}: " + " ".join(f"{r.throughput:.0f}" for r in through[n]) for n in fronts)
            )
            ratio = rate[2] / rate[1]
            rows.append(
                Row(
                    "nginx: 2 replicas vs 1, throughput",
                    f"{rate[2]:.0f} calls/s",
                    f"{rate[1]:.0f} calls/s",
                    ratio,
                    "≥ 1.60",
                    ratio >= 1.6 and not any(errors.values()),
                    f"{clients}×{long_calls} list_groups, median of {rounds}; errors {errors[1]}/{errors[2]}",
                )
            )
    return rows
