"""Load for team deployments: lox24-mcp vs a bare MCPServer, 1 vs 2 replicas behind nginx, tenant overhead.

Every server is a real process on loopback; the LOX24 side is one `lox24-mcp sandbox-api` process. The
load is 2026-07-28 `tools/call` requests (stateless, what replicas behind a load balancer serve),
sent by N concurrent clients that each make their calls one after another. The request bodies are
the ones the official `mcp.Client` sends (recorded once, then replayed with fresh ids), so the
load generator's own CPU stays small on a shared machine.

1. One replica vs `bare_server.py --http` (a one-tool `MCPServer`, `echo`), same clients, same count:
   p50 and p99 per call. lox24-mcp's calls do real work (a LOX24 request to the sandbox for
   `list_groups`), the bare server's do none: the ratio is what the whole stack costs under load.
2. Throughput through nginx (deploy/nginx/lox24-mcp.conf, reduced to 1 or 2 replicas), same load.
3. Per-call latency, one client, server credentials vs `LOX24_MCP_CREDENTIALS=client` (the token in
   `X-LOX24-AUTH-TOKEN`), two replicas side by side, calls interleaved: the difference of medians.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx2
from bench_common import (
    ROOT,
    ManagedProcess,
    Row,
    child_env,
    console_script,
    cpu_seconds,
    free_port,
    median,
    percentile,
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


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    wall: float = 0.0


ARGUMENTS: dict[str, dict[str, object]] = {"echo": {"text": "hello"}, "list_groups": {}}


async def load(url: str, tool: str, *, clients: int, calls: int, headers: Mapping[str, str] | None = None) -> Tally:
    """`clients` concurrent clients × `calls` sequential tools/call each; latencies in seconds."""
    tally = Tally()
    limits = httpx2.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx2.AsyncClient(timeout=60, limits=limits, headers={**HEADERS, **(headers or {})}) as http:

        async def client() -> None:
            for _ in range(calls):
                started = anyio.current_time()
                try:
                    body = call_body(tool, ARGUMENTS[tool])
                    response = await http.post(url, content=body, headers={"Mcp-Name": tool})
                    ok = succeeded(response)
                except httpx2.HTTPError:
                    ok = False
                tally.latencies.append(anyio.current_time() - started)
                tally.errors += not ok

        started = anyio.current_time()
        with anyio.fail_after(600):
            async with anyio.create_task_group() as tg:
                for _ in range(clients):
                    tg.start_soon(client)
        tally.wall = anyio.current_time() - started
    return tally


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


async def main(quick: bool) -> list[Row]:
    clients, calls = (10, 5) if quick else (50, 20)
    rows: list[Row] = []
    sandbox_port = free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    script = console_script()
    replica_env = child_env(LOX24_BASE_URL=sandbox_url, LOX24_API_TOKEN=DEMO_TOKEN)
    ports = [free_port() for _ in range(4)]
    bare_port = free_port()

    def replica(port: int, **env: str) -> ManagedProcess:
        argv = [script, "--transport", "http", "--host", "127.0.0.1", "--port", str(port)]
        return ManagedProcess(argv, env={**replica_env, **env})

    with (
        ManagedProcess([script, "sandbox-api", "--port", str(sandbox_port)], env=child_env()) as sandbox,
        replica(ports[0]) as one,
        replica(ports[1]) as two,
        replica(ports[2], LOX24_MCP_CREDENTIALS="client") as tenant,
        ManagedProcess(
            [
                str(Path(script).with_name("python")),
                str(ROOT / "benchmarks" / "bare_server.py"),
                "--http",
                str(bare_port),
            ],
            env=child_env(),
        ) as bare,
    ):
        for port, proc in [
            (sandbox_port, sandbox),
            (ports[0], one),
            (ports[1], two),
            (ports[2], tenant),
            (bare_port, bare),
        ]:
            await wait_for_port(port, proc)
        url = f"http://127.0.0.1:{ports[0]}/mcp"
        bare_url = f"http://127.0.0.1:{bare_port}/mcp"
        await wait_http(url)

        # 1. lox24-mcp vs the bare server, same load (a warm-up round each first).
        await load(url, "list_groups", clients=2, calls=3)
        await load(bare_url, "echo", clients=2, calls=3)
        cpu = cpu_seconds(one.pid), cpu_seconds(sandbox.pid)
        ours = await load(url, "list_groups", clients=clients, calls=calls)
        ours_cpu = (cpu_seconds(one.pid) - cpu[0]) / calls / clients * 1000
        sandbox_cpu = (cpu_seconds(sandbox.pid) - cpu[1]) / calls / clients * 1000
        cpu_bare = cpu_seconds(bare.pid)
        base = await load(bare_url, "echo", clients=clients, calls=calls)
        bare_cpu = (cpu_seconds(bare.pid) - cpu_bare) / calls / clients * 1000
        o50, o99 = percentile(ours.latencies, 50) * 1000, percentile(ours.latencies, 99) * 1000
        b50, b99 = percentile(base.latencies, 50) * 1000, percentile(base.latencies, 99) * 1000
        say(
            f"  {clients}×{calls}: lox24-mcp p50 {o50:.1f} / p99 {o99:.1f} ms ({ours.errors} errors); "
            f"bare p50 {b50:.1f} / p99 {b99:.1f} ms ({base.errors} errors)"
        )
        say(
            f"  CPU per call: lox24-mcp {ours_cpu:.1f} ms + sandbox {sandbox_cpu:.1f} ms; bare server {bare_cpu:.1f} ms"
        )
        rows.append(
            Row(
                f"HTTP {clients}×{calls} vs bare MCPServer: p50",
                f"{o50:.1f} ms",
                f"{b50:.1f} ms",
                o50 / b50,
                "≤ 1.30",
                o50 / b50 <= 1.3 and not ours.errors,
                f"CPU/call {ours_cpu:.1f} ms (+ sandbox {sandbox_cpu:.1f}) vs {bare_cpu:.1f}; {ours.errors} errors",
            )
        )
        rows.append(
            Row(
                f"HTTP {clients}×{calls} vs bare MCPServer: p99",
                f"{o99:.1f} ms",
                f"{b99:.1f} ms",
                o99 / b99,
                "≤ 1.30",
                o99 / b99 <= 1.3 and not ours.errors,
                "same run",
            )
        )

        # 3. Tenant overhead: one client, interleaved calls, server credentials vs the caller's token.
        tenant_url = f"http://127.0.0.1:{ports[2]}/mcp"
        caller = {"X-LOX24-AUTH-TOKEN": DEMO_TOKEN}
        await wait_http(tenant_url, caller)
        server_side, client_side = await interleaved_calls(url, tenant_url, caller, rounds=30 if quick else 200)
        s50, c50 = median(server_side) * 1000, median(client_side) * 1000
        say(f"  one client: server credentials {s50:.2f} ms, caller's token {c50:.2f} ms (medians)")
        rows.append(
            Row(
                "per call: caller's token vs server's",
                f"{c50:.2f} ms",
                f"{s50:.2f} ms",
                None,
                "≤ +1 ms",
                c50 - s50 <= 1.0,
                f"+{c50 - s50:.2f} ms (difference of medians)",
            )
        )

        # 2. 1 vs 2 replicas behind nginx.
        if NGINX is None:
            say("  nginx is not installed: skipping 1 vs 2 replicas")
            return rows
        throughput: dict[int, float] = {}
        errors: dict[int, int] = {}
        for n in (1, 2):
            listen = free_port()
            with Nginx(nginx_site(ports[:n], listen)):
                front = f"http://127.0.0.1:{listen}/mcp"
                await wait_http(front, {"Host": "127.0.0.1"})
                await load(front, "list_groups", clients=4, calls=3)
                tally = await load(front, "list_groups", clients=clients, calls=calls)
            throughput[n] = len(tally.latencies) / tally.wall
            errors[n] = tally.errors
            say(f"  nginx → {n} replica(s): {throughput[n]:.0f} calls/s, {tally.errors} errors")
        ratio = throughput[2] / throughput[1]
        rows.append(
            Row(
                "nginx: 2 replicas vs 1, throughput",
                f"{throughput[2]:.0f} calls/s",
                f"{throughput[1]:.0f} calls/s",
                ratio,
                "≥ 1.60",
                ratio >= 1.6 and not any(errors.values()),
                f"{clients}×{calls} list_groups; errors {errors[1]}/{errors[2]}",
            )
        )
    return rows
