"""Streamable HTTP for agent frameworks: the SDK's app, a bind guard, an optional bearer token, and a front guard.

The front guard (`HttpGuard`) treats host names case-insensitively, says in the log how to allow a host
the DNS-rebinding protection refused (421), and turns the SDK's bare 413 for a too-large body into a
JSON-RPC error that says how many contacts fit in one call and where larger imports go. A request whose
connection ends before its body is complete (the client went away, or its body was too slow) ends there,
quietly, instead of reaching the SDK, which would log the disconnect as a traceback.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
from typing import Any

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lox24_mcp.config import MIN_HTTP_TOKEN_CHARS

logger = logging.getLogger(__name__)

#: Largest request body accepted over HTTP (the SDK's default, set explicitly so the guard knows it).
MAX_HTTP_BODY = 4 * 1024 * 1024
#: Distinct refused Host names logged (each once); beyond that, one last line says further ones are not.
MAX_LOGGED_HOSTS = 50


class BindRefusedError(Exception):
    """Serving on a non-loopback address without a bearer token is refused."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class BearerAuth:
    """Require `Authorization: Bearer <token>` on every HTTP request (compared in constant time).

    The scheme is case-insensitive (RFC 7235 §2.1: `bearer`, `BEARER` are the same scheme).
    """

    def __init__(self, app: ASGIApp, token: SecretStr) -> None:
        self._app = app
        self._expected = token.get_secret_value().encode()

    def __repr__(self) -> str:
        return "BearerAuth(token=<hidden>)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                given = value
                break
        scheme, _, credentials = given.partition(b" ")
        # Always compare (constant time, whatever the scheme), then check the scheme.
        matches = hmac.compare_digest(credentials.lstrip(b" "), self._expected)
        if matches and scheme.lower() == b"bearer":
            await self._app(scope, receive, send)
            return
        body = json.dumps({"error": "unauthorized", "detail": "Send Authorization: Bearer <LOX24_MCP_HTTP_TOKEN>."})
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b'Bearer realm="lox24-mcp"')],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})


def build_http_app(
    server: MCPServer[Any],
    *,
    host: str,
    http_token: SecretStr | None,
    allowed_hosts: list[str] | None = None,
    replica_id: str | None = None,
    caller_credentials: bool = False,
) -> ASGIApp:
    """The ASGI app serving MCP at `/mcp`.

    Loopback binds get the SDK's DNS-rebinding protection (foreign `Host` → 421). Any other bind
    must have a bearer token, and keeps the protection when `allowed_hosts` names the public host.
    With `replica_id`, the session ids this replica mints carry it (see `lox24_mcp.mcp.replicas`).
    With `caller_credentials`, every request must carry X-LOX24-AUTH-TOKEN (see `lox24_mcp.mcp.tenants`).

    Raises:
        BindRefusedError: `host` is not loopback and `http_token` is None or shorter than 16 characters.
    """
    loopback = is_loopback(host)
    if not loopback and http_token is None:
        raise BindRefusedError(
            f"refusing to serve on {host} without LOX24_MCP_HTTP_TOKEN: anyone who can reach it could cancel SMS. "
            "Set LOX24_MCP_HTTP_TOKEN, or bind to 127.0.0.1."
        )
    if not loopback and http_token is not None and len(http_token.get_secret_value()) < MIN_HTTP_TOKEN_CHARS:
        raise BindRefusedError(
            f"refusing to serve on {host}: LOX24_MCP_HTTP_TOKEN must be at least {MIN_HTTP_TOKEN_CHARS} characters "
            "to guard a non-loopback bind (e.g. `openssl rand -hex 32`)."
        )
    security: TransportSecuritySettings | None = None
    names = [name.lower() for name in allowed_hosts or []]
    if loopback and not names:
        # The SDK arms its protection only for exactly 127.0.0.1/localhost/::1; cover every loopback spelling.
        names = ["127.0.0.1", "localhost", "[::1]", host if ":" not in host or host.startswith("[") else f"[{host}]"]
    if names:
        hosts = [h for name in dict.fromkeys(names) for h in (name, f"{name}:*")]
        origins = [f"{scheme}://{h}" for scheme in ("http", "https") for h in hosts]
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
        )
    sdk_app = server.streamable_http_app(host=host, transport_security=security, max_request_body_size=MAX_HTTP_BODY)
    app: ASGIApp = HttpGuard(sdk_app)
    if caller_credentials:
        from lox24_mcp.mcp.tenants import RequireCallerToken

        app = RequireCallerToken(app)
    if replica_id is not None:
        from lox24_mcp.mcp.replicas import ReplicaTag

        app = ReplicaTag(app, replica_id)
    if http_token is not None:
        app = BearerAuth(app, http_token)
    return app


class HttpGuard:
    """In front of the SDK's app: lower-case Host/Origin, explain 421 in the log and 413 to the client."""

    def __init__(self, app: ASGIApp, *, max_body: int = MAX_HTTP_BODY) -> None:
        self._app = app
        self._max_body = max_body
        self._logged_hosts: set[bytes] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        # Host names are case-insensitive (RFC 9110 §4.2.3); the SDK compares them as given.
        headers = [(name, value.lower() if name in (b"host", b"origin") else value) for name, value in scope["headers"]]
        scope = {**scope, "headers": headers}
        host = next((value for name, value in headers if name == b"host"), b"")
        body = _BodyWatch(receive, self._max_body)

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 421:
                self._log_refused_host(host)
            if message["type"] == "http.response.start" and message["status"] == 413:
                body.rejected = True
                await _too_large(send, await body.contacts_in_limit(), body.declared(scope))
                return
            if body.rejected:  # the SDK's own 413 text: replaced above
                return
            await send(message)

        try:
            await self._app(scope, body.receive, guarded_send)
        except BodyCutOffError:
            # The client went away, or the server cut off its too-slow body, before the body was complete:
            # nobody is left to answer, and the SDK would log ClientDisconnect as a traceback.
            return

    def _log_refused_host(self, host: bytes) -> None:
        if host in self._logged_hosts or len(self._logged_hosts) > MAX_LOGGED_HOSTS:
            return
        self._logged_hosts.add(host)
        if len(self._logged_hosts) > MAX_LOGGED_HOSTS:
            logger.warning("more requests with other Host headers were refused (421); not logging each")
            return
        name = host.decode("latin-1")[:100]
        bare = name.split("]", 1)[0] + "]" if name.startswith("[") else name.split(":", 1)[0]
        suggestion = bare if re.fullmatch(r"[a-z0-9.-]{1,100}|\[[0-9a-f:.]{2,60}\]", bare) else "NAME"
        logger.warning(
            "refused a request for Host %r (421, DNS-rebinding protection). If clients reach this server "
            "under that name, start it with --allowed-host %s",
            name,
            suggestion,
        )


class BodyCutOffError(Exception):
    """The connection ended before the request body was complete (raised past the SDK, caught by HttpGuard)."""


class _BodyWatch:
    """Counts the contacts (`"phone"` keys) in the first `limit` bytes of a request body as they pass by."""

    _KEY = b'"phone"'

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive = receive
        self._limit = limit
        self._seen = 0
        self._count = 0
        self._tail = b""
        self._more = True
        self.rejected = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._watch(message.get("body", b""))
            self._more = bool(message.get("more_body", False))
        elif self._more and message["type"] == "http.disconnect":
            raise BodyCutOffError
        return message

    def _watch(self, chunk: bytes) -> None:
        room = self._limit - self._seen
        if room <= 0:
            return
        chunk = chunk[:room]
        self._seen += len(chunk)
        window = self._tail + chunk
        self._count += window.count(self._KEY) - self._tail.count(self._KEY)
        self._tail = window[-(len(self._KEY) - 1) :]

    async def contacts_in_limit(self) -> int:
        """Read on (bounded by the limit) if the SDK refused on Content-Length alone, then count."""
        while self._more and self._seen < self._limit:
            message = await self.receive()
            if message["type"] != "http.request":
                break
        return self._count

    @staticmethod
    def declared(scope: Scope) -> int | None:
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit():
                return int(value)
        return None


async def _too_large(send: Send, contacts: int, declared: int | None) -> None:
    """A JSON-RPC error (the official client surfaces it) saying what fits and where bigger imports go."""
    size = f" ({declared / 1_048_576:.1f} MiB)" if declared else ""
    limit = f"{MAX_HTTP_BODY // 1_048_576} MiB"
    if contacts > 1:
        fit = contacts - 1  # the last one counted may be cut off at the limit
        message = (
            f"The request is too large for HTTP{size}: this server accepts at most {limit} per request, which "
            f"holds about {fit:,} of these contacts. Send at most {fit:,} contacts per add_phones_to_group call, "
            "or import the whole list from a file with add_phones_from_file."
        )
    else:
        message = f"The request is too large for HTTP{size}: this server accepts at most {limit} per request."
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
