"""What several HTTP replicas behind one load balancer need from each replica.

- 2026-07-28 dialogs travel as sealed `requestState` between rounds; any replica may get the next
  round, so every replica seals with the same key. It is derived from `LOX24_MCP_SECRET` (never the
  secret itself, which also keys the confirmation tokens).
- 2025-11-25 sessions live in one replica's memory. The first request of a session carries no
  `Mcp-Session-Id`, so a load balancer cannot hash its way to the replica that will mint the id;
  with `LOX24_MCP_REPLICA_ID` set, the replica prefixes the ids it mints with its own id
  (`r1.<id>`), and the load balancer routes on that prefix (see deploy/nginx/lox24-mcp.conf).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Final

from mcp.server.mcpserver import RequestStateSecurity
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lox24_mcp.config import Settings
from lox24_mcp.mcp.tenants import caller_principal

SESSION_HEADER: Final = b"mcp-session-id"
#: Response header naming the replica that answered (operators' debugging, and the deployment test).
REPLICA_HEADER: Final = b"x-lox24-mcp-replica"
_STATE_KEY_LABEL: Final = b"lox24-mcp/request-state/v1"


def request_state_key(secret: bytes) -> bytes:
    """The 32-byte key sealing 2026-07-28 request state, derived from the shared secret."""
    return hmac.new(secret, _STATE_KEY_LABEL, hashlib.sha256).digest()


def request_state_security(settings: Settings) -> RequestStateSecurity | None:
    """Shared sealing when `LOX24_MCP_SECRET` is set; None leaves the SDK's per-process key.

    With `LOX24_MCP_CREDENTIALS=client` the state is also bound to the caller's token, so a dialog
    started with one tenant's token cannot be finished with another's.
    """
    if settings.secret is None and settings.credentials == "server":
        return None
    key = request_state_key(settings.secret.get_secret_value().encode()) if settings.secret else os.urandom(32)
    if settings.credentials == "client":
        return RequestStateSecurity(keys=[key], bind_principal=caller_principal)
    return RequestStateSecurity(keys=[key])


class ReplicaTag:
    """ASGI wrapper: prefix the session ids this replica mints with `<replica_id>.`, strip it on the way in.

    Ids tagged for another replica are passed on unchanged: the SDK does not know them and answers
    404, which tells a 2025-11-25 client to start a new session (what it must do anyway when the
    replica that held its session is gone).
    """

    def __init__(self, app: ASGIApp, replica_id: str) -> None:
        self._app = app
        self._id = replica_id.encode()
        self._prefix = self._id + b"."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = [
            (name, value[len(self._prefix) :] if name == SESSION_HEADER and value.startswith(self._prefix) else value)
            for name, value in scope.get("headers", [])
        ]

        async def tagged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = [
                    (name, self._prefix + value if name.lower() == SESSION_HEADER else value)
                    for name, value in message.get("headers", [])
                ]
                out.append((REPLICA_HEADER, self._id))
                message = {**message, "headers": out}
            await send(message)

        await self._app({**scope, "headers": headers}, receive, tagged_send)
