"""Start lox24-mcp the way an installer would and list its tools over stdio (used by .ci/run).

    python scripts/smoke_stdio.py -- uvx --from dist/lox24_mcp-0.1.0-py3-none-any.whl lox24-mcp --sandbox
    python scripts/smoke_stdio.py --bundle lox24-mcp.mcpb      # unpack, run the manifest's command

With --bundle, the packed MCP Bundle is unzipped and its `server.mcp_config` command is run exactly
as a host would run it (`${__dirname}` = the unpacked folder), with the user settings a first-time
user would pick: the sandbox on, everything else left at its default. Exit status 0 when the four
tools are listed and `list_groups` answers from the sandbox.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

TOOLS = {"cancel_pending_sms", "add_phones_to_group", "list_groups", "search_sms"}
TIMEOUT = 300  # seconds: the first `uv run` resolves and installs the locked dependencies


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")


def _expand(value: str, dirname: str, user_config: dict[str, Any]) -> str:
    def sub(match: re.Match[str]) -> str:
        key = match.group(1)
        if key == "__dirname":
            return dirname
        if key.startswith("user_config."):
            chosen = user_config.get(key.removeprefix("user_config."), "")
            text = str(chosen).lower() if isinstance(chosen, bool) else str(chosen)
            return _expand(text, dirname, {}) if "${" in text else text
        home = Path.home()
        places = {"HOME": home, "DOWNLOADS": home / "Downloads", "DOCUMENTS": home / "Documents"}
        if key in places:
            return str(places[key])
        if key in ("/", "pathSeparator"):
            return os.sep
        return match.group(0)

    return re.sub(r"\$\{([^}]+)\}", sub, value)


def bundle_command(bundle: Path, into: Path) -> tuple[str, list[str], dict[str, str]]:
    with zipfile.ZipFile(bundle) as packed:
        names = packed.namelist()
        leaked = [n for n in names if re.search(r"(^|/)(__pycache__|\.venv|\.mypy_cache|\.pytest_cache|tests)/", n)]
        if leaked:
            raise SystemExit(f"the bundle carries files .mcpbignore should keep out: {leaked[:5]}")
        if "uv.lock" not in names:
            raise SystemExit("the bundle has no uv.lock; `uv run --frozen` needs it")
        packed.extractall(into)
    manifest = json.loads((into / "manifest.json").read_text(encoding="utf-8"))
    user_config = {key: spec.get("default", "") for key, spec in manifest.get("user_config", {}).items()}
    user_config["sandbox"] = True
    config = manifest["server"]["mcp_config"]
    command = shutil.which(config["command"]) or config["command"]
    args = [_expand(a, str(into), user_config) for a in config.get("args", [])]
    env = {k: _expand(v, str(into), user_config) for k, v in config.get("env", {}).items()}
    return command, args, env


async def smoke(command: str, args: list[str], extra_env: dict[str, str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOX24_")}
    env.update(extra_env)
    _say(f"==> {command} {' '.join(args)}")
    with anyio.fail_after(TIMEOUT):
        async with Client(StdioServerParameters(command=command, args=args, env=env)) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            groups = await client.call_tool("list_groups", {})
    if not tools >= TOOLS:
        raise SystemExit(f"tools missing: {sorted(TOOLS - tools)}")
    data = groups.structured_content or {}
    if groups.is_error or data.get("sandbox") is not True or not data.get("groups"):
        raise SystemExit(f"list_groups did not answer from the sandbox: {groups.content}")
    _say(f"==> tools: {', '.join(sorted(tools))}; {len(data['groups'])} sandbox groups")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bundle", type=Path, help="a packed .mcpb to unpack and run")
    parser.add_argument("command", nargs="*", help="the command to run (after --)")
    opts = parser.parse_args()
    if opts.bundle is not None:
        with tempfile.TemporaryDirectory(prefix="lox24-mcpb-") as tmp:
            command, args, env = bundle_command(opts.bundle, Path(tmp))
            anyio.run(smoke, command, args, env)
        return
    if not opts.command:
        parser.error("give --bundle FILE or a command after --")
    anyio.run(smoke, opts.command[0], opts.command[1:], {})


if __name__ == "__main__":
    main()
