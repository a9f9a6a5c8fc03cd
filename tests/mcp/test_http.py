"""The streamable HTTP front door: the bearer check, the bind guard and the Host header check."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from types import SimpleNamespace

import anyio
import httpx2
import pytest
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lox24_mcp.config import Settings
from lox24_mcp.mcp.app import create_server
from lox24_mcp.mcp.http import BearerAuth, BindRefusedError, build_http_app, is_loopback
from lox24_mcp.sandbox import DEMO_TOKEN

pytestmark = pytest.mark.anyio

HTTP_TOKEN = "front-door-token-0123456789abcdef"


async def asgi_call(app: ASGIApp, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[bytes, bytes], bytes]:
    """One HTTP request straight into an ASGI app: status, headers, body."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start.get("headers", [])), body


@dataclass
class Inner:
    """A stand-in for the MCP app: counts who got through."""

    calls: list[Scope] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        del receive
        self.calls.append(scope)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"inner"})


@pytest.mark.parametrize("verdict", [True, False], ids=["digest-says-yes", "digest-says-no"])
async def test_compare_digest_alone_decides_who_gets_through(monkeypatch: pytest.MonkeyPatch, verdict: bool) -> None:
    """Whatever `hmac.compare_digest` answers is the verdict, for the right token and wrong ones of any length:
    no plain comparison lets a token through or keeps it out around the constant-time one."""
    compared: list[tuple[bytes, bytes]] = []

    def judge(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return verdict

    monkeypatch.setattr("lox24_mcp.mcp.http.hmac", SimpleNamespace(compare_digest=judge))
    for given in (HTTP_TOKEN, HTTP_TOKEN[:-1] + "X", "x", "x" * 100):
        inner = Inner()
        app = BearerAuth(inner, SecretStr(HTTP_TOKEN))
        status, _, body = await asgi_call(app, [(b"authorization", f"Bearer {given}".encode())])
        assert (status == 200) is verdict and len(inner.calls) == int(verdict), (given, status)
        if verdict:
            assert body == b"inner"
        else:
            assert HTTP_TOKEN.encode() not in body
    assert len(compared) == 4, "every presented token went through compare_digest, once"


@pytest.mark.parametrize(
    "header",
    [
        None,
        b"",
        b"Bearer ",
        b"Bearer " + b"x" * len(HTTP_TOKEN),  # same length
        b"Bearer " + HTTP_TOKEN[:-1].encode() + b"X",  # same length, last byte differs
        b"Bearer " + HTTP_TOKEN[:-1].encode(),  # a prefix
        b"Bearer " + HTTP_TOKEN.encode() + b"0",  # longer
        b"Bearer " + HTTP_TOKEN.encode() + b" ",
        b"Basic " + HTTP_TOKEN.encode(),
        HTTP_TOKEN.encode(),
        b"Bearer " + HTTP_TOKEN.upper().encode(),
        b"Bearer x",
    ],
    ids=lambda h: "missing" if h is None else repr(h[:12] + b"..")[:20],
)
async def test_every_wrong_bearer_gets_401_and_is_compared_in_constant_time(
    monkeypatch: pytest.MonkeyPatch, header: bytes | None
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr("lox24_mcp.mcp.http.hmac", SimpleNamespace(compare_digest=spy))
    inner = Inner()
    headers = [] if header is None else [(b"authorization", header)]
    status, response_headers, body = await asgi_call(BearerAuth(inner, SecretStr(HTTP_TOKEN)), headers)
    assert status == 401 and inner.calls == []
    assert response_headers[b"www-authenticate"].startswith(b"Bearer")
    assert HTTP_TOKEN.encode() not in body
    assert len(compared) == 1, "every wrong token, of any length, goes through compare_digest"


async def test_the_right_bearer_gets_through_and_other_scopes_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    inner = Inner()
    app = BearerAuth(inner, SecretStr(HTTP_TOKEN))
    status, _, body = await asgi_call(app, [(b"authorization", f"Bearer {HTTP_TOKEN}".encode())])
    assert (status, body) == (200, b"inner") and len(inner.calls) == 1
    assert HTTP_TOKEN not in repr(app)

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        del message

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert [s["type"] for s in inner.calls] == ["http", "lifespan"]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "127.255.255.254", "::1", "[::1]", "localhost"])
def test_loopback_spellings_count_as_loopback(host: str) -> None:
    assert is_loopback(host)
    settings_ = Settings(api_token=SecretStr(DEMO_TOKEN))
    build_http_app(create_server(settings_), host=host, http_token=None)  # no BindRefusedError


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",  # noqa: S104
        "::",
        "[::]",
        "192.168.1.1",
        "10.0.0.1",
        "8.8.8.8",
        "",
        "example.com",
        "localhost.evil.example",
        "127.0.0.1.nip.io",
        "::ffff:192.168.1.1",
    ],
)
def test_other_binds_are_not_loopback_and_need_a_token(host: str) -> None:
    assert not is_loopback(host)
    settings_ = Settings(api_token=SecretStr(DEMO_TOKEN))
    with pytest.raises(BindRefusedError) as refused:
        build_http_app(create_server(settings_), host=host, http_token=None)
    assert "LOX24_MCP_HTTP_TOKEN" in str(refused.value)
    build_http_app(create_server(settings_), host=host, http_token=SecretStr(HTTP_TOKEN))  # a token is enough


async def status_with_host(
    host: str,
    host_header: str,
    *,
    token: str | None = None,
    bearer: str | None = None,
    allowed_hosts: list[str] | None = None,
) -> int:
    """Run the real HTTP app (lifespan included) in memory and POST /mcp with the given Host header."""
    server = create_server(Settings(api_token=SecretStr(DEMO_TOKEN)))
    app = build_http_app(server, host=host, http_token=SecretStr(token) if token else None, allowed_hosts=allowed_hosts)
    to_app, app_inbox = anyio.create_memory_object_stream[Message](4)
    app_outbox, from_app = anyio.create_memory_object_stream[Message](4)

    async def receive() -> Message:
        return await app_inbox.receive()

    async def send(message: Message) -> None:
        await app_outbox.send(message)

    async def run_lifespan() -> None:
        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)

    headers = {"Host": host_header, "Accept": "application/json, text/event-stream"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg, to_app, from_app, app_inbox, app_outbox:
            tg.start_soon(run_lifespan)
            await to_app.send({"type": "lifespan.startup"})
            assert (await from_app.receive())["type"] == "lifespan.startup.complete"
            transport = httpx2.ASGITransport(app=app)
            async with httpx2.AsyncClient(transport=transport, base_url="http://mcp.test") as http:
                response = await http.post("/mcp", json={}, headers=headers)
            await to_app.send({"type": "lifespan.shutdown"})
            assert (await from_app.receive())["type"] == "lifespan.shutdown.complete"
    return response.status_code


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
async def test_a_loopback_bind_refuses_a_foreign_host_header(host: str) -> None:
    assert await status_with_host(host, "evil.example") == 421
    assert await status_with_host(host, "evil.example:8000") == 421
    assert await status_with_host(host, "localhost:8000") != 421


@pytest.mark.parametrize("host", ["127.0.0.2", "[::1]"])
async def test_every_loopback_spelling_refuses_a_foreign_host_header(host: str) -> None:
    assert await status_with_host(host, "evil.example") == 421


async def test_a_public_bind_with_allowed_hosts_checks_the_bearer_first_then_the_host() -> None:
    public = "0.0.0.0"  # noqa: S104
    allowed = ["mcp.example.com"]

    async def door(host_header: str, bearer: str | None) -> int:
        return await status_with_host(public, host_header, token=HTTP_TOKEN, bearer=bearer, allowed_hosts=allowed)

    assert await door("evil.example", None) == 401
    assert await door("mcp.example.com", "wrong") == 401
    assert await door("evil.example", HTTP_TOKEN) == 421
    assert await door("mcp.example.com", HTTP_TOKEN) not in (401, 421)
    assert await door("mcp.example.com:443", HTTP_TOKEN) not in (401, 421)


def test_build_http_app_refuses_public_binds_without_a_token() -> None:
    settings = Settings(api_token=SecretStr(DEMO_TOKEN))
    with pytest.raises(BindRefusedError):
        build_http_app(create_server(settings), host="0.0.0.0", http_token=None)  # noqa: S104
    app = build_http_app(create_server(settings), host="0.0.0.0", http_token=SecretStr(HTTP_TOKEN))  # noqa: S104
    assert isinstance(app, BearerAuth)
