"""Plain helpers shared by the test suites (fixtures live in `tests/conftest.py`).

Import them as `from tests.helpers import FAST_RETRY, data_of, text_of`; `tests/` is a package, so test
modules are `tests.<area>.test_<name>` and basenames may not clash anyway.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Literal

import httpx2
import pytest
import uvicorn
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
from lox24_mcp.lox24.client import Lox24Client, RetryPolicy
from lox24_mcp.lox24.errors import Lox24APIStatusError
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


# ----------------------------------------------------------------------------- LOX24 answers without the network


#: The request id every mocked LOX24 answer carries.
REQUEST_ID = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"

Handler = Callable[[httpx2.Request], httpx2.Response]


@asynccontextmanager
async def mocked(
    handler: Handler, *, retry: RetryPolicy = FAST_RETRY, clock: Callable[[], float] | None = None
) -> AsyncIterator[Lox24Client]:
    """A client whose HTTP goes to `handler` instead of the network."""
    extra: dict[str, Any] = {} if clock is None else {"clock": clock}
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        yield Lox24Client(SecretStr(DEMO_TOKEN), base_url="http://lox24.test", http_client=http, retry=retry, **extra)


def sequence(*responses: httpx2.Response | Exception) -> tuple[Handler, list[httpx2.Request]]:
    """A MockTransport handler answering with `responses` in turn (the last one repeats), and its request log."""
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        answer = responses[min(len(seen), len(responses)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


def ok_page(*members: dict[str, Any], total: int | None = None) -> httpx2.Response:
    body = {"hydra:member": list(members), "hydra:totalItems": len(members) if total is None else total}
    return httpx2.Response(200, json=body, headers={"X-LOX24-REQUEST-ID": REQUEST_ID})


def status(code: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx2.Response:
    all_headers = {"X-LOX24-REQUEST-ID": REQUEST_ID, **(headers or {})}
    if isinstance(body, bytes):
        return httpx2.Response(code, content=body, headers=all_headers)
    return httpx2.Response(code, json=body, headers=all_headers)


def assert_actionable(exc: Lox24APIStatusError, code: int) -> None:
    """`str(exc)` names the status, the request id and what to do next."""
    text = str(exc)
    assert exc.status_code == code
    assert exc.request_id is not None
    assert f"HTTP {code}" in text
    assert exc.request_id in text
    assert text.rstrip().endswith(".")
    assert exc.advice in text
    assert exc.advice.strip()


# ----------------------------------------------------------------------------- a planted secret

#: A token planted by the secret tests; none of its parts may show up anywhere.
PLANTED = "7654321:FAKE-SECRET-abc123xyz"
NEEDLES = (PLANTED, PLANTED.partition(":")[2], "FAKE-SECRET")


def assert_clean(text: str, where: str) -> None:
    for needle in NEEDLES:
        assert needle not in text, f"the secret leaked into {where}: {text[:300]!r}"


def assert_exception_clean(exc: BaseException) -> None:
    """Message, args, attributes, and the whole printed traceback with its causes."""
    assert_clean(str(exc), "str(exc)")
    assert_clean(repr(exc), "repr(exc)")
    assert_clean(repr(exc.args), "exc.args")
    assert_clean(repr(vars(exc)), "exception attributes")
    assert_clean("".join(traceback.format_exception(exc)), "the formatted traceback")
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None:
            assert_clean(repr(linked), "a chained exception")
            assert_clean(repr(linked.args), "a chained exception's args")


def schedule_pending(
    state: SandboxState,
    count: int,
    tag: str,
    *,
    first_phone: int,
    text: str = "Reminder {}",
    iso2: str | None = None,
    created_ago: int = 60,
) -> list[str]:
    """`count` SMS due in a day, created `created_ago` s ago, with callback_data `tag`; their uuids.

    Numbers are +49151<first_phone + i>; `text` is formatted with i.
    """
    now = int(time.time())
    return [
        state.add_sms(
            phone=f"+49151{first_phone + i}",
            text=text.format(i),
            delivery_at=now + 86_400,
            iso2=iso2,
            callback_data=tag,
            created_at=now - created_ago,
        )["uuid"]
        for i in range(count)
    ]


# ----------------------------------------------------------------------------- processes and servers


def console_script() -> str:
    """The venv's `lox24-mcp` console script (fails the test when the package is not installed)."""
    found = shutil.which("lox24-mcp", path=str(Path(sys.executable).parent)) or shutil.which("lox24-mcp")
    if found is None:
        pytest.fail("the lox24-mcp console script is not installed (pip install -e .)")
    return found


def free_ports(n: int) -> list[int]:
    """`n` distinct loopback ports that were free a moment ago (all bound at once, then released)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


def read_until(proc: subprocess.Popen[bytes], pattern: str, timeout: float = 60.0) -> tuple[re.Match[str], str]:
    """Read the child's stderr until `pattern` matches (or fail at the deadline / when it exits)."""
    assert proc.stderr is not None
    seen = b""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([proc.stderr], [], [], min(left, 1.0))
        if ready:
            chunk = os.read(proc.stderr.fileno(), 65536)
            if not chunk:
                break
            seen += chunk
            if match := re.search(pattern, seen.decode(errors="replace")):
                return match, seen.decode(errors="replace")
    pytest.fail(f"{pattern!r} not seen within {timeout:.0f} s; stderr: {seen.decode(errors='replace')[-2000:]}")


@contextmanager
def serve_in_thread(server: uvicorn.Server, sockets: list[socket.socket] | None = None) -> Iterator[None]:
    """Run `server` on a daemon thread until the block ends: started (bounded wait), then stopped and joined."""
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)  # waiting for uvicorn's startup flag; bounded by the deadline
        assert server.started, "uvicorn did not start"
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive(), "uvicorn did not stop"
