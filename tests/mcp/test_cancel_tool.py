"""`cancel_pending_sms` through the official MCP client: under faults it never invents a count, LOX24's count is
the one reported, and confirmation tokens cannot be mutated, replayed on another selection, expired or forged.

Faults come from the sandbox (seeded, so every run draws the same sequence); every wait is bounded
with `anyio.fail_after`; nothing sleeps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.server import MCPServer
from mcp.types import CallToolResult

from lox24_mcp.lox24.models import SmsFilters
from lox24_mcp.mcp.app import AppState, create_server
from lox24_mcp.sandbox import DEMO_TOKEN, Faults, SandboxServer, SandboxState
from tests.helpers import FAST_RETRY, SECRET, data_of, elicit, make_settings, mint, schedule_pending, text_of

pytestmark = pytest.mark.anyio

TAG = "spring-sale"
CANCEL_PATH = "/sms/ops/batch_cancel"
#: The client gives up after this long; slow faults answer later than that (and then do nothing).
CLIENT_TIMEOUT = 0.5
SLOW = 1.0
#: Hypothesis runs each example through `anyio.run`, so fixtures stay plain and the runs are bounded.
PROPERTY = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


# ----------------------------------------------------------------------------- helpers


def schedule(state: SandboxState, count: int, *, tag: str = TAG) -> list[str]:
    """`count` pending SMS created a minute ago with callback_data `tag`."""
    return schedule_pending(state, count, tag, first_phone=31000000, iso2="DE")


def statuses(state: SandboxState) -> dict[str, int]:
    return {s["uuid"]: s["status_code"] for s in state.all_sms()}


def cancel_posts(state: SandboxState) -> list[int]:
    """The status of every batch_cancel the sandbox received (0 = it never answered)."""
    return [r.status for r in state.requests if r.method == "POST" and r.path == CANCEL_PATH]


# ----------------------------------------------------------------------------- cancel under faults


CANCEL_FAULTS: dict[str, tuple[dict[str, Any], list[int], str]] = {
    # name: (faults on batch_cancel only, statuses the sandbox should record, words the error must contain)
    "503": ({"error_rate": 1.0}, [503], "HTTP 503"),
    "500": ({"error_rate": 1.0, "error_status": 500}, [500], "HTTP 500"),
    "504": ({"error_rate": 1.0, "error_status": 504}, [504], "may have cancelled"),
    "drop": ({"drop_rate": 1.0}, [0], "may or may not"),
    "timeout": ({"slow_rate": 1.0, "slow_seconds": SLOW}, [0], "may or may not"),
}


async def confirm_cancel(client: Client, flow: str, args: dict[str, Any]) -> CallToolResult:
    """The user's yes, by token (preview first) or by dialog."""
    if flow == "token":
        preview = data_of(await client.call_tool("cancel_pending_sms", args))
        assert preview["status"] == "confirmation_required"
        return await client.call_tool(
            "cancel_pending_sms", {**args, "confirmation_token": preview["confirmation_token"]}
        )
    return await client.call_tool("cancel_pending_sms", args)


@pytest.mark.parametrize("flow", ["token", "dialog"])
@pytest.mark.parametrize("case", list(CANCEL_FAULTS))
async def test_a_failed_cancel_reports_an_error_and_never_a_count(case: str, flow: str) -> None:
    fault, expected_tries, words = CANCEL_FAULTS[case]
    state = SandboxState(seed_demo_data=False)
    uuids = schedule(state, 4)
    with SandboxServer(state) as sandbox:
        async with httpx2.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
            server = create_server(make_settings(sandbox.url), http_client=http, retry=FAST_RETRY, sandbox=True)
            callback = elicit("accept", True) if flow == "dialog" else None
            with anyio.fail_after(30):
                async with Client(server, elicitation_callback=callback) as client:
                    state.faults = Faults(only_paths=(CANCEL_PATH,), seed=1, **fault)
                    failed = await confirm_cancel(client, flow, {"callback_data": TAG})
                    tries = cancel_posts(state)
                    # The gateway recovers: the same request now reports what LOX24 really did.
                    state.faults = Faults()
                    before = statuses(state)
                    recovered = data_of(await confirm_cancel(client, flow, {"callback_data": TAG}))
        after = statuses(state)
    assert failed.is_error, text_of(failed)
    assert failed.structured_content is None, "a failed cancel carries no result object, so no count"
    text = text_of(failed)
    assert words in text and "Error executing tool cancel_pending_sms: " in text
    assert "LOX24 cancelled" not in text and not re.search(r"cancelled\D{0,3}\d", text)
    assert tries == expected_tries, "a cancel POST goes out once: a 5xx or a lost answer is never resent"
    assert "search_sms" in text, "the model is told how to see the current state"
    assert all(before[u] == 0 for u in uuids), "the faults hit before processing: nothing was cancelled"
    assert recovered["status"] == "cancelled" and recovered["cancelled"] == 4
    assert after == {**before, **dict.fromkeys(uuids, 6000)}


async def test_the_cancelled_count_is_lox24s_not_the_previews() -> None:
    """Two of five previewed SMS are stopped elsewhere before the user confirms: the result says 3, not 5."""
    state = SandboxState(seed_demo_data=False)
    uuids = schedule(state, 5)
    with SandboxServer(state) as sandbox:
        async with Client(create_server(make_settings(sandbox.url), retry=FAST_RETRY, sandbox=True)) as client:
            preview = data_of(await client.call_tool("cancel_pending_sms", {"callback_data": TAG}))
            async with httpx2.AsyncClient(timeout=5) as http:
                elsewhere = await http.post(
                    f"{sandbox.url}{CANCEL_PATH}",
                    params=[("uuid[]", uuids[0]), ("uuid[]", uuids[1])],
                    headers={"X-LOX24-AUTH-TOKEN": DEMO_TOKEN, "Accept": "application/json"},
                )
            assert elsewhere.json() == {"deleted_sms_count": 2}
            before = statuses(state)
            done = data_of(
                await client.call_tool(
                    "cancel_pending_sms", {"callback_data": TAG, "confirmation_token": preview["confirmation_token"]}
                )
            )
        after = statuses(state)
    moved = [u for u in after if before[u] == 0 and after[u] == 6000]
    assert done["matched"] == 5, "matched is what the user saw in the preview"
    assert done["cancelled"] == len(moved) == 3, "cancelled is what LOX24 reported and did"
    assert "LOX24 cancelled 3 SMS" in done["message"]


@pytest.mark.parametrize(
    "args", [{"callback_data": TAG}, {"iso2": ["DE", "AT"]}, {"cancel_all_pending": True}], ids=["tag", "iso2", "all"]
)
async def test_on_demo_data_the_cancelled_count_equals_the_sms_that_changed(
    sandbox: SandboxServer, server: MCPServer[AppState], args: dict[str, Any]
) -> None:
    before = statuses(sandbox.state)
    seen: list[str] = []
    async with Client(server, elicitation_callback=elicit("accept", True, seen)) as c:
        done = data_of(await c.call_tool("cancel_pending_sms", args))
    after = statuses(sandbox.state)
    changed = {u for u in after if after[u] != before[u]}
    assert done["status"] == "cancelled" and done["cancelled"] == len(changed) > 0
    assert all(before[u] == 0 and after[u] == 6000 for u in changed), "only pending SMS move, and only to 6000"
    assert len(seen) == 1 and seen[0].startswith(f"Cancel {done['matched']} scheduled SMS")
    assert cancel_posts(sandbox.state) == [200]


# ----------------------------------------------------------------------------- confirmation tokens


@pytest.fixture
def token_sandbox() -> Iterator[tuple[SandboxServer, list[str]]]:
    state = SandboxState(seed_demo_data=False)
    uuids = schedule(state, 3)
    with SandboxServer(state) as server:
        yield server, uuids


async def try_token(server: SandboxServer, args: dict[str, Any]) -> CallToolResult:
    """One cancel attempt from a client without dialogs; asserts that nothing was cancelled or sent."""
    before = statuses(server.state)
    server.state.reset_requests()
    with anyio.fail_after(20):
        async with Client(create_server(make_settings(server.url), sandbox=True)) as client:
            result = await client.call_tool("cancel_pending_sms", args)
    assert result.is_error or data_of(result)["status"] != "cancelled", args
    assert cancel_posts(server.state) == [], f"a cancel went out for {args}"
    assert statuses(server.state) == before
    return result


_TOKEN_CHARS = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \t\n%é\x00")


@st.composite
def mutated(draw: st.DrawFn, token: str) -> str:
    """`token` after 1–3 edits: replace, insert, delete, truncate, swap or duplicate segments, change case."""
    text = token
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "swap", "double", "case", "drop"]))
        i = draw(st.integers(0, max(0, len(text) - 1)))
        parts = text.split(".")
        if op == "replace" and text:
            text = text[:i] + draw(_TOKEN_CHARS) + text[i + 1 :]
        elif op == "insert":
            text = text[:i] + draw(_TOKEN_CHARS) + text[i:]
        elif op == "delete" and text:
            text = text[:i] + text[i + 1 :]
        elif op == "truncate":
            text = text[:i]
        elif op == "swap" and len(parts) == 3:
            text = ".".join([parts[0], parts[2], parts[1]])
        elif op == "double":
            text = text + "." + text
        elif op == "case":
            text = text.swapcase()
        elif op == "drop" and len(parts) > 1:
            del parts[draw(st.integers(0, len(parts) - 1))]
            text = ".".join(parts)
    return text


@pytest.mark.hypothesis
def test_mutated_tokens_never_cancel(token_sandbox: tuple[SandboxServer, list[str]]) -> None:
    server, _ = token_sandbox
    valid = mint(server.url, SmsFilters(callback_data=TAG))

    @PROPERTY
    @given(mutated(valid))
    def run(token: str) -> None:
        assume(token.strip() != valid)  # surrounding whitespace is forgiven on purpose

        async def check() -> None:
            result = await try_token(server, {"callback_data": TAG, "confirmation_token": token})
            if result.is_error:
                assert "Nothing was cancelled" in text_of(result), text_of(result)
            else:  # an empty token is no token: a fresh preview
                assert token.strip() == "" and data_of(result)["status"] == "confirmation_required"

        anyio.run(check)

    run()
    # The control: the same token, unmutated, does cancel (so the refusals above mean something).
    done = anyio.run(_cancel_with, server, {"callback_data": TAG, "confirmation_token": valid})
    assert done["status"] == "cancelled" and done["cancelled"] == 3


async def _cancel_with(server: SandboxServer, args: dict[str, Any]) -> dict[str, Any]:
    async with Client(create_server(make_settings(server.url), sandbox=True)) as client:
        return data_of(await client.call_tool("cancel_pending_sms", args))


_OTHER_FILTERS = st.fixed_dictionaries(
    {},
    optional={
        "callback_data": st.sampled_from([TAG, "Spring-Sale", "spring-sale ", "other", "spring"])
        | st.lists(st.sampled_from([TAG, "other"]), min_size=1, max_size=3),
        "iso2": st.sampled_from(["DE", "AT", "de"]) | st.lists(st.sampled_from(["DE", "AT"]), min_size=1, max_size=2),
        "status_code": st.sampled_from([0, 100, 6000]),
        "text": st.sampled_from(["Reminder", "r"]),
        "delivery_at": st.fixed_dictionaries({"gte": st.integers(0, 2_000_000_000)}),
        "created_at": st.fixed_dictionaries({"lt": st.integers(1, 2_000_000_000)}),
        "cancel_all_pending": st.booleans(),
        "order_by": st.just("created_at"),
    },
)


@pytest.mark.hypothesis
def test_a_valid_token_on_any_other_selection_never_cancels(token_sandbox: tuple[SandboxServer, list[str]]) -> None:
    server, _ = token_sandbox
    confirmed = SmsFilters(callback_data=TAG)
    valid = mint(server.url, confirmed)

    @PROPERTY
    @given(_OTHER_FILTERS)
    def run(args: dict[str, Any]) -> None:
        filters = {k: v for k, v in args.items() if k != "cancel_all_pending"}
        try:
            same = SmsFilters.model_validate(filters).canonical() == confirmed.canonical()
        except ValueError:
            same = False
        assume(not (same and not args.get("cancel_all_pending")))

        async def check() -> None:
            result = await try_token(server, {**args, "confirmation_token": valid})
            assert result.is_error, text_of(result)
            assert server.state.requests == [], "a refused token sends nothing at all, not even a search"

        anyio.run(check)

    run()


@pytest.mark.hypothesis
def test_expired_tokens_and_tokens_from_other_secrets_never_cancel(
    token_sandbox: tuple[SandboxServer, list[str]],
) -> None:
    server, _ = token_sandbox
    filters = SmsFilters(callback_data=TAG)

    @PROPERTY
    @given(
        st.one_of(
            st.tuples(st.just("expired"), st.integers(600, 10**7).map(lambda age: mint(server.url, filters, age=age))),
            st.tuples(
                st.just("different filters"),
                st.binary(min_size=16, max_size=64)
                .filter(lambda key: key != SECRET.encode())
                .map(lambda key: mint(server.url, filters, key=key)),
            ),
        )
    )
    def run(case: tuple[str, str]) -> None:
        reason, token = case

        async def check() -> None:
            result = await try_token(server, {"callback_data": TAG, "confirmation_token": token})
            assert result.is_error and reason in text_of(result), text_of(result)

        anyio.run(check)

    run()


async def test_a_token_with_a_non_ascii_mac_cancels_nothing_and_says_so(
    token_sandbox: tuple[SandboxServer, list[str]],
) -> None:
    server, _ = token_sandbox
    valid = mint(server.url, SmsFilters(callback_data=TAG))
    result = await try_token(server, {"callback_data": TAG, "confirmation_token": valid[:-1] + "é"})
    assert result.is_error
    assert "Nothing was cancelled" in text_of(result), text_of(result)
