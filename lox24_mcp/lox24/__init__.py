"""The LOX24 REST API: a typed async client, its models and errors. Never imports `mcp`."""
