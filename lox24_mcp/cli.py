"""`lox24-mcp`: serve MCP over stdio (default) or streamable HTTP, optionally on the built-in sandbox.

The API token comes from the environment only (`LOX24_API_TOKEN`), never from argv. Every bad setting or
argument ends the process with one line on stderr naming it, and exit code 2; never a traceback.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import select
import shlex
import shutil
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from lox24_mcp.config import Settings

logger = logging.getLogger("lox24_mcp")

EXIT_USAGE = 2
DEFAULT_PORT = 8000
DEFAULT_SANDBOX_API_PORT = 8099
#: Third-party loggers stay at WARNING whatever LOX24_MCP_LOG_LEVEL says: at DEBUG, sse_starlette, the SDK and
#: the HTTP libraries log whole payloads (tool results with phone numbers, contact fields, tokens) and URLs.
QUIET_LOGGERS = ("sse_starlette", "mcp", "httpx", "httpx2", "httpcore", "httpcore2", "uvicorn", "starlette", "anyio")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535 (0: any free port), not {text[:20]!r}")
    return port


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, exit code 2 (argparse's default prints the whole usage first)."""
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


#: The zone of `--sandbox` when LOX24_MCP_TIMEZONE is unset (its demo data is a German shop's).
SANDBOX_TIMEZONE = "Europe/Berlin"


def _parser() -> argparse.ArgumentParser:
    from lox24_mcp import __version__

    parser = _Parser(
        prog="lox24-mcp",
        description="MCP server for the LOX24 SMS gateway. Configure with LOX24_* environment variables.",
    )
    parser.add_argument("--version", action="version", version=f"lox24-mcp {__version__}")
    parser.add_argument(
        "command",
        nargs="?",
        choices=["sandbox-api"],
        help="sandbox-api: serve only the LOX24-compatible sandbox REST API (default port 8099)",
    )
    parser.add_argument(
        "--sandbox", action="store_true", help="run against the built-in LOX24 sandbox (no account, no token)"
    )
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio", help="default: stdio")
    # One definition per option: `--port 9000 sandbox-api` and `sandbox-api --port 9000` mean the same.
    parser.add_argument("--host", default="127.0.0.1", help="bind address for HTTP and sandbox-api (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=_port,
        default=None,
        help=f"port (default {DEFAULT_PORT}; sandbox-api {DEFAULT_SANDBOX_API_PORT})",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="public host name clients use (HTTP beyond loopback; keeps DNS-rebinding protection on)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="sandbox-api: answer requests whose path starts with --latency-path this much later (tests, demos)",
    )
    parser.add_argument(
        "--latency-path", action="append", default=[], metavar="PREFIX", help="sandbox-api: default every path"
    )
    return parser


def _fail(message: str) -> int:
    sys.stderr.write(f"lox24-mcp: {message}\n")
    return EXIT_USAGE


def _configure_logging(level: str) -> None:
    """Our own loggers at the operator's level; everyone else's at WARNING (see QUIET_LOGGERS)."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("lox24_mcp").setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def launch_command() -> str:
    """The command that started this process, with an absolute path, so a suggested command line works as printed."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "lox24-mcp"
    if os.path.basename(argv0) == "__main__.py":
        return f"{shlex.quote(sys.executable)} -m lox24_mcp"
    found = argv0 if os.sep in argv0 else shutil.which(argv0)
    return shlex.quote(os.path.abspath(found or argv0))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lox24-mcp` console script; returns the exit code."""
    # Start-up (importing pydantic, httpx2 and the SDK, building the tool schemas) allocates objects that
    # live as long as the process; the cyclic GC would scan them again and again for nothing. It stays off
    # until the server is built (those objects are then frozen, so later collections skip them). That is why
    # this module imports nothing heavy at its top: `_main` imports the settings (and with them pydantic, the
    # client and the models) after this line.
    gc.disable()
    try:
        return _main(argv)
    finally:
        gc.enable()


def _main(argv: Sequence[str] | None) -> int:
    from lox24_mcp.config import ConfigError, Settings

    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        return _fail(str(exc))
    _configure_logging(settings.log_level)

    if args.command == "sandbox-api":
        if args.sandbox or args.transport != "stdio" or args.allowed_host:
            return _fail("sandbox-api takes only --host and --port (and --latency, --latency-path)")
        if not 0 <= args.latency <= 60:
            return _fail("--latency must be between 0 and 60 seconds")
        port = DEFAULT_SANDBOX_API_PORT if args.port is None else args.port
        gc.enable()
        return _serve_sandbox_api(args.host, port, args.latency, tuple(args.latency_path))
    if args.latency or args.latency_path:
        return _fail("--latency and --latency-path are options of sandbox-api")

    use_sandbox = args.sandbox or settings.sandbox
    callers_bring_tokens = settings.credentials == "client" and args.transport == "http"
    if not use_sandbox and settings.api_token is None and not callers_bring_tokens:
        if settings.credentials == "client":
            return _fail(
                "LOX24_API_TOKEN is not set: LOX24_MCP_CREDENTIALS=client takes each caller's token over HTTP, "
                "but stdio has no headers and uses LOX24_API_TOKEN."
            )
        return _fail("LOX24_API_TOKEN is not set (format <clientId>:<apiKey>); or run `lox24-mcp --sandbox` to try it.")
    if settings.confirm == "off":
        logger.warning(
            "LOX24_MCP_CONFIRM=off: cancel_pending_sms will cancel WITHOUT asking anyone. "
            "Use this only in pipelines that approve cancellations elsewhere."
        )

    from lox24_mcp.mcp.app import create_server
    from lox24_mcp.telemetry import configure_tracing

    logger.info("%s", configure_tracing())

    sandbox = None
    if use_sandbox:
        from pydantic import SecretStr

        from lox24_mcp.sandbox import DEMO_TOKEN, SandboxServer

        sandbox = SandboxServer().start()
        settings = settings.model_copy(
            # The demo shop is in Germany: its times read as Berlin's unless LOX24_MCP_TIMEZONE says otherwise.
            update={
                "api_token": SecretStr(DEMO_TOKEN),
                "base_url": sandbox.url,
                "timezone": settings.timezone or SANDBOX_TIMEZONE,
            }
        )
        logger.warning("sandbox mode: a built-in LOX24-compatible API at %s with demo data; no real SMS", sandbox.url)
    try:
        try:
            server = create_server(settings, sandbox=use_sandbox)
        except OSError as exc:
            return _fail(
                f"LOX24_MCP_AUDIT_LOG cannot be appended to ({exc.strerror or exc}); fix the path or unset it."
            )
        gc.freeze()
        gc.enable()
        if args.transport == "stdio":
            return _serve_stdio(server, sandbox=use_sandbox)
        return _serve_http(server, args, settings)
    except KeyboardInterrupt:
        return 0
    finally:
        if sandbox is not None:
            sandbox.stop()


def _serve_stdio(server: MCPServer[Any], *, sandbox: bool) -> int:
    # The SDK reads stdin on a worker thread that no cancellation reaches: after Ctrl-C (or SIGTERM) the
    # process would wait for one more line. A stop request ends it at once (exit code 0, as over HTTP).
    signal.signal(signal.SIGINT, _exit_now)
    signal.signal(signal.SIGTERM, _exit_now)
    if sys.stdin.isatty():
        command = launch_command() + (" --sandbox" if sandbox else "")
        sys.stderr.write(
            "lox24-mcp is waiting for an MCP client on stdin/stdout (Ctrl-C to quit).\n"
            "Connect one: add it to Claude Desktop's mcpServers (see README), or try\n"
            f"  npx @modelcontextprotocol/inspector {command}\n"
            f"or serve HTTP instead: {command} --transport http\n"
        )
    _exit_when_stdout_closes()
    try:
        server.run("stdio")
    except BaseException as exc:  # an ExceptionGroup from the SDK's task group, too
        if _is_broken_pipe(exc):
            # The client closed our stdout: nobody can receive a result any more.
            _silence_stdout()
            return 0
        raise
    return 0


def _exit_when_stdout_closes() -> None:
    """Exit at once when the client closes its end of our stdout: no result can reach it any more.

    The SDK would notice only on its next write, and then still wait for a line on stdin. A daemon thread
    polls a duplicate of the wire (the SDK moves fd 1 itself) for POLLERR/POLLHUP: a pipe whose reader
    is gone, a socket shut down, a terminal hung up. Regular files and /dev/null never report either.
    """
    if not hasattr(select, "poll"):
        return  # Windows: the SDK's own error handling applies
    try:
        wire = os.dup(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        return

    def watch() -> None:
        poller = select.poll()
        poller.register(wire, select.POLLERR | select.POLLHUP)
        while True:
            for _, event in poller.poll():
                if event & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
                    logger.info("the client closed stdout; exiting")
                    sys.stderr.flush()
                    os._exit(0)

    threading.Thread(target=watch, name="lox24-mcp stdout watch", daemon=True).start()


def _exit_now(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    sys.stderr.flush()
    os._exit(0)


def _is_broken_pipe(exc: BaseException) -> bool:
    if isinstance(exc, BrokenPipeError | ConnectionResetError):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_broken_pipe(inner) for inner in exc.exceptions)
    cause = exc.__cause__ or exc.__context__
    return cause is not None and _is_broken_pipe(cause)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not report the broken pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _serve_http(server: MCPServer[Any], args: argparse.Namespace, settings: Settings) -> int:
    from lox24_mcp.mcp.http import BindRefusedError, build_http_app
    from lox24_mcp.mcp.http_server import bind, raise_descriptor_limit, serve, url_for

    try:
        app = build_http_app(
            server,
            host=args.host,
            http_token=settings.http_token,
            allowed_hosts=args.allowed_host,
            replica_id=settings.replica_id,
            caller_credentials=settings.credentials == "client",
        )
    except BindRefusedError as exc:
        return _fail(str(exc))
    port = DEFAULT_PORT if args.port is None else args.port
    raise_descriptor_limit()  # before bind: the accept backlog is sized from it
    try:
        sock = bind(args.host, port)
    except OSError as exc:
        return _fail(f"cannot listen on {args.host}:{port}: {exc.strerror or exc}")
    with sock:
        sys.stderr.write(f"lox24-mcp: serving MCP at {url_for(args.host, sock)}\n")
        sys.stderr.flush()
        serve(app, sock)
    return 0


def _serve_sandbox_api(host: str, port: int, latency: float = 0.0, latency_paths: tuple[str, ...] = ()) -> int:
    from lox24_mcp.sandbox import Faults, SandboxState, serve_forever

    try:
        serve_forever(host, port, SandboxState(faults=Faults(latency=latency, only_paths=latency_paths)))
    except OSError as exc:
        return _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    return 0
