"""Context cost: how much of a model's context the `tools/list` answer takes, and where it goes.

Measured on the answer as a client receives it (JSON, by alias, without nulls). Tokens are chars/4 unless
`tiktoken` happens to be installed. To guide trimming it also lists `$defs` repeated across tools,
property schemas repeated verbatim, and the largest properties.
"""

from __future__ import annotations

import importlib
import json
from collections import defaultdict
from typing import Any

from bench_common import Row, say
from mcp import Client
from mcp.types import ListToolsResult
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.mcp.app import create_server

NAME = "context cost"
GOAL_CHARS = 13_000  # issue 12: everything listed, the app-only tool included


def count_tokens(text: str) -> tuple[int, str]:
    """(tokens, how they were counted)."""
    try:
        tiktoken: Any = importlib.import_module("tiktoken")
    except ImportError:
        return round(len(text) / 4), "≈ chars/4"
    return len(tiktoken.get_encoding("cl100k_base").encode(text)), "tiktoken cl100k_base"


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def analyse(listing: ListToolsResult) -> list[Row]:
    tools = [tool.model_dump(by_alias=True, exclude_none=True, mode="json") for tool in listing.tools]
    say("  per tool (chars): total = description + inputSchema + outputSchema + rest")
    for tool in tools:
        total = len(compact(tool))
        parts = {key: len(compact(tool.get(key, ""))) for key in ("description", "inputSchema", "outputSchema")}
        rest = total - sum(parts.values())
        say(
            f"    {tool['name']:<22} {total:6,} = {parts['description']:5,} + {parts['inputSchema']:6,} + "
            f"{parts['outputSchema']:5,} + {rest:4,}"
        )

    # $defs repeated across tools (and across input/output schemas of one tool).
    defs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    props: list[tuple[int, str]] = []
    shapes: dict[str, list[str]] = defaultdict(list)
    for tool in tools:
        for side in ("inputSchema", "outputSchema"):
            schema = tool.get(side) or {}
            for def_name, body in (schema.get("$defs") or {}).items():
                defs[def_name].append((f"{tool['name']}.{side}", compact(body)))
                props.append(
                    (len(compact(body)), f"{tool['name']}.{'in' if side == 'inputSchema' else 'out'}.$defs.{def_name}")
                )
            for prop_name, body in (schema.get("properties") or {}).items():
                where = f"{tool['name']}.{'in' if side == 'inputSchema' else 'out'}.{prop_name}"
                text = compact(body)
                props.append((len(text), where))
                if len(text) > 80:
                    shapes[text].append(where)
    repeated_defs = {name: places for name, places in defs.items() if len(places) > 1}
    wasted_defs = sum(len(body) for places in repeated_defs.values() for _, body in places[1:])
    if repeated_defs:
        say("  $defs repeated across tools:")
        for name, places in sorted(repeated_defs.items(), key=lambda kv: -len(kv[1][0][1]) * len(kv[1])):
            same = "identical" if len({body for _, body in places}) == 1 else "DIFFERENT bodies"
            say(
                f"    {name:<24} ×{len(places)} ({same}, {len(places[0][1]):,} chars each): "
                + ", ".join(w for w, _ in places)
            )
    else:
        say("  $defs repeated across tools: none")
    repeated_shapes = sorted(
        ((len(text) * (len(places) - 1), places) for text, places in shapes.items() if len(places) > 1), reverse=True
    )
    wasted_shapes = sum(w for w, _ in repeated_shapes)
    say("  property schemas repeated verbatim across tools (chars beyond the first copy; each tool schema is")
    say("  self-contained, so only shorter wording or fewer properties trims these):")
    for wasted, copies in repeated_shapes[:8]:
        say(f"    {wasted:6,}  {', '.join(copies)}")
    say("  largest properties and $defs (chars of their schema):")
    for size, where in sorted(props, reverse=True)[:10]:
        say(f"    {size:6,}  {where}")
    return [
        Row(
            "context: $defs repeated across tools",
            f"{len(repeated_defs)} defs, {wasted_defs:,} chars",
            "—",
            None,
            "—",
            None,
            "chars beyond the first copy",
        ),
        Row(
            "context: property schemas repeated",
            f"{len(repeated_shapes)} shapes, {wasted_shapes:,} chars",
            "—",
            None,
            "—",
            None,
            "verbatim copies > 80 chars",
        ),
    ]


async def main(quick: bool) -> list[Row]:
    del quick  # one listing: nothing to repeat
    settings = Settings(api_token=SecretStr("1:x"), base_url="http://127.0.0.1:9")
    async with Client(create_server(settings)) as client:
        listing = await client.list_tools()
    text = listing.model_dump_json(by_alias=True, exclude_none=True)
    tokens, how = count_tokens(text)

    import bare_server  # here, not at the top: building its MCPServer configures logging

    async with Client(bare_server.server) as client:
        bare = (await client.list_tools()).model_dump_json(by_alias=True, exclude_none=True)
    say(f"  tools/list: {len(text):,} chars, {tokens:,} tokens ({how}); bare one-tool server: {len(bare):,} chars")
    rows = [
        Row(
            f"context: tools/list ({len(listing.tools)} tools)",
            f"{len(text):,} chars ≈ {tokens:,} tok",
            f"{len(bare):,} chars (1 tool)",
            None,
            f"≤ {GOAL_CHARS:,} chars",
            len(text) <= GOAL_CHARS,
            how,
        )
    ]
    rows.extend(analyse(listing))
    return rows
