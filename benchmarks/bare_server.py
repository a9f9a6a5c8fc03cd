"""The baseline: a bare one-tool `MCPServer`, nothing else imported.

`python bare_server.py` serves stdio (the cold-start baseline); `python bare_server.py --http PORT` serves
streamable HTTP on 127.0.0.1:PORT the way `lox24-mcp --transport http` does (uvicorn, warnings only), the
baseline of the teams load benchmark.
"""

from __future__ import annotations

import sys

from mcp.server import MCPServer

server: MCPServer = MCPServer("bare")


@server.tool()
async def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        import logging

        import uvicorn

        logging.getLogger().setLevel(logging.WARNING)  # as lox24-mcp: no log line per request
        app = server.streamable_http_app(host="127.0.0.1")
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
    else:
        server.run("stdio")
