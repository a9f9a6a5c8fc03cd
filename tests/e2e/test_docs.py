"""The README, server.json, the bundle manifest and the examples agree with the code."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import Tool
from pydantic import SecretStr

from lox24_mcp import __version__
from lox24_mcp.config import ENV_VARS, Settings
from lox24_mcp.mcp.app import create_server
from tests.helpers import ROOT

README = ROOT / "README.md"
START, END = "<!-- tools-table:start -->", "<!-- tools-table:end -->"


def _arguments(tool: Tool) -> str:
    props: dict[str, Any] = tool.input_schema.get("properties", {})
    required = set(tool.input_schema.get("required", []))
    if not props:
        return "—"
    return ", ".join(f"`{name}`" + ("*" if name in required else "") for name in props)


def _hints(tool: Tool) -> str:
    a = tool.annotations
    if a is None:
        return ""
    names = [
        ("read_only_hint", "read-only"),
        ("destructive_hint", "destructive"),
        ("idempotent_hint", "idempotent"),
        ("open_world_hint", "open-world"),
    ]
    flags = [label for attr, label in names if getattr(a, attr) is True]
    if a.read_only_hint is not True and a.destructive_hint is False:
        flags.append("not destructive")
    return ", ".join(flags)


def render_tools_table(tools: list[Tool]) -> str:
    rows = ["| Tool | What it changes | Arguments (* = required) | Annotations |", "|---|---|---|---|"]
    for tool in sorted(tools, key=lambda t: t.name):
        first = (tool.description or "").strip().splitlines()[0]
        rows.append(f"| `{tool.name}` | {first} | {_arguments(tool)} | {_hints(tool)} |")
    return "\n".join(rows)


@pytest.mark.anyio
async def test_readme_tools_table_matches_list_tools() -> None:
    async with Client(create_server(Settings(api_token=SecretStr("1:x")))) as client:
        tools = (await client.list_tools()).tools
    table = render_tools_table(tools)
    text = README.read_text(encoding="utf-8")
    current = text.split(START, 1)[1].split(END, 1)[0].strip()
    if os.environ.get("UPDATE_SNAPSHOTS"):
        README.write_text(text.replace(current, table) if current else text.replace(START, f"{START}\n{table}"))
        current = table
    assert current == table, "README tools table is stale: run UPDATE_SNAPSHOTS=1 pytest tests/test_docs.py"


def test_readme_configuration_table_lists_every_environment_variable() -> None:
    text = README.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(LOX24_[A-Z_]+)` \|", text, flags=re.MULTILINE))
    assert documented == set(ENV_VARS)
    assert set(ENV_VARS.values()) == set(Settings.model_fields)


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    text = README.read_text(encoding="utf-8")
    command = text.split("<!-- test-command -->", 1)[1].split("```bash\n", 1)[1].split("\n", 1)[0]
    assert command.endswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "<!-- test-command -->" in ci and 'bash -c "$test_command"' in ci
    serve = text.split("<!-- serve-command -->", 1)[1].split("```bash\n", 1)[1].split("\n", 1)[0]
    assert serve.endswith("lox24-mcp --sandbox")


def test_server_json_matches_the_package() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    server = json.loads((ROOT / "server.json").read_text(encoding="utf-8"))
    assert server["version"] == meta["version"]
    assert re.fullmatch(r"io\.github\.[\w-]+/[\w.-]+", server["name"])
    (package,) = server["packages"]
    assert package["registryType"] == "pypi" and package["identifier"] == meta["name"]
    assert package["version"] == meta["version"] and package["transport"]["type"] == "stdio"
    env = {v["name"]: v for v in package["environmentVariables"]}
    assert env["LOX24_API_TOKEN"]["isSecret"] is True and env["LOX24_API_TOKEN"]["isRequired"] is True
    assert set(env) == set(ENV_VARS)  # every variable, and nothing else
    assert server["$schema"].endswith("/2025-12-11/server.schema.json") and len(server["description"]) <= 100


@pytest.mark.anyio
async def test_bundle_manifest_lists_the_real_tools_and_keeps_the_token_sensitive() -> None:
    manifest = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert manifest["version"] == meta["version"] == __version__ or __version__ == "0.0.0"
    assert manifest["user_config"]["api_token"]["sensitive"] is True
    assert manifest["server"]["mcp_config"]["env"]["LOX24_API_TOKEN"] == "${user_config.api_token}"
    async with Client(create_server(Settings(api_token=SecretStr("1:x")))) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        prompts = {p.name for p in (await client.list_prompts()).prompts}
    assert {t["name"] for t in manifest["tools"]} == tools
    assert {p["name"] for p in manifest["prompts"]} == prompts


def test_the_agent_walkthrough_example_runs_against_the_sandbox() -> None:
    script = Path(sys.executable).with_name("lox24-mcp")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOX24_")}
    done = subprocess.run(  # noqa: S603 (our own example)
        [sys.executable, str(ROOT / "examples" / "agent_walkthrough.py"), "--server", str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"status": "cancelled"' in done.stdout
    assert '"duplicates": 1' in done.stdout and '"invalid": 1' in done.stdout
