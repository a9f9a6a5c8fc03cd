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


async def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


def add_list_groups(base_url: str) -> None:
    import os

    import httpx2

    http = httpx2.AsyncClient(base_url=base_url, headers={"X-LOX24-AUTH-TOKEN": os.environ["LOX24_API_TOKEN"]})

    @server.tool()
    async def list_groups() -> dict[str, Any]:
        """Lists the contact groups."""
        response = await http.get("/groups", params={"page": "1"}, headers={"Accept": "application/ld+json"})
        response.raise_for_status()
        groups: dict[str, Any] = response.json()
        return groups


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 4 and args[2] == "--lox24":
        add_list_groups(args[3])
    else:
        server.tool()(echo)
    if args[:1] == ["--http"]:
        import logging

        import uvicorn

        logging.getLogger().setLevel(logging.WARNING)  # as lox24-mcp: no log line per request
        app = server.streamable_http_app(host="127.0.0.1")
        uvicorn.run(app, host="127.0.0.1", port=int(args[1]), log_level="warning", access_log=False)
    else:
        server.run("stdio")
