"""`lox24-mcp --sandbox` speaks Berlin time unless LOX24_MCP_TIMEZONE says otherwise; a bad zone stops it."""

from __future__ import annotations

import os
import subprocess

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.helpers import console_script

pytestmark = pytest.mark.anyio


def env_with(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOX24_")}
    return {**env, "TZ": "UTC", **extra}


async def now_over_stdio(env: dict[str, str]) -> str:
    params = StdioServerParameters(command=console_script(), args=["--sandbox"], env=env)
    with anyio.fail_after(60):
        async with Client(params) as client:
            result = await client.call_tool("search_sms", {"pending": True})
    assert result.structured_content is not None
    now = result.structured_content["now"]
    assert isinstance(now, str)
    return now


async def test_the_sandbox_demo_shows_berlin_time_on_a_utc_machine() -> None:
    assert (await now_over_stdio(env_with()))[-6:] in ("+01:00", "+02:00")


async def test_lox24_mcp_timezone_overrides_the_sandbox_default() -> None:
    assert (await now_over_stdio(env_with(LOX24_MCP_TIMEZONE="UTC")))[-6:] == "+00:00"


def test_an_unknown_zone_stops_the_server_with_one_line() -> None:
    done = subprocess.run(  # noqa: S603 (our own console script)
        [console_script(), "--sandbox"],
        env=env_with(LOX24_MCP_TIMEZONE="Europe/Berln"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "lox24-mcp: invalid configuration in LOX24_MCP_TIMEZONE (LOX24_MCP_TIMEZONE: 'Europe/Berln' is "
        "not an IANA time-zone name (e.g. Europe/Berlin, Europe/Vienna, UTC))"
    ]
