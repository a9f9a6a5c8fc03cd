"""Slow request bodies over HTTP ("slow POST"), on loopback only, every wait bounded.

Once a request head has arrived, its whole body must arrive within the body deadline: a client that drips
it is answered 408 and disconnected, the app's request task ends, and everyone else is served meanwhile and
afterwards. Bodies that arrive in time, in pieces or all at once, are untouched by it.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import h11
import httpx2
import pytest
from anyio.abc import SocketStream
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lox24_mcp.config import Settings
from lox24_mcp.mcp.app import create_server
from lox24_mcp.mcp.http import build_http_app
from lox24_mcp.mcp.http_server import bind, build_server, url_for
from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer
from tests.helpers import serve_in_thread

HTTP_TOKEN = "slow-body-http-bearer-0123456789abcdef"
DEADLINE = 30.0
#: The body deadline these tests serve with: short, so a dripping client is cut off quickly.
BODY_TIMEOUT = 1.0
#: Shorter than BODY_TIMEOUT, so a body that takes longer than it but not the body deadline shows which applies.
HEADER_TIMEOUT = 0.5
INIT = (
    b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
    b'"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
)


@contextmanager
def serving(app: ASGIApp, body_timeout: float = BODY_TIMEOUT) -> Iterator[str]:
    """The hardened server for `app` on a loopback port, in a thread; yields the /mcp URL."""
    sock = bind("127.0.0.1", 0)  # listening already: clients queue until uvicorn accepts
    server = build_server(app, header_timeout=HEADER_TIMEOUT, body_timeout=body_timeout, max_connections=64)
    try:
        with serve_in_thread(server, [sock]):
            yield url_for("127.0.0.1", sock)
    finally:
        sock.close()


def mcp_app(sandbox: SandboxServer) -> ASGIApp:
    settings = Settings(api_token=SecretStr(DEMO_TOKEN), base_url=sandbox.url)
    return build_http_app(create_server(settings), host="127.0.0.1", http_token=SecretStr(HTTP_TOKEN))


@pytest.fixture
def served(sandbox: SandboxServer) -> Iterator[str]:
    """The MCP app behind the hardened server with a 1 s body deadline; yields the /mcp URL."""
    with serving(mcp_app(sandbox)) as url:
        yield url


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def post(length: int, token: str = HTTP_TOKEN) -> h11.Request:
    """The head of an MCP POST announcing a body of `length` bytes."""
    headers = [
        ("Host", "127.0.0.1"),
        ("Authorization", f"Bearer {token}"),
        ("Accept", "application/json, text/event-stream"),
        ("Content-Type", "application/json"),
        ("Content-Length", str(length)),
    ]
    return h11.Request(method="POST", target="/mcp", headers=headers)


class Raw:
    """One client connection spoken through h11, so that responses are parsed, not pattern-matched."""

    def __init__(self, stream: SocketStream) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.CLIENT)

    async def send(self, *events: Any) -> None:
        for event in events:
            await self.stream.send(self.conn.send(event) or b"")

    async def drip(self, body: bytes, pause: float) -> None:
        """Send `body` a byte at a time, `pause` seconds apart (the slow client); stops when the server closes."""
        for byte in body:
            try:
                await self.send(h11.Data(data=bytes([byte])))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                return
            await anyio.sleep(pause)

    async def response(self) -> tuple[int, bytes]:
        """The next response: status and body."""
        status, body = 0, b""
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                try:
                    data = await self.stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    data = b""
                self.conn.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                return status, body

    async def closed_by_server(self) -> bool:
        """True once the server has closed the connection (EOF or reset)."""
        try:
            return await self.stream.receive() == b""
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            return True


async def mcp_session_works(url: str) -> None:
    """A well-behaved client: the official client initializes and calls a tool."""
    headers = {"Authorization": f"Bearer {HTTP_TOKEN}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=DEADLINE) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        assert not (await client.call_tool("list_groups", {})).is_error


def problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log records that are errors or carry a traceback."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


# ----------------------------------------------------------------------------- cut off


@pytest.mark.anyio
async def test_a_dripping_body_gets_408_at_the_deadline_while_other_clients_are_served(
    served: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    answers: list[tuple[int, bytes, float, bool]] = []

    async def slow_client() -> None:
        async with await anyio.connect_tcp("127.0.0.1", port_of(served)) as stream:
            raw = Raw(stream)
            await raw.send(post(4_000_000))
            started = time.monotonic()
            async with anyio.create_task_group() as drip:
                # A byte every 0.1 s: never idle for long, but never done either.
                drip.start_soon(raw.drip, INIT, 0.1)
                status, body = await raw.response()
                drip.cancel_scope.cancel()
            answers.append((status, body, time.monotonic() - started, await raw.closed_by_server()))

    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as tg:
            for _ in range(2):
                tg.start_soon(slow_client)
            await mcp_session_works(served)  # meanwhile
        await mcp_session_works(served)  # and afterwards

    assert len(answers) == 2
    for status, body, waited, closed in answers:
        assert status == 408
        assert body.decode() == "The request body did not arrive within 1 s, so the request was not processed.\n"
        assert BODY_TIMEOUT * 0.9 <= waited < BODY_TIMEOUT + 10
        assert closed
    warnings = [r.getMessage() for r in caplog.records if "do not arrive within" in r.getMessage()]
    assert warnings == ["cutting off request bodies that do not arrive within 1 s (408)"]  # once, not per client
    assert problems(caplog) == []


@pytest.mark.anyio
async def test_a_body_still_dripping_after_the_answer_is_cut_off_at_the_deadline(served: str) -> None:
    """The bearer check answers 401 without reading the body; dripping the rest used to keep the connection."""
    with anyio.fail_after(DEADLINE):
        async with await anyio.connect_tcp("127.0.0.1", port_of(served)) as stream:
            raw = Raw(stream)
            await raw.send(post(4_000_000, token="wrong-token"))
            async with anyio.create_task_group() as drip:
                drip.start_soon(raw.drip, INIT * 100, 0.1)
                assert (await raw.response())[0] == 401
                assert await raw.closed_by_server()
                drip.cancel_scope.cancel()


def test_the_app_gets_http_disconnect_and_its_request_task_ends() -> None:
    received: list[Message] = []
    ended = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            while True:  # read the body as the SDK does, until it is complete or the client is gone
                message = await receive()
                received.append(message)
                if message["type"] == "http.disconnect" or not message.get("more_body", False):
                    break
            await send({"type": "http.response.start", "status": 200})  # too late: nobody to answer
            await send({"type": "http.response.body", "body": b"late"})
        finally:
            ended.set()

    with serving(app) as url, socket.create_connection(("127.0.0.1", port_of(url)), timeout=DEADLINE) as sock:
        conn = h11.Connection(h11.CLIENT)
        sock.sendall((conn.send(post(1000)) or b"") + (conn.send(h11.Data(data=b'{"jsonrpc"')) or b""))
        assert ended.wait(timeout=DEADLINE), "the request task still waits for the body"
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert [m["type"] for m in received][-1] == "http.disconnect"
    assert b"".join(m.get("body", b"") for m in received) == b'{"jsonrpc"'
    assert reply.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and not reply.endswith(b"late")


def test_a_client_that_leaves_mid_body_ends_its_request_without_a_traceback(
    sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The SDK logs ClientDisconnect as an error with a traceback; the front guard ends such a request first."""
    caplog.set_level(logging.WARNING)
    inner = mcp_app(sandbox)
    ended = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await inner(scope, receive, send)
        finally:
            if scope["type"] == "http":
                ended.set()

    with serving(app, body_timeout=DEADLINE) as url:
        with socket.create_connection(("127.0.0.1", port_of(url)), timeout=DEADLINE) as sock:
            conn = h11.Connection(h11.CLIENT)
            sock.sendall((conn.send(post(len(INIT))) or b"") + INIT[:20])
        assert ended.wait(timeout=DEADLINE)
    assert problems(caplog) == []


# ----------------------------------------------------------------------------- not cut off


@pytest.mark.anyio
async def test_bodies_in_pieces_within_the_deadline_are_served_one_deadline_per_request(served: str) -> None:
    """Two requests on one keep-alive connection, each body in four pieces 0.2 s apart: longer than the head
    timeout, shorter than the body deadline, and together longer than one body deadline."""
    size = len(INIT) // 4 + 1
    with anyio.fail_after(DEADLINE):
        async with await anyio.connect_tcp("127.0.0.1", port_of(served)) as stream:
            raw = Raw(stream)
            for _ in range(2):
                await raw.send(post(len(INIT)), h11.Data(data=INIT[:size]))
                for start in range(size, len(INIT), size):
                    await anyio.sleep(0.2)
                    await raw.send(h11.Data(data=INIT[start : start + size]))
                await raw.send(h11.EndOfMessage())
                status, body = await raw.response()
                assert status == 200 and b'"serverInfo"' in body, body
                raw.conn.start_next_cycle()


def test_a_large_body_sent_at_once_is_served(served: str) -> None:
    """A 1 MB initialize request, sent in one go under the 1 s body deadline."""
    padding = "x" * 1_000_000
    body = INIT.replace(b'"name":"t"', f'"name":"{padding}"'.encode())
    with httpx2.Client(timeout=DEADLINE) as http:
        response = http.post(
            served,
            content=body,
            headers={
                "Authorization": f"Bearer {HTTP_TOKEN}",
                "Accept": "application/json, text/event-stream",
                "Content-Type": "application/json",
            },
        )
    assert len(body) > 1_000_000
    assert response.status_code == 200 and '"serverInfo"' in response.text, response.text[:500]
