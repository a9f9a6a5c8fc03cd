"""`python -m lox24_mcp` runs the same entry point as the `lox24-mcp` console script."""

from lox24_mcp.cli import main

raise SystemExit(main())
