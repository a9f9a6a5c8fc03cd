"""Plain helpers shared by the test suites (fixtures live in `tests/conftest.py`).

Import them as `from tests.helpers import FAST_RETRY, data_of, text_of`; `tests/` is a package, so test
modules are `tests.<area>.test_<name>` and basenames may not clash anyway.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

from mcp.client import ClientRequestContext
from mcp.client.session import ElicitationFnT
from mcp.types import (
    CallToolResult,
    ElicitRequestFormParams,
    ElicitRequestParams,
    ElicitResult,
    ErrorData,
    TextContent,
)
from pydantic import SecretStr

from lox24_mcp.config import Settings
from lox24_mcp.lox24.client import RetryPolicy
from lox24_mcp.lox24.models import SmsFilters
from lox24_mcp.ops.cancel import cancel_scope
from lox24_mcp.ops.confirm import TokenSigner
from lox24_mcp.sandbox import DEMO_TOKEN, SandboxState

#: The repository's root directory.
ROOT = Path(__file__).resolve().parents[1]

#: The one retry policy of the suite: retries without real waiting, so fault tests stay fast.
FAST_RETRY = RetryPolicy(attempts=4, total_time=5.0, backoff=0.001, max_backoff=0.005, auth_cooldown=60.0)

#: The confirmation-token key of the servers the fixtures build.
SECRET = "test-suite-secret-0123456789abcdef"


def make_settings(url: str, *, token: str = DEMO_TOKEN, secret: str = SECRET, **overrides: Any) -> Settings:
    """Settings for a server on the sandbox at `url`."""
    return Settings(api_token=SecretStr(token), base_url=url, secret=SecretStr(secret), **overrides)


def mint(url: str, filters: SmsFilters, *, key: bytes = SECRET.encode(), age: int = 5, ttl: int = 600) -> str:
    """A confirmation token as a server with `key` on the sandbox at `url` mints it, previewed `age` seconds ago."""
    account = DEMO_TOKEN.partition(":")[0]
    scope = cancel_scope(account_id=account, base_url=url, filters=filters, cancel_all_pending=False)
    token, _ = TokenSigner(key, ttl=ttl).mint(scope=scope, preview_time=int(time.time()) - age, matched=1)
    return token


def text_of(result: CallToolResult) -> str:
    """Every text block of a tool result joined by newlines (the error message, for an error)."""
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def data_of(result: CallToolResult) -> dict[str, Any]:
    """The structured result of a successful call; fails the test with the error text otherwise."""
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert isinstance(data, dict)
    return data


def elicit(
    action: Literal["accept", "decline", "cancel"] = "accept", confirm: bool = True, seen: list[str] | None = None
) -> ElicitationFnT:
    """A client's dialog callback: answers every question with `action` (and `confirm` when accepting)."""

    async def callback(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        del context
        assert isinstance(params, ElicitRequestFormParams)
        if seen is not None:
            seen.append(params.message)
        if action == "accept":
            return ElicitResult(action="accept", content={"confirm": confirm})
        return ElicitResult(action=action)

    return callback


# ----------------------------------------------------------------------------- imports, as the sandbox saw them


def batches(state: SandboxState, group: int) -> dict[tuple[str, ...], list[int]]:
    """Every phone batch the sandbox received, by its numbers, with the status of each attempt in arrival order."""
    seen: dict[tuple[str, ...], list[int]] = {}
    for r in state.requests:
        if r.method == "POST" and r.path == f"/groups/{group}/phones/batch":
            batch = tuple(item["phone"] for item in json.loads(r.body))
            seen.setdefault(batch, []).append(r.status)
    return seen


def wire_outcomes(sent: dict[tuple[str, ...], list[int]]) -> tuple[set[str], set[str], set[str]]:
    """The numbers LOX24 processed, those whose outcome the client cannot know, and those refused.

    Checks the rule on the way: a POST batch goes out exactly once. Any 5xx or a lost answer means
    LOX24 may or may not have done the work, so it is never resent.
    """
    processed: set[str] = set()
    unknown: set[str] = set()
    rejected: set[str] = set()
    for batch, tries in sent.items():
        assert len(tries) == 1, f"a batch was sent more than once: {tries}"
        (status,) = tries
        if status == 201:
            processed.update(batch)
        elif status == 0 or status >= 500:
            unknown.update(batch)
        else:
            rejected.update(batch)
    return processed, unknown, rejected
