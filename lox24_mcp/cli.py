"""`lox24-mcp`: serve MCP over stdio (default) or streamable HTTP, optionally on the built-in sandbox.

The API token comes from the environment only (`LOX24_API_TOKEN`), never from argv.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Sequence

from pydantic import SecretStr

from lox24_mcp import __version__
from lox24_mcp.config import ConfigError, Settings

logger = logging.getLogger("lox24_mcp")

EXIT_USAGE = 2
#: The zone of `--sandbox` when LOX24_MCP_TIMEZONE is unset (its demo data is a German shop's).
SANDBOX_TIMEZONE = "Europe/Berlin"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lox24-mcp",
        description="MCP server for the LOX24 SMS gateway. Configure with LOX24_* environment variables.",
    )
    parser.add_argument("--version", action="version", version=f"lox24-mcp {__version__}")
    parser.add_argument(
        "--sandbox", action="store_true", help="run against the built-in LOX24 sandbox (no account, no token)"
    )
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio", help="default: stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="public host name clients use (HTTP beyond loopback; keeps DNS-rebinding protection on)",
    )
    sub = parser.add_subparsers(dest="command")
    api = sub.add_parser("sandbox-api", help="serve only the LOX24-compatible sandbox REST API")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8099)
    api.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="answer requests whose path starts with --latency-path this much later (tests and demos)",
    )
    api.add_argument("--latency-path", action="append", default=[], metavar="PREFIX", help="default: every path")
    return parser


def _fail(message: str) -> int:
    sys.stderr.write(f"lox24-mcp: {message}\n")
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lox24-mcp` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        return _fail(str(exc))
    logging.basicConfig(level=settings.log_level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    # httpx2 logs every URL at INFO; SMS filters (phone numbers) do not belong in logs.
    logging.getLogger("httpx2").setLevel(logging.WARNING)

    if args.command == "sandbox-api":
        from lox24_mcp.sandbox import Faults, SandboxState, serve_forever

        if not 0 <= args.latency <= 60:
            return _fail("--latency must be between 0 and 60 seconds")
        faults = Faults(latency=args.latency, only_paths=tuple(args.latency_path))
        serve_forever(args.host, args.port, SandboxState(faults=faults))
        return 0

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

    # Start-up (importing the SDK, building the tool schemas) allocates ~130,000 objects that live as
    # long as the process; the cyclic GC would scan them again and again for nothing (~60 ms). Freeze
    # them instead, so later collections skip them. Collecting first would free under 1 MB for ~50 ms.
    gc.disable()
    from lox24_mcp.telemetry import configure_tracing

    logger.info("%s", configure_tracing())
    from lox24_mcp.mcp.app import create_server
    from lox24_mcp.mcp.http import BindRefusedError, build_http_app

    sandbox = None
    if use_sandbox:
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
            if sys.stdin.isatty():
                sys.stderr.write(
                    "lox24-mcp is waiting for an MCP client on stdin/stdout (Ctrl-C to quit).\n"
                    "Connect one: add it to Claude Desktop's mcpServers (see README), or try\n"
                    "  npx @modelcontextprotocol/inspector lox24-mcp --sandbox\n"
                    "or serve HTTP instead: lox24-mcp --sandbox --transport http\n"
                )
            server.run("stdio")
            return 0
        try:
            app = build_http_app(
                server,
                host=args.host,
                http_token=settings.http_token,
                allowed_hosts=args.allowed_host,
                replica_id=settings.replica_id,
                caller_credentials=callers_bring_tokens,
            )
        except BindRefusedError as exc:
            return _fail(str(exc))
        import uvicorn

        sys.stderr.write(f"lox24-mcp: serving MCP at http://{args.host}:{args.port}/mcp\n")
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if sandbox is not None:
            sandbox.stop()
