"""Serving the HTTP app with uvicorn, hardened against slow and hostile clients.

uvicorn has no timeout for the request head: a client that opens a connection and sends its headers a
byte at a time (slowloris) holds a descriptor forever, before the bearer check can run, and ~1,000 of
them take the server down for everyone. Here each connection must deliver a complete request head
within `HEADER_TIMEOUT` seconds; idle keep-alive connections close after `KEEP_ALIVE_TIMEOUT`; and at
most `max_connections` are open at once: a new one beyond that closes the oldest connection that is
still waiting for its request head, so a flood of slow connections cannot lock out a real client.
Once a head has arrived, the whole request body must arrive within `BODY_TIMEOUT` seconds (a client
that drips the body, "slow POST", would otherwise hold the connection and its request task forever):
the request is then answered 408 if no response has started, and the connection closed either way; the
application's `receive()` gets `http.disconnect`, as when the client goes away.
Running out of file descriptors anyway is logged once, not as a traceback per failed accept.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import socket
from typing import Any

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle

logger = logging.getLogger(__name__)

#: Seconds a connection has to deliver a complete request head (request line and headers).
HEADER_TIMEOUT = 10.0
#: Seconds a request body has, from the end of its head, to arrive completely. A fixed deadline, not a
#: minimum rate: it bounds how long one request can hold a connection, whatever its size (under a rate
#: rule such as Apache mod_reqtimeout's 500 B/s, the largest body could hold one for over two hours). Bodies are at most
#: 4 MiB (`MAX_HTTP_BODY`), and a typical request is a few KiB that any link delivers in well under a
#: second; the largest one needs ~0.56 Mbit/s sustained to arrive in 60 s, which a slow 3G uplink still
#: manages (30 s would need 1.1 Mbit/s, more than a congested mobile uplink gives).
BODY_TIMEOUT = 60.0
#: Seconds an idle keep-alive connection stays open between requests.
KEEP_ALIVE_TIMEOUT = 5
#: Upper bound on open client connections, whatever the descriptor limit.
MAX_CONNECTIONS = 4096
#: Upper bound on the accept backlog (uvicorn's default).
MAX_BACKLOG = 2048
#: The soft descriptor limit is raised towards the hard one, up to this, before serving.
WANTED_DESCRIPTORS = 65536


def _soft_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return WANTED_DESCRIPTORS if soft == resource.RLIM_INFINITY else int(soft)


def raise_descriptor_limit() -> int:
    """Raise the soft descriptor limit towards the hard one (as Go and nginx do); returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = WANTED_DESCRIPTORS if hard == resource.RLIM_INFINITY else min(hard, WANTED_DESCRIPTORS)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (OSError, ValueError):
            logger.debug("could not raise the descriptor limit from %s to %s", soft, wanted)
    return _soft_limit()


def default_max_connections() -> int:
    """A quarter of the descriptor limit.

    asyncio accepts a whole backlog's worth of connections before the protocol sees any of them, up to
    three times over, so connections, in-flight accepts and the server's own descriptors (LOX24 pool,
    sandbox, event loop) must all fit: 1/4 + 3 x 1/8 leaves more than a third of the limit free.
    """
    return max(16, min(MAX_CONNECTIONS, _soft_limit() // 4))


def default_backlog() -> int:
    """An eighth of the descriptor limit: bounds how many connections one accept burst opens."""
    return max(16, min(MAX_BACKLOG, _soft_limit() // 8))


def bind(host: str, port: int, backlog: int | None = None) -> socket.socket:
    """A listening TCP socket on `host`:`port` (port 0: any free port).

    Raises:
        OSError: the address cannot be resolved or bound (in use, not local, no permission).
    """
    infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(default_backlog() if backlog is None else backlog)
    except OSError:
        sock.close()
        raise
    return sock


def url_for(host: str, sock: socket.socket, path: str = "/mcp") -> str:
    """`http://host:port/mcp` with the port actually bound; IPv6 addresses in brackets."""
    port = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    return f"http://{shown}:{port}{path}"


def guarded_h11(header_timeout: float, max_connections: int, body_timeout: float = BODY_TIMEOUT) -> type[H11Protocol]:
    """uvicorn's h11 protocol with request-head and request-body deadlines and eviction of the oldest
    waiting connection."""
    waiting: dict[_Guarded, None] = {}  # connections waiting for a request head, oldest first
    warned: set[str] = set()
    too_slow = f"The request body did not arrive within {body_timeout:g} s, so the request was not processed.\n"

    class _Guarded(H11Protocol):
        head_timer: asyncio.TimerHandle | None = None
        body_timer: asyncio.TimerHandle | None = None
        body_cycle: object = None  # the request whose body `body_timer` waits for

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.await_head()
            if len(self.connections) > max_connections:
                self.make_room()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.await_head()
            else:
                self.stop_waiting()
            self.watch_body()

        def connection_lost(self, exc: Exception | None) -> None:
            self.stop_waiting()
            self.stop_body_timer()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # Idle until the next request head: uvicorn's keep-alive timer runs until its first byte, and
            # the connection is the first to go when room is needed.
            if not self.transport.is_closing():
                waiting[self] = None
            self.watch_body()  # a pipelined request may have started

        def watch_body(self) -> None:
            """Start the body deadline when a request head has arrived; stop it once the body has."""
            if self.conn.their_state is not h11.SEND_BODY or self.transport.is_closing():
                self.stop_body_timer()
            elif self.body_timer is None or self.body_cycle is not self.cycle:
                self.stop_body_timer()
                self.body_cycle = self.cycle
                self.body_timer = self.loop.call_later(body_timeout, self.on_body_timeout)

        def stop_body_timer(self) -> None:
            if self.body_timer is not None:
                self.body_timer.cancel()
                self.body_timer = None
            self.body_cycle = None

        def on_body_timeout(self) -> None:
            self.body_timer = None
            self.body_cycle = None
            if self.conn.their_state is not h11.SEND_BODY or self.transport.is_closing():
                return
            _warn_once("body", "cutting off request bodies that do not arrive within %g s (408)", body_timeout)
            cycle: RequestResponseCycle | None = self.cycle
            if cycle is not None and not cycle.response_complete:
                # What connection_lost does, but now: the app's receive() returns http.disconnect and its
                # send() does nothing, so it cannot answer on top of the 408.
                cycle.disconnected = True
                cycle.message_event.set()
            if self.conn.our_state is h11.SEND_RESPONSE:  # nothing answered yet
                self.send_408()
            self.stop_waiting()
            self.transport.close()

        def send_408(self) -> None:
            body = too_slow.encode()
            headers = [
                *self.server_state.default_headers,
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            for event in (
                h11.Response(status_code=408, headers=headers, reason=b"Request Timeout"),
                h11.Data(data=body),
                h11.EndOfMessage(),
            ):
                self.transport.write(self.conn.send(event) or b"")

        def await_head(self) -> None:
            waiting[self] = None
            if self.head_timer is None:
                self.head_timer = self.loop.call_later(header_timeout, self.on_head_timeout)

        def stop_waiting(self) -> None:
            waiting.pop(self, None)
            if self.head_timer is not None:
                self.head_timer.cancel()
                self.head_timer = None

        def on_head_timeout(self) -> None:
            self.head_timer = None
            if self.conn.their_state is h11.IDLE:  # still no complete request head
                _warn_once("slow", "closing connections that do not send a request head within %.0f s", header_timeout)
                self.stop_waiting()
                self.transport.close()

        def make_room(self) -> None:
            for oldest in waiting:
                if oldest is not self:
                    _warn_once("full", "%d connections open: closing the oldest idle or slow ones", max_connections)
                    oldest.stop_waiting()
                    oldest.transport.close()
                    return
            _warn_once("busy", "%d connections busy: refusing new ones until some finish", max_connections)
            self.stop_waiting()
            self.transport.close()

    def _warn_once(key: str, message: str, *args: Any) -> None:
        if key not in warned:
            warned.add(key)
            logger.warning(message, *args)

    return _Guarded


class _Server(uvicorn.Server):
    """uvicorn's server with a loop exception handler that reports descriptor exhaustion once."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        reported = False

        def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            nonlocal reported
            exc = context.get("exception")
            if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                if not reported:
                    reported = True
                    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
                    logger.error(
                        "out of file descriptors (limit %s): new connections wait until some close; "
                        "raise `ulimit -n` if this is legitimate load (reported once)",
                        soft,
                    )
                return
            if isinstance(exc, ValueError) and "_start_serving" in repr(context.get("handle")):
                # asyncio's accept retry, scheduled after running out of descriptors, firing after shutdown
                # closed the listening socket: nothing to serve any more.
                return
            loop.default_exception_handler(context)

        loop.set_exception_handler(handler)
        await super().startup(sockets=sockets)


def serve(
    app: ASGIApp,
    sock: socket.socket,
    *,
    header_timeout: float = HEADER_TIMEOUT,
    body_timeout: float = BODY_TIMEOUT,
    max_connections: int | None = None,
    backlog: int | None = None,
) -> None:
    """Serve `app` on the bound socket `sock` until interrupted (Ctrl-C, SIGTERM)."""
    server = build_server(
        app, header_timeout=header_timeout, body_timeout=body_timeout, max_connections=max_connections, backlog=backlog
    )
    server.run(sockets=[sock])


def build_server(
    app: ASGIApp,
    *,
    header_timeout: float = HEADER_TIMEOUT,
    body_timeout: float = BODY_TIMEOUT,
    max_connections: int | None = None,
    backlog: int | None = None,
) -> uvicorn.Server:
    """The hardened uvicorn server for `app` (tests run it on their own loop with `serve(sockets=...)`)."""
    cap = max_connections if max_connections is not None else default_max_connections()
    config = uvicorn.Config(
        app,
        http=guarded_h11(header_timeout, cap, body_timeout),
        # Leave the process's logging alone: uvicorn's records propagate to the CLI's stderr handler.
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
        # Requests in flight beyond this get 503; eviction above keeps idle connections from counting.
        limit_concurrency=cap + 16,
        backlog=default_backlog() if backlog is None else backlog,
        timeout_graceful_shutdown=5,
    )
    return _Server(config)
