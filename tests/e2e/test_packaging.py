"""What installers see: the PyPI description, server.json, the MCP Bundle's manifest and ignore list.

The packed bundle and `uvx lox24-mcp` from the built wheel are run by .ci/run (they need npm and
PyPI); these tests keep the files they run from honest.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tomllib
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
MANIFEST = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
SERVER = json.loads((ROOT / "server.json").read_text(encoding="utf-8"))


def test_the_readme_works_as_the_pypi_description() -> None:
    # PyPI renders the README away from the repository: every link must be absolute (or an anchor).
    links = re.findall(r"\]\(([^)\s]+)\)", README)
    relative = [link for link in links if not re.match(r"https?://|#", link)]
    assert links and relative == []
    # The MCP registry checks PyPI ownership by this line in the package description.
    assert f"<!-- mcp-name: {SERVER['name']} -->" in README
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert meta["readme"] == "README.md" and "otel" in meta["optional-dependencies"]
    assert "uvx lox24-mcp --sandbox" in README
    assert ".venv\\Scripts\\" in README and "%APPDATA%" in README and "Library/Application Support" in README


def test_the_bundle_runs_frozen_from_uv_lock_and_offers_the_settings_people_need() -> None:
    config = MANIFEST["server"]["mcp_config"]
    assert config["command"] == "uv" and "--frozen" in config["args"] and "${__dirname}" in config["args"]
    assert (ROOT / "uv.lock").is_file()
    assert 'name = "lox24-mcp"' in (ROOT / "uv.lock").read_text(encoding="utf-8")
    settings = MANIFEST["user_config"]
    assert settings["sandbox"]["type"] == "boolean" and settings["sandbox"]["default"] is False
    assert settings["directory"]["type"] == "directory"
    assert {"timezone", "confirm", "api_token"} <= set(settings)
    assert settings["api_token"]["required"] is False  # the sandbox needs none
    env = config["env"]
    assert env["LOX24_MCP_SANDBOX"] == "${user_config.sandbox}"
    assert env["LOX24_MCP_IMPORT_DIRS"] == "${user_config.directory}"
    assert env["LOX24_MCP_TIMEZONE"] == "${user_config.timezone}"
    assert env["LOX24_MCP_CONFIRM"] == "${user_config.confirm}"
    assert set(env) <= {v["name"] for v in SERVER["packages"][0]["environmentVariables"]}


def test_mcpbignore_keeps_caches_tests_and_environments_out() -> None:
    ignored = {line.strip() for line in (ROOT / ".mcpbignore").read_text().splitlines() if line.strip()}
    wanted = {"__pycache__/", "*.pyc", ".venv/", ".mypy_cache/", ".ruff_cache/", ".pytest_cache/", "tests/"}
    assert wanted <= ignored
    assert not {"uv.lock", "pyproject.toml", "lox24_mcp/", "ui/"} & ignored  # bare "ui/" would drop the built card


@pytest.mark.anyio
async def test_the_bundles_sandbox_setting_starts_the_sandbox_without_a_token() -> None:
    script = shutil.which("lox24-mcp", path=str(Path(sys.executable).parent))
    assert script is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOX24_")}
    # What the bundle host passes when the user ticks "sandbox" and leaves the rest empty.
    env.update(LOX24_MCP_SANDBOX="true", LOX24_API_TOKEN="", LOX24_MCP_IMPORT_DIRS="", LOX24_MCP_CONFIRM="auto")
    with anyio.fail_after(60):
        async with Client(StdioServerParameters(command=script, args=[], env=env)) as client:
            groups = await client.call_tool("list_groups", {})
    assert groups.structured_content is not None and groups.structured_content["sandbox"] is True
