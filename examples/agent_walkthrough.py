"""A scripted "agent" that needs no LLM key: drive lox24-mcp on its sandbox with the official MCP client.

It starts the server over stdio, lists the tools, previews a cancel and confirms it with the token, and
imports `contacts.csv` into a group. Run it from anywhere:

    .venv/bin/python examples/agent_walkthrough.py
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult

HERE = Path(__file__).resolve().parent


def show(title: str, data: Any) -> None:
    sys.stdout.write(f"\n## {title}\n{json.dumps(data, indent=2, ensure_ascii=False)}\n")


def structured(result: CallToolResult) -> dict[str, Any]:
    data = result.structured_content
    if result.is_error or not isinstance(data, dict):
        raise SystemExit(f"tool failed: {result.content}")
    return data


def read_contacts(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [
            {"phone": row["phone"], "a": row["salutation"], "b": row["last_name"], "callback_data": row["tag"]}
            for row in csv.DictReader(f)
        ]


async def main(server: str) -> None:
    params = StdioServerParameters(command=server, args=["--sandbox"])
    async with Client(params) as client:
        tools = await client.list_tools()
        show("tools", [t.name for t in tools.tools])

        groups = structured(await client.call_tool("list_groups", {}))
        show("groups", groups["groups"])

        preview = structured(await client.call_tool("cancel_pending_sms", {"callback_data": "spring-sale"}))
        show("preview (nothing cancelled yet)", preview)
        if preview["status"] != "confirmation_required":
            raise SystemExit(f"expected a preview, got {preview['status']}")
        # A real agent shows the preview to the user here and continues only after an explicit yes.
        done = structured(
            await client.call_tool(
                "cancel_pending_sms",
                {"callback_data": "spring-sale", "confirmation_token": preview["confirmation_token"]},
            )
        )
        show("cancelled", done)
        if done["cancelled"] != preview["matched"]:
            raise SystemExit("cancelled count differs from the preview")

        vip = next(g for g in groups["groups"] if g["name"] == "VIP customers")
        contacts = read_contacts(HERE / "contacts.csv")
        imported = structured(
            await client.call_tool(
                "add_phones_to_group", {"group_id": vip["id"], "phones": contacts, "default_region": "DE"}
            )
        )
        show("import", imported)
        counted = sum(imported[k] for k in ("created", "rejected", "invalid", "duplicates", "unknown"))
        if counted != imported["requested"]:
            raise SystemExit("the import did not account for every contact")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    default = shutil.which("lox24-mcp") or str(Path(sys.executable).with_name("lox24-mcp"))
    parser.add_argument("--server", default=default, help="path of the lox24-mcp command")
    anyio.run(main, parser.parse_args().server)
