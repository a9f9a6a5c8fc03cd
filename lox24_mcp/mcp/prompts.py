"""MCP prompts kept as plain files (`lox24_mcp/prompts/*.md`), shipped inside the wheel.

Each file starts with TOML front matter between `+++` lines (name, title, description, and
`[[arguments]]` with name/description/required); the body is a `string.Template` whose `$name`
placeholders are filled from the prompt's arguments.
"""

from __future__ import annotations

import logging
import string
import tomllib
from collections.abc import Callable
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from mcp.server.mcpserver.prompts.base import Prompt, PromptArgument

logger = logging.getLogger(__name__)


def prompt_dir() -> Traversable:
    """`lox24_mcp/prompts`: package data, the same in a source checkout and an installed wheel."""
    return resources.files("lox24_mcp") / "prompts"


def parse_prompt(text: str, source: str) -> Prompt:
    """Build a `Prompt` from one file's text.

    Raises:
        ValueError: the front matter is missing or incomplete.
    """
    parts = text.split("+++", 2)
    if len(parts) != 3 or parts[0].strip():
        raise ValueError(f"{source}: expected TOML front matter between +++ lines")
    meta = tomllib.loads(parts[1])
    body = string.Template(parts[2].strip())
    arguments = [
        PromptArgument(name=a["name"], description=a.get("description"), required=bool(a.get("required", False)))
        for a in meta.get("arguments", [])
    ]
    names = {a.name for a in arguments}
    unknown = set(body.get_identifiers()) - names
    if unknown:
        raise ValueError(f"{source}: placeholders without an argument: {sorted(unknown)}")

    def render(**values: Any) -> str:
        filled = {name: str(values.get(name) or "(not given)") for name in names}
        return body.substitute(filled)

    fn: Callable[..., str] = render
    return Prompt(
        name=meta["name"],
        title=meta.get("title"),
        description=meta["description"],
        arguments=arguments,
        fn=fn,
    )


def load_prompts() -> list[Prompt]:
    """Every prompt file, sorted by file name."""
    folder = prompt_dir()
    if not folder.is_dir():
        logger.warning("no prompts folder found at %s", folder)
        return []
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".md")), key=lambda f: f.name)
    return [parse_prompt(f.read_text(encoding="utf-8"), f.name) for f in files]
