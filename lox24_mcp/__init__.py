"""lox24-mcp: an MCP server for the LOX24 SMS gateway.

The package is layered so that imports flow one way::

    cli -> server -> importer / confirmation -> client -> models, errors, config

`lox24_mcp.lox24.client` is a typed async LOX24 client that never imports `mcp`; `lox24_mcp.sandbox`
is a LOX24-compatible HTTP API used by the tests and by `lox24-mcp --sandbox`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lox24-mcp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
