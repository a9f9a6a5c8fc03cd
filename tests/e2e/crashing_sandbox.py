"""A sandbox API process that kills itself with SIGKILL at a chosen phones batch (for the re-run tests).

    python crashing_sandbox.py DB_PATH KILL_AT PHASE

Serves a sandbox over the SQLite file DB_PATH (so what it committed survives it) that stores a number
sent twice (LOX24 does not document that it refuses one). The KILL_AT-th `POST …/phones/batch` kills the
process: PHASE `before` on arrival (nothing of it is stored), `after` once it is carried out and its
answer is about to go out (stored, never answered). KILL_AT 0 never kills. Prints the base URL on stdout.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lox24_mcp.sandbox.app import create_app
from lox24_mcp.sandbox.runner import _bind, _Server, _url
from lox24_mcp.sandbox.state import SandboxState


class KillAt:
    def __init__(self, app: ASGIApp, kill_at: int, phase: str) -> None:
        self.app = app
        self.kill_at = kill_at
        self.phase = phase
        self.batches = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_batch = scope["type"] == "http" and scope["method"] == "POST" and scope["path"].endswith("/phones/batch")
        if not is_batch:
            await self.app(scope, receive, send)
            return
        self.batches += 1
        if self.batches != self.kill_at:
            await self.app(scope, receive, send)
            return
        if self.phase == "before":
            os.kill(os.getpid(), signal.SIGKILL)

        async def kill_before_answering(message: Message) -> None:
            if message["type"] == "http.response.start":
                os.kill(os.getpid(), signal.SIGKILL)
            await send(message)

        await self.app(scope, receive, kill_before_answering)


def main() -> None:
    db_path, kill_at, phase = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    state = SandboxState(seed_demo_data=False, duplicates="store", db_path=db_path)
    app = create_app(state)
    app.add_middleware(KillAt, kill_at=kill_at, phase=phase)
    sock = _bind("127.0.0.1", 0)  # listening already: connections wait in the backlog until serving starts
    sys.stdout.write(_url(sock) + "\n")
    sys.stdout.flush()
    asyncio.run(_Server(app).serve(sockets=[sock]))


if __name__ == "__main__":
    main()
