"""A scripted "agent" that needs no LLM key: drive lox24-mcp on its sandbox with the official MCP client.

It starts the server over stdio (allowed to read this folder), lists the tools, previews a cancel and
confirms it with the token, imports the German CRM export `kunden_export.csv` the way the `import_contacts`
prompt asks (dry run, show, import with a column mapping, run again: nothing doubled), imports the workbook
`kunden_export.xlsx`, and adds a few contacts inline from `contacts.csv`. Run it from anywhere:

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
    params = StdioServerParameters(command=server, args=["--sandbox"], env={"LOX24_MCP_IMPORT_DIRS": str(HERE)})
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

        await import_files(client, groups["groups"])

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


def accounted(result: dict[str, Any]) -> int:
    keys = ("created", "already_in_group", "new", "rejected", "invalid", "duplicates", "unknown")
    return sum(int(result[k]) for k in keys)


async def import_files(client: Client, groups: list[dict[str, Any]]) -> None:
    """The file flow: dry run, show it, import (with the mapping the assistant proposed), run again."""
    newsletter = next(g for g in groups if g["name"] == "Newsletter")
    args: dict[str, Any] = {"group_id": newsletter["id"], "path": "kunden_export.csv", "default_region": "DE"}
    dry = structured(await client.call_tool("add_phones_from_file", {**args, "dry_run": True}))
    show("file dry run (nothing sent)", dry)
    if dry["created"] != 0 or accounted(dry) != dry["rows"]:
        raise SystemExit("the dry run changed something or lost a row")
    # The group captions column a "Vorname", so only that is mapped; the assistant proposes the rest
    # (from unmapped_headers) and, after the user's yes, imports with it.
    columns = {"a": "Vorname", "b": "Nachname", "callback_data": "Kundennummer"}
    done = structured(await client.call_tool("add_phones_from_file", {**args, "columns": columns}))
    show("file import", done)
    if done["created"] != dry["new"] or accounted(done) != done["rows"]:
        raise SystemExit("the import created something else than the dry run announced")
    again = structured(await client.call_tool("add_phones_from_file", {**args, "columns": columns}))
    show("the same file again", {k: again[k] for k in ("created", "already_in_group", "message")})
    if again["created"] != 0 or again["already_in_group"] != done["created"] + done["already_in_group"]:
        raise SystemExit("running the import again added contacts twice")

    staff = next(g for g in groups if g["name"] == "Staff")
    workbook = structured(
        await client.call_tool(
            "add_phones_from_file", {"group_id": staff["id"], "path": "kunden_export.xlsx", "default_region": "DE"}
        )
    )
    show("workbook import (Vorname and Nachname mapped by the group's own captions)", workbook)
    if accounted(workbook) != workbook["rows"] or workbook["columns_used"].get("Vorname") != "a":
        raise SystemExit("the workbook import did not account for every row")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    default = shutil.which("lox24-mcp") or str(Path(sys.executable).with_name("lox24-mcp"))
    parser.add_argument("--server", default=default, help="path of the lox24-mcp command")
    anyio.run(main, parser.parse_args().server)
