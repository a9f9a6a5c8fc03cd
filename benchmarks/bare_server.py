"""The baseline: a bare one-tool `MCPServer`, nothing else imported.

`python bare_server.py` serves stdio with one tool, `echo` (the cold-start baseline).
`python bare_server.py --http PORT` serves the same over streamable HTTP on 127.0.0.1:PORT the way
`lox24-mcp --transport http` does (uvicorn, warnings only).
`python bare_server.py --http PORT --lox24 URL` serves one tool, `list_groups`, that makes the request
lox24-mcp's `list_groups` makes (`GET URL/groups?page=1` with `X-LOX24-AUTH-TOKEN: $LOX24_API_TOKEN`,
one shared httpx2 client) and returns LOX24's JSON as it came: the same job with nothing of ours,
the baseline of the teams load benchmark.
"""

from __future__ import annotations

import sys
from typing import Any

from mcp.server import MCPServer

server: MCPServer = MCPServer("bare")


@server.tool()
async def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


def same_request_server(base_url: str) -> MCPServer:
    """A bare one-tool server whose `list_groups` makes lox24-mcp's request and returns LOX24's JSON."""
    import os

    import httpx2

    bare = MCPServer("bare")
    http = httpx2.AsyncClient(base_url=base_url, headers={"X-LOX24-AUTH-TOKEN": os.environ["LOX24_API_TOKEN"]})

    @bare.tool()
    async def list_groups() -> dict[str, Any]:
        """Lists the contact groups."""
        response = await http.get("/groups", params={"page": "1"}, headers={"Accept": "application/ld+json"})
        response.raise_for_status()
        groups: dict[str, Any] = response.json()
        return groups

    return bare


if __name__ == "__main__":
    args = sys.argv[1:]
    chosen = same_request_server(args[3]) if len(args) == 4 and args[2] == "--lox24" else server
    if args[:1] == ["--http"]:
        import logging

        import uvicorn

        logging.getLogger().setLevel(logging.WARNING)  # as lox24-mcp: no log line per request
        app = chosen.streamable_http_app(host="127.0.0.1")
        uvicorn.run(app, host="127.0.0.1", port=int(args[1]), log_level="warning", access_log=False)
    else:
        chosen.run("stdio")
