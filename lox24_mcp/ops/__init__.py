"""Use cases (confirmation, cancel, import): plain code over the LOX24 client, tested without MCP."""
