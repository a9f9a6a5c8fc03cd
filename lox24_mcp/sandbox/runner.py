"""Serving the sandbox: in a background thread (`SandboxServer`) or in the foreground (`serve_forever`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from types import FrameType, TracebackType

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lox24_mcp.sandbox.app import create_app
from lox24_mcp.sandbox.state import DEMO_TOKEN, SandboxState

logger = logging.getLogger(__name__)

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 lets the OS pick a free one, which we can then read back."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say so, and without it
    # every keep-alive answer (headers and body are two writes) waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _config(app: Starlette) -> uvicorn.Config:
    # h11 explicitly: drop faults rely on its request cycle exposing the transport.
    return uvicorn.Config(
        app,
        http="h11",
        # log_config=None: leave the host process's logging alone (uvicorn's default reconfigures it);
        # uvicorn's records then propagate to whatever handlers the host set up, on stderr for the CLI.
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )


class _Server(uvicorn.Server):
    """uvicorn's server, with a readiness event and a stop that does not wait for the next 0.1 s tick."""

    def __init__(self, app: Starlette) -> None:
        super().__init__(_config(app))
        self._closing: asyncio.Event = app.state.closing
        self.ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        await super().startup(sockets=sockets)
        if self.started:
            self.ready.set()

    async def main_loop(self) -> None:
        assert self._wake is not None
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # A connection accepted a moment ago registers itself (connection_made) only on the next loop turn.
        await asyncio.sleep(0)
        if self.server_state.connections or self.server_state.tasks:
            await super().shutdown(sockets=sockets)
        else:
            # Nothing in flight: uvicorn's fixed 0.1 s grace sleep for open connections has nothing to wait
            # for, and skipping it makes a test suite that starts a sandbox per test noticeably faster.
            for server in self.servers:
                server.close()
            for sock in sockets or []:
                sock.close()
            for server in self.servers:
                await server.wait_closed()
            await self.lifespan.shutdown()
        # A closed transport releases its socket in a callback (connection_lost); let those run before the
        # loop ends, or the sockets are left for the garbage collector (a ResourceWarning).
        for _ in range(2):
            await asyncio.sleep(0)

    def request_exit(self) -> None:
        """Ask the server to stop; safe from any thread."""
        self.should_exit = True
        self._wake_up()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Ctrl+C under `serve_forever`: uvicorn sets should_exit; also release requests held by faults.
        super().handle_exit(sig, frame)
        self._wake_up()

    def _wake_up(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(wake.set)
                loop.call_soon_threadsafe(self._closing.set)


class SandboxServer:
    """The sandbox API served by uvicorn in a daemon thread, on a free loopback port by default.

    Who creates the state closes it: a server started without one creates and closes its own; a state
    passed in stays open after `stop()` (so it can be read, or served again) and is closed by its creator
    (`with SandboxState() as state, SandboxServer(state) as server:`).

    Usage::

        with SandboxServer() as server:
            httpx2.get(f"{server.url}/groups", headers={"X-LOX24-AUTH-TOKEN": DEMO_TOKEN})
    """

    def __init__(self, state: SandboxState | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._owns_state = state is None
        self.state = state if state is not None else SandboxState()
        self.host = host
        self.port = port
        #: The base URL, e.g. `http://127.0.0.1:54321`; set by `start()`.
        self.url = ""
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    def __repr__(self) -> str:
        return f"SandboxServer(url={self.url!r})"

    def start(self) -> SandboxServer:
        """Start serving; returns once connections are accepted (RuntimeError after 10 s).

        If it cannot start, it is stopped (and a state it created is closed).
        """
        if self._thread is not None:
            return self
        try:
            sock = _bind(self.host, self.port)
        except OSError:
            self.stop()  # `with SandboxServer(...)` never reaches __exit__ when __enter__ fails
            raise
        self._sock = sock
        self.url = _url(sock)
        server = _Server(create_app(self.state))
        self._server = server
        thread = threading.Thread(target=self._run, args=(server, sock), name=f"lox24-sandbox {self.url}", daemon=True)
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.ready.wait(0.05):
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sandbox API did not start on {self.url}")
        return self

    @staticmethod
    def _run(server: _Server, sock: socket.socket) -> None:
        asyncio.run(server.serve(sockets=[sock]))

    def stop(self) -> None:
        """Stop serving and release the port; bounded and idempotent."""
        server, thread, sock = self._server, self._thread, self._sock
        self._server = self._thread = self._sock = None
        if server is not None:
            server.request_exit()
        if thread is not None:
            thread.join(STOP_TIMEOUT)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(STOP_TIMEOUT)
            if thread.is_alive():
                logger.error("the sandbox API thread did not stop within %.0f s", 2 * STOP_TIMEOUT)
        if sock is not None:
            sock.close()
        # After the thread: nothing serves the state any more. Closing is idempotent, as is stop().
        if self._owns_state:
            self.state.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def add_request_log_route(app: Starlette, state: SandboxState) -> None:
    """`GET /_sandbox/requests`: what a separately running sandbox received (method, path, status).

    For tests that run the sandbox as its own process (`lox24-mcp sandbox-api`) and must count what
    reached it, e.g. that no cancel was POSTed twice. Query strings, headers and bodies are left out;
    the sandbox token is required as for every route.
    """

    async def request_log(request: Request) -> Response:
        del request
        return JSONResponse(
            [
                {"method": r.method, "path": r.path, "status": r.status}
                for r in list(state.requests)
                if not r.path.startswith("/_sandbox/")
            ]
        )

    app.router.routes.insert(0, Route("/_sandbox/requests", request_log, methods=["GET"]))


def serve_forever(host: str, port: int, state: SandboxState | None = None) -> None:
    """Serve the sandbox API in the foreground until interrupted (the `lox24-mcp sandbox-api` command).

    Closes `state` when it returns (also one passed in: it is served until the process ends).
    """
    state = state if state is not None else SandboxState()
    with state:
        sock = _bind(host, port)
        try:
            url = _url(sock)
            logger.warning("LOX24 sandbox API on %s", url)
            if state.token == DEMO_TOKEN:
                logger.warning("sandbox token (not a secret): X-LOX24-AUTH-TOKEN: %s", DEMO_TOKEN)
            app = create_app(state)
            add_request_log_route(app, state)
            server = _Server(app)
            # In the main thread uvicorn handles Ctrl+C itself, shuts down gracefully, then re-raises the signal
            # (as KeyboardInterrupt); by then there is nothing left to do, as in `uvicorn.run`.
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(server.serve(sockets=[sock]))
            logger.warning("LOX24 sandbox API stopped")
        finally:
            sock.close()
