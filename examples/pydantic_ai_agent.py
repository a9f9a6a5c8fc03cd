"""lox24-mcp in a Pydantic AI agent over streamable HTTP.

Start the server (sandbox here; drop --sandbox and set LOX24_API_TOKEN for a real account):

    LOX24_MCP_HTTP_TOKEN=change-me .venv/bin/lox24-mcp --sandbox --transport http --port 8000

then, with `pip install "pydantic-ai-slim[mcp,anthropic]>=2.45"` and an ANTHROPIC_API_KEY:

    LOX24_MCP_HTTP_TOKEN=change-me python examples/pydantic_ai_agent.py "Stop the spring-sale SMS"

When the server asks to confirm a cancellation, the question is put to you on the terminal: the agent
cannot answer it for you. (Requires a model key, so CI does not run it; `agent_walkthrough.py` is the
key-free example that CI runs.)
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from fastmcp.client.elicitation import ElicitResult
from pydantic_ai import Agent
from pydantic_ai.mcp import MCPToolset

URL = os.environ.get("LOX24_MCP_URL", "http://127.0.0.1:8000/mcp")


async def ask_the_human(message: str, response_type: Any, params: Any, context: Any) -> Any:
    """Answer the server's confirmation dialog from the terminal, never from the model."""
    del params, context
    sys.stderr.write(f"\n{message}\nType 'yes' to confirm: ")
    answer = await asyncio.to_thread(sys.stdin.readline)
    if answer.strip().lower() != "yes":
        return ElicitResult(action="decline")
    return response_type(confirm=True)


async def main(request: str) -> None:
    toolset = MCPToolset(
        URL,
        headers={"Authorization": f"Bearer {os.environ['LOX24_MCP_HTTP_TOKEN']}"},
        elicitation_handler=ask_the_human,
        include_instructions=True,
    )
    agent = Agent(
        "anthropic:claude-sonnet-4-5",
        toolsets=[toolset],
        instructions="You manage SMS on LOX24. Before cancelling, show what will be cancelled.",
    )
    async with agent:
        result = await agent.run(request)
    sys.stdout.write(f"{result.output}\n")


if __name__ == "__main__":
    asyncio.run(main(" ".join(sys.argv[1:]) or "What is scheduled for tomorrow?"))
