"""The MCP layer: the only code that knows the SDK."""
