"""`LOX24_MCP_CREDENTIALS=client`: every HTTP request brings its own LOX24 token.

The caller sends `X-LOX24-AUTH-TOKEN: <clientId>:<apiKey>` (the header LOX24 itself uses), and the
request runs with that token only: `lox24(ctx)` hands the tools a view of the shared client with it,
confirmation tokens are scoped to its account, a 2026-07-28 dialog's sealed state is bound to it,
and completion lists its groups. Requests without a well-formed header get a 401 that names the
header, before the MCP layer sees them. stdio keeps the environment's token.

The token is never logged or echoed: only its shape is checked here, and the 401 does not repeat it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from mcp.server.context import ServerRequestContext
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

HEADER: Final = "x-lox24-auth-token"
_SHAPE: Final = re.compile(r"[^\s:]{1,64}:[^\s]{1,256}")
_PRINCIPAL_LABEL: Final = b"lox24-mcp/caller-principal/v1"


def caller_token(headers: Mapping[str, str] | None) -> SecretStr | None:
    """The caller's `<clientId>:<apiKey>` from the request headers, or None if absent or malformed."""
    if headers is None:
        return None
    value = headers.get(HEADER)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == HEADER), None)
    if value is None:
        return None
    value = value.strip()
    return SecretStr(value) if _SHAPE.fullmatch(value) else None


def request_headers(ctx: ServerRequestContext[Any, Any]) -> Mapping[str, str] | None:
    """The HTTP headers of a low-level handler's request (None on stdio)."""
    headers: Mapping[str, str] | None = getattr(ctx.request, "headers", None)
    return headers


def caller_principal(ctx: ServerRequestContext[Any, Any]) -> str | None:
    """Binds a 2026-07-28 dialog's sealed state to the token that started it (a keyed digest, not the key)."""
    token = caller_token(request_headers(ctx))
    if token is None:
        return None
    return hmac.new(_PRINCIPAL_LABEL, token.get_secret_value().encode(), hashlib.sha256).hexdigest()[:32]


class RequireCallerToken:
    """ASGI guard: refuse HTTP requests without a well-formed `X-LOX24-AUTH-TOKEN` with a 401 naming it."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        raw = next((v for k, v in scope.get("headers", []) if k == HEADER.encode()), None)
        if raw is not None and _SHAPE.fullmatch(raw.decode("latin-1").strip()):
            await self._app(scope, receive, send)
            return
        problem = "is missing" if raw is None else "is not of the form <clientId>:<apiKey>"
        body = json.dumps(
            {
                "error": "lox24_token_required",
                "detail": f"The X-LOX24-AUTH-TOKEN header {problem}. This server uses each caller's own LOX24 "
                "API token: send X-LOX24-AUTH-TOKEN: <clientId>:<apiKey> (account.lox24.eu → Settings → API) "
                "with every request.",
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'X-LOX24-AUTH-TOKEN realm="lox24"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})
