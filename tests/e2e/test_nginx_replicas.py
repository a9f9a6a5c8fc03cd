"""deploy/nginx/lox24-mcp.conf, tested: three `lox24-mcp --transport http` replicas behind a real nginx.

Everything is a real process on loopback: one `lox24-mcp sandbox-api`, three replicas sharing
LOX24_MCP_SECRET, and Debian's nginx started in the foreground with a temporary prefix and the
deployment file (only its ports replaced by free ones). Skipped when nginx is not installed
(`apt-get install nginx`); .ci/run installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitRequestParams, ElicitResult

from lox24_mcp.mcp.results import ImportResult
from lox24_mcp.sandbox import DEMO_TOKEN
from tests.helpers import console_script, free_ports

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "deploy" / "nginx" / "lox24-mcp.conf"
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
PUBLIC_HOST = "mcp.example.com"
HTTP_TOKEN = "replicas-bearer-0123456789abcdef"
SECRET = "shared-secret-of-all-replicas-0123456789"
START_TIMEOUT = 60.0  # three replicas start at once on a busy 2-core machine
AUTH = {"X-LOX24-AUTH-TOKEN": DEMO_TOKEN}
KILL_CAMPAIGNS = [f"nginx-kill-{i}" for i in range(6)]
#: callback_data -> scheduled SMS, created once for the whole module.
CAMPAIGNS = {"nginx-token": 2, "nginx-dialog-2026": 1, "nginx-dialog-2025": 1, **dict.fromkeys(KILL_CAMPAIGNS, 1)}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOX24_", "OTEL_"))}
    env.update(extra)
    return env


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return "\n" + log.read_text(errors="replace")[-1500:]


def _wait_until(check: Any, what: str, proc: subprocess.Popen[bytes] | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode} before it was ready{_tail(log)}")
        try:
            if check():
                return
        except (httpx2.TransportError, OSError):
            pass
        time.sleep(0.05)  # polling a subprocess's port; every wait is bounded by START_TIMEOUT
    pytest.fail(f"{what} was not ready within {START_TIMEOUT:.0f} s{_tail(log)}")


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@dataclass
class Deployment:
    sandbox_url: str
    url: str
    replicas: dict[str, subprocess.Popen[bytes]]
    nginx_log: Path
    logs: dict[str, Path] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def create_group(self, name: str) -> int:
        with httpx2.Client(timeout=10) as http:
            response = http.post(
                f"{self.sandbox_url}/groups", headers={**AUTH, "Accept": "application/json"}, json={"name": name}
            )
        response.raise_for_status()
        group_id: int = response.json()["id"]
        return group_id

    def group_size(self, group_id: int) -> int:
        with httpx2.Client(timeout=10) as http:
            response = http.get(f"{self.sandbox_url}/groups/{group_id}", headers={**AUTH, "Accept": "application/json"})
        response.raise_for_status()
        count: int = response.json()["count_items"]
        return count

    def sandbox_posts(self, path: str) -> int:
        with httpx2.Client(timeout=10) as http:
            log = http.get(f"{self.sandbox_url}/_sandbox/requests", headers=AUTH).json()
        return sum(1 for r in log if r["method"] == "POST" and r["path"] == path)

    def sms(self, callback_data: str) -> list[dict[str, Any]]:
        with httpx2.Client(timeout=10) as http:
            response = http.get(
                f"{self.sandbox_url}/sms",
                params={"callback_data": callback_data},
                headers={**AUTH, "Accept": "application/json"},
            )
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()
        return data

    def schedule(self, callback_data: str, count: int = 1) -> None:
        with httpx2.Client(timeout=10) as http:
            for i in range(count):
                response = http.post(
                    f"{self.sandbox_url}/sms",
                    headers={**AUTH, "Accept": "application/json"},
                    json={
                        "sender_id": "Shop",
                        "phone": f"+4915112{abs(hash(callback_data)) % 10_000:04d}{i:02d}",
                        "text": f"Reminder {callback_data}",
                        "delivery_at": int(time.time()) + 86_400,
                        "callback_data": callback_data,
                    },
                )
                response.raise_for_status()


def _nginx_conf(prefix: Path, listen: int, ports: list[int]) -> Path:
    site = NGINX_CONF.read_text()
    for n, port in enumerate(ports, start=1):
        site = site.replace(f"127.0.0.1:810{n}", f"127.0.0.1:{port}")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    (prefix / "lox24-mcp.conf").write_text(site)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    temp = prefix / "tmp"
    main = f"""
daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {prefix}/lox24-mcp.conf;
}}
"""
    conf = prefix / "nginx.conf"
    conf.write_text(main)
    return conf


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    if NGINX is None:
        if os.environ.get("LOX24_TEST_REQUIRE_NGINX"):
            pytest.fail("nginx is not installed, and LOX24_TEST_REQUIRE_NGINX is set (as in .ci/run)")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    script = console_script()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="lox24-nginx-") as tmp, ExitStack() as files:
        prefix = Path(tmp)
        sandbox_port, nginx_port, *ports = free_ports(5)
        try:
            sandbox_log = files.enter_context((prefix / "sandbox.log").open("wb"))
            sandbox = subprocess.Popen(  # noqa: S603 (our own console script)
                # Group writes answer 0.2 s late, so an import is still running when its replica is killed.
                [script, "sandbox-api", "--port", str(sandbox_port), "--latency", "0.2", "--latency-path", "/groups/"],
                env=_env(),
                stdin=subprocess.DEVNULL,
                stdout=sandbox_log,
                stderr=subprocess.STDOUT,
            )
            procs.append(sandbox)
            sandbox_url = f"http://127.0.0.1:{sandbox_port}"
            _wait_until(
                lambda: httpx2.get(f"{sandbox_url}/groups", headers=AUTH, timeout=1).status_code == 200,
                "the sandbox API",
                sandbox,
                prefix / "sandbox.log",
            )
            # Scheduled before the replicas start: a cancel only touches SMS created before its preview's second.
            setup = Deployment(sandbox_url, "", {}, prefix / "error.log")
            for campaign, count in CAMPAIGNS.items():
                setup.schedule(campaign, count)
            replicas: dict[str, subprocess.Popen[bytes]] = {}
            logs: dict[str, Path] = {}
            for n, port in enumerate(ports, start=1):
                name = f"r{n}"
                logs[name] = prefix / f"{name}.log"
                proc = subprocess.Popen(  # noqa: S603
                    [
                        script,
                        "--transport",
                        "http",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--allowed-host",
                        PUBLIC_HOST,
                    ],
                    env=_env(
                        LOX24_API_TOKEN=DEMO_TOKEN,
                        LOX24_BASE_URL=sandbox_url,
                        LOX24_MCP_SECRET=SECRET,
                        LOX24_MCP_HTTP_TOKEN=HTTP_TOKEN,
                        LOX24_MCP_REPLICA_ID=name,
                    ),
                    stdin=subprocess.DEVNULL,
                    stdout=files.enter_context(logs[name].open("wb")),
                    stderr=subprocess.STDOUT,
                )
                procs.append(proc)
                replicas[name] = proc
            for (name, proc), port in zip(replicas.items(), ports, strict=True):
                # Up when it answers (401 without the bearer token).
                _wait_until(
                    lambda port=port: httpx2.post(f"http://127.0.0.1:{port}/mcp", timeout=1).status_code == 401,
                    f"replica {name}",
                    proc,
                    logs[name],
                )
            conf = _nginx_conf(prefix, nginx_port, ports)
            nginx = subprocess.Popen(  # noqa: S603
                [NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=files.enter_context((prefix / "nginx.stderr").open("wb")),
            )
            procs.append(nginx)
            url = f"http://127.0.0.1:{nginx_port}/mcp"
            _wait_until(
                lambda: httpx2.post(url, headers={"Host": PUBLIC_HOST}, timeout=1).status_code == 401,
                "nginx",
                nginx,
                prefix / "error.log",
            )
            yield Deployment(
                sandbox_url, url, replicas, prefix / "error.log", logs, dict(zip(replicas, ports, strict=True))
            )
        finally:
            for proc in reversed(procs):
                _stop(proc, signal.SIGQUIT if proc is procs[-1] and len(procs) == 5 else signal.SIGTERM)


# ------------------------------------------------------------------------- the MCP client side


@dataclass
class Seen:
    """Which replica answered each MCP request (the replicas name themselves in a response header)."""

    answers: list[tuple[str, str, bool]] = field(default_factory=list)  # (JSON-RPC method, replica, had session id)

    def replicas_for(self, method: str) -> list[str]:
        return [replica for m, replica, _ in self.answers if m == method]


async def _accept(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    del context, params
    return ElicitResult(action="accept", content={"confirm": True})


@asynccontextmanager
async def mcp_client(
    deployment: Deployment, seen: Seen, *, mode: str = "2026-07-28", dialog: bool = False, url: str | None = None
) -> AsyncIterator[Client]:
    async def record(response: httpx2.Response) -> None:
        method = "?"
        if response.request.method == "POST":
            try:
                body = json.loads(response.request.content)
            except ValueError:
                body = None
            if isinstance(body, dict):
                method = str(body.get("method") or "response")
        replica = response.headers.get("x-lox24-mcp-replica", "-")
        seen.answers.append((method, replica, "mcp-session-id" in response.request.headers))

    headers = {"Authorization": f"Bearer {HTTP_TOKEN}", "Host": PUBLIC_HOST}
    async with httpx2.AsyncClient(headers=headers, timeout=30, event_hooks={"response": [record]}) as http:
        transport = streamable_http_client(url or deployment.url, http_client=http)
        async with Client(transport, mode=mode, elicitation_callback=_accept if dialog else None) as client:
            yield client


def _data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data = result.structured_content
    assert isinstance(data, dict)
    return data


# ------------------------------------------------------------------------- tests


async def test_a_token_preview_from_one_replica_is_confirmed_on_another(deployment: Deployment) -> None:
    seen = Seen()
    with anyio.fail_after(60):
        async with mcp_client(deployment, seen) as client:
            preview = _data(await client.call_tool("cancel_pending_sms", {"callback_data": "nginx-token"}))
            assert preview["status"] == "confirmation_required" and preview["matched"] == 2
            done = _data(
                await client.call_tool(
                    "cancel_pending_sms",
                    {"callback_data": "nginx-token", "confirmation_token": preview["confirmation_token"]},
                )
            )
    first, second = seen.replicas_for("tools/call")
    assert first != second, seen.answers  # round robin: the confirmation went to another replica
    assert done["cancelled"] == 2
    assert {s["status_code"] for s in deployment.sms("nginx-token")} != {0}


async def test_a_2026_dialog_continues_on_another_replica(deployment: Deployment) -> None:
    before = deployment.sandbox_posts("/sms/ops/batch_cancel")
    seen = Seen()
    with anyio.fail_after(60):
        async with mcp_client(deployment, seen, dialog=True) as client:
            done = _data(await client.call_tool("cancel_pending_sms", {"callback_data": "nginx-dialog-2026"}))
    rounds = seen.replicas_for("tools/call")
    # Round 1 asked the question; round 2 carried the answer and the sealed request state to another replica.
    assert len(rounds) == 2 and rounds[0] != rounds[1], seen.answers
    assert done["status"] == "cancelled" and done["cancelled"] == 1
    assert deployment.sandbox_posts("/sms/ops/batch_cancel") == before + 1


async def test_a_2025_session_with_a_dialog_stays_on_one_replica(deployment: Deployment) -> None:
    seen = Seen()
    with anyio.fail_after(60):
        async with mcp_client(deployment, seen, mode="legacy", dialog=True) as client:
            for _ in range(3):
                _data(await client.call_tool("list_groups", {}))
            done = _data(await client.call_tool("cancel_pending_sms", {"callback_data": "nginx-dialog-2025"}))
    assert done["status"] == "cancelled" and done["cancelled"] == 1
    replicas = {replica for _, replica, _ in seen.answers}
    assert len(replicas) == 1, seen.answers  # initialize, every call, and the dialog's answer: one replica
    assert sum(1 for _, _, had_session in seen.answers if had_session) >= 5


async def test_a_replica_killed_mid_run_loses_no_confirmation_and_doubles_no_cancel(deployment: Deployment) -> None:
    campaigns = KILL_CAMPAIGNS
    before = deployment.sandbox_posts("/sms/ops/batch_cancel")
    seen = Seen()
    cancelled: dict[str, int] = {}
    killed_at = 0
    with anyio.fail_after(90):
        async with mcp_client(deployment, seen) as client:
            previews = {
                c: _data(await client.call_tool("cancel_pending_sms", {"callback_data": c}))["confirmation_token"]
                for c in campaigns
            }
            assert len(set(seen.replicas_for("tools/call"))) == 3  # previews from every replica
            for i, (campaign, token) in enumerate(previews.items()):
                if i == 2:
                    victim = deployment.replicas["r2"]
                    victim.kill()
                    victim.wait(10)
                    killed_at = len(seen.answers)
                done = _data(
                    await client.call_tool(
                        "cancel_pending_sms", {"callback_data": campaign, "confirmation_token": token}
                    )
                )
                cancelled[campaign] = done["cancelled"]
    assert cancelled == dict.fromkeys(campaigns, 1)  # every confirmation, also those minted by the dead replica
    assert deployment.sandbox_posts("/sms/ops/batch_cancel") == before + len(campaigns)  # none twice
    assert killed_at and "r2" not in {replica for _, replica, _ in seen.answers[killed_at:]}, seen.answers


async def test_an_import_cut_off_by_a_killed_replica_is_rerun_without_doubling_a_contact(
    deployment: Deployment,
) -> None:
    if "already_in_group" not in ImportResult.model_fields:
        pytest.skip("re-running an import safely needs already_in_group (the groups work), not merged here yet")
    group = deployment.create_group("nginx import")
    phones = [{"phone": f"+4915112{i:06d}"} for i in range(3000)]
    batch_path = f"/groups/{group}/phones/batch"
    victim = deployment.replicas["r3"]
    direct = f"http://127.0.0.1:{deployment.ports['r3']}/mcp"
    completed: list[dict[str, Any]] = []
    ended = anyio.Event()

    async def first_run() -> None:
        try:
            async with mcp_client(deployment, Seen(), url=direct) as client:
                completed.append(
                    _data(await client.call_tool("add_phones_to_group", {"group_id": group, "phones": phones}))
                )
        except Exception:  # noqa: BLE001, S110 (any way the call dies counts: its replica was killed)
            pass
        finally:
            ended.set()

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first_run)
            while True:  # polling the sandbox's request log, bounded by fail_after
                if await anyio.to_thread.run_sync(deployment.sandbox_posts, batch_path):
                    break
                assert not ended.is_set(), f"the first run ended before sending a batch: {completed}"
                await anyio.sleep(0.02)
            victim.kill()
            await anyio.to_thread.run_sync(victim.wait, 10)
            with anyio.move_on_after(10):  # a client may wait for an answer that will never come
                await ended.wait()
            tg.cancel_scope.cancel()
        stored_before = deployment.group_size(group)
        async with mcp_client(deployment, Seen()) as client:
            rerun = _data(await client.call_tool("add_phones_to_group", {"group_id": group, "phones": phones}))
    assert not completed, "the first run finished before its replica was killed: this run tested nothing"
    assert 0 < stored_before < len(phones)  # killed mid-import
    assert rerun["already_in_group"] == stored_before
    assert rerun["created"] == len(phones) - stored_before and rerun["rejected"] == 0 and rerun["unknown"] == 0
    assert deployment.group_size(group) == len(phones)  # every contact once
