"""Streamable HTTP for agent frameworks: the SDK's app, a bind guard, and an optional bearer token."""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Any

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send


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
    """Require `Authorization: Bearer <token>` on every HTTP request (compared in constant time)."""

    def __init__(self, app: ASGIApp, token: SecretStr) -> None:
        self._app = app
        self._expected = f"Bearer {token.get_secret_value()}".encode()

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
        if hmac.compare_digest(given, self._expected):
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
        BindRefusedError: `host` is not loopback and `http_token` is None.
    """
    loopback = is_loopback(host)
    if not loopback and http_token is None:
        raise BindRefusedError(
            f"refusing to serve on {host} without LOX24_MCP_HTTP_TOKEN: anyone who can reach it could cancel SMS. "
            "Set LOX24_MCP_HTTP_TOKEN, or bind to 127.0.0.1."
        )
    security: TransportSecuritySettings | None = None
    names = list(allowed_hosts or [])
    if loopback and not names:
        # The SDK arms its protection only for exactly 127.0.0.1/localhost/::1; cover every loopback spelling.
        names = ["127.0.0.1", "localhost", "[::1]", host if ":" not in host or host.startswith("[") else f"[{host}]"]
    if names:
        hosts = [h for name in dict.fromkeys(names) for h in (name, f"{name}:*")]
        origins = [f"{scheme}://{h}" for scheme in ("http", "https") for h in hosts]
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
        )
    app: ASGIApp = server.streamable_http_app(host=host, transport_security=security)
    if caller_credentials:
        from lox24_mcp.mcp.tenants import RequireCallerToken

        app = RequireCallerToken(app)
    if replica_id is not None:
        from lox24_mcp.mcp.replicas import ReplicaTag

        app = ReplicaTag(app, replica_id)
    if http_token is not None:
        app = BearerAuth(app, http_token)
    return app
