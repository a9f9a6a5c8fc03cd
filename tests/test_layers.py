"""The direction of imports: the LOX24 API (`lox24_mcp.lox24`) and the use cases (`lox24_mcp.ops`) never load the
MCP SDK, so they can be used, and tested, without it."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import lox24_mcp.lox24
import lox24_mcp.ops

#: Imports every module of the given packages in a fresh interpreter, then reports what got loaded.
PROBE = """
import importlib, json, pkgutil, sys
names = []
for package_name in sys.argv[1:]:
    package = importlib.import_module(package_name)
    names.append(package_name)
    for info in pkgutil.walk_packages(package.__path__, package_name + "."):
        importlib.import_module(info.name)
        names.append(info.name)
print(json.dumps({"imported": names, "loaded": sorted(sys.modules)}))
"""


def sdk_modules(loaded: list[str]) -> list[str]:
    return [name for name in loaded if name in ("mcp", "mcp_types") or name.startswith(("mcp.", "mcp_types."))]


def probe(*packages: str) -> dict[str, list[str]]:
    done = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", PROBE, *packages], capture_output=True, text=True, timeout=60, check=True
    )
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("package", [lox24_mcp.lox24, lox24_mcp.ops], ids=lambda p: p.__name__)
def test_the_api_and_the_use_cases_load_nothing_of_the_mcp_sdk(package: object) -> None:
    name = getattr(package, "__name__", "")
    result = probe(name)
    expected = {name, *(info.name for info in pkgutil.walk_packages(getattr(package, "__path__", []), name + "."))}
    assert set(result["imported"]) == expected and len(expected) > 2, "every module of the package was imported"
    assert sdk_modules(result["loaded"]) == [], f"{name} pulls in the MCP SDK"


def test_the_probe_does_see_the_sdk_where_it_is_loaded() -> None:
    """The control: importing the MCP layer does load `mcp`, so an empty answer above means something."""
    assert "mcp" in sdk_modules(probe("lox24_mcp.mcp")["loaded"])
