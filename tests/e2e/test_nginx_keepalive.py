"""deploy/nginx/lox24-mcp.conf closes idle connections to a replica before the replica would.

A replica closes an idle keep-alive connection after `KEEP_ALIVE_TIMEOUT` seconds. If nginx kept it
longer, it could send a request on a connection the replica is closing at that very moment: the
request is reset, the client gets a 502, and `max_fails=1` takes a healthy replica out for 10 s (seen
in the teams benchmark). Here the real nginx runs the deployment file with every replica replaced by a
stand-in that answers any request and notes when nginx closes its connection.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import anyio
import httpx2
import pytest
from anyio.abc import SocketStream

from lox24_mcp.mcp.http_server import KEEP_ALIVE_TIMEOUT
from tests.e2e.test_nginx_replicas import NGINX, _nginx_conf
from tests.helpers import free_ports

pytestmark = pytest.mark.anyio

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


async def _serve_until_closed(stream: SocketStream, closed: list[float], event: anyio.Event) -> None:
    """Answer every request on this connection until the peer closes it; note when that happened."""
    buffer = b""
    async with stream:
        while True:
            try:
                buffer += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                closed.append(time.monotonic())
                event.set()
                return
            while b"\r\n\r\n" in buffer:
                head, _, rest = buffer.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                if len(rest) < length:
                    break
                buffer = rest[length:]
                await stream.send(ANSWER)


async def test_nginx_drops_an_idle_replica_connection_before_the_replica_does() -> None:
    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install nginx)")
    closed: list[float] = []
    closing = anyio.Event()
    listen, *ports = free_ports(4)
    listeners = [await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=port) for port in ports]
    with tempfile.TemporaryDirectory(prefix="lox24-nginx-keepalive-") as tmp:
        conf = _nginx_conf(Path(tmp), listen, ports)
        nginx = await anyio.open_process(
            [NGINX, "-p", tmp, "-c", str(conf), "-e", f"{tmp}/error.log"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            async with anyio.create_task_group() as tg:
                for listener in listeners:
                    tg.start_soon(listener.serve, lambda stream: _serve_until_closed(stream, closed, closing))
                async with httpx2.AsyncClient(timeout=5, headers={"Host": "mcp.example.com"}) as http:
                    with anyio.fail_after(30):
                        while True:  # until nginx listens
                            try:
                                response = await http.post(f"http://127.0.0.1:{listen}/mcp", content=b"{}")
                                break
                            except httpx2.ConnectError:
                                await anyio.sleep(0.05)
                assert response.status_code == 200
                answered = time.monotonic()
                with anyio.move_on_after(KEEP_ALIVE_TIMEOUT + 2):
                    await closing.wait()  # nginx keeps the connection idle, then closes it
                tg.cancel_scope.cancel()
        finally:
            nginx.terminate()
            with anyio.fail_after(10):
                await nginx.wait()
            for listener in listeners:
                await listener.aclose()
    assert closed, f"nginx still held its idle connection to the replica {KEEP_ALIVE_TIMEOUT + 2} s later"
    idle = closed[0] - answered
    assert 1.0 < idle < KEEP_ALIVE_TIMEOUT, f"nginx closed its idle connection after {idle:.1f} s"
